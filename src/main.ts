/**
 * `orchestrator serve`: config → log → the system (system.ts composes the parts) → HTTP bind →
 * run, and the process's signal traps and exit codes. Nothing else lives here.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadOrchestratorConfig } from './config/load.js';
import { listen, type HttpHandle } from './http/index.js';
import { checkBindSafety } from './http/server.js';
import { causeOf, fatalExit, SERVE_EXIT, settle } from './fatal.js';
import { createLog, type OrchestratorLog } from './log.js';
import { pid1Plan, runUnderInit, WRAPPED_ENV } from './os/init.js';
import { RegistryError } from './store/db.js';
import { openSystem, type System } from './system.js';

export interface ServeOptions {
  config?: string;
  keepServices?: boolean;
  logStdout?: boolean;
}

/**
 * Exit codes: 0 clean, 2 bad configuration, 3 registry refused, 1 other start failure, 70 internal
 * failure, 78 PID 1 without an init (SERVE_EXIT). Every failure goes through fatalExit: the cause on
 * stderr and in the log.
 */
export async function serve(opts: ServeOptions): Promise<void> {
  let log: OrchestratorLog | undefined;
  // PID 1 with a tini at hand: stay PID 1 as a thin launcher and run the orchestrator under tini.
  const pid1 = pid1Plan();
  const wrappedBy = process.env[WRAPPED_ENV];
  delete process.env[WRAPPED_ENV]; // the launcher's mark for this process, not for its services
  if (pid1.kind === 'wrap') return runUnderInit(pid1.init, (message) => fatalExit(undefined, SERVE_EXIT.noInit, message));
  // Anything unexpected, from here on, ends the process the same way. Services already spawned
  // are left running (their own process groups, in the pid ledger) for the next start to adopt.
  process.on('uncaughtException', (err) => {
    fatalExit(log, SERVE_EXIT.internal, `uncaught exception: ${causeOf(err)}; exiting and leaving services running for the next start to adopt`, err, { stack: true });
  });
  process.on('unhandledRejection', (reason) => {
    fatalExit(log, SERVE_EXIT.internal, `unhandled promise rejection: ${causeOf(reason)}; exiting and leaving services running for the next start to adopt`, reason, { stack: true });
  });

  const configFile = resolve(opts.config ?? 'config/orchestrator.yaml');
  if (!existsSync(configFile)) fatalExit(log, SERVE_EXIT.config, `config file ${configFile} not found (use --config FILE)`);
  let config;
  try {
    config = loadOrchestratorConfig(configFile);
    checkBindSafety(config);
  } catch (e) {
    fatalExit(log, SERVE_EXIT.config, e instanceof ConfigError ? `invalid configuration:\n${e.message}` : causeOf(e));
  }
  const logFile = join(config.orchestrator.log_dir, 'orchestrator.log');
  try {
    log = createLog({ level: config.orchestrator.log_level, file: logFile, stdout: opts.logStdout ?? process.stdout.isTTY });
  } catch (e) {
    fatalExit(log, SERVE_EXIT.startFailed, `cannot write the log ${logFile}: ${causeOf(e)}`);
  }
  // The file opens asynchronously; have it open before anything can fail, so every fatal line
  // lands in it in order. A file that cannot be opened is not fatal (the own_log condition says so).
  const logProblem = await log.opened();
  if (logProblem) process.stderr.write(`orchestrator: ${logProblem}; going on without the log file\n`);
  const logger = log.logger;
  if (pid1.kind === 'refuse') fatalExit(log, SERVE_EXIT.noInit, pid1.message);
  if (pid1.kind === 'allowed') logger.warn(pid1.warning);
  if (wrappedBy) logger.info({ init: wrappedBy }, `started by the PID 1 launcher under ${wrappedBy} (a subreaper): orphaned processes are reaped`);

  let o: System;
  try {
    o = openSystem(config, log);
  } catch (e) {
    if (e instanceof RegistryError) fatalExit(log, SERVE_EXIT.registry, e.message, e);
    fatalExit(log, SERVE_EXIT.registry, `cannot open the registry: ${causeOf(e)}`, e, { stack: true });
  }

  let http: HttpHandle;
  try {
    http = await listen(o.ports, logger, { publicDir: publicDir() });
  } catch (e) {
    // Nothing was started yet (run() comes after the bind): close the registry and the pool.
    await settle(o.shutdown({ keepServices: true, reason: 'cannot listen' }));
    fatalExit(log, SERVE_EXIT.startFailed, causeOf(e), e);
  }

  let stopping = false;
  const stop = async (signal: string, code = 0) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now; running services are left for the next start to adopt');
      log.flush();
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, keepServices: !!opts.keepServices }, 'shutting down');
    http.close();
    try {
      await o.shutdown({ keepServices: opts.keepServices, reason: `orchestrator received ${signal}` });
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      code = code || 1;
    }
    log.flush();
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => {
    logger.info('SIGHUP: reloading services');
    o.fleet.reload('SIGHUP').catch((err: unknown) => logger.error({ err }, 'reload failed'));
  });
  o.onFatal((err) => {
    http.close();
    void settle(o.shutdown({ keepServices: true, reason: `actor host cannot stay up: ${err.message}` })).then(() => {
      fatalExit(log, SERVE_EXIT.internal, `actor host cannot stay up: ${err.message}; exiting and leaving services running for the next start to adopt`, err, { stack: true });
    });
  });

  try {
    await o.run();
  } catch (e) {
    // run() has already shut the orchestrator down, keeping whatever it had spawned for adoption.
    http.close();
    fatalExit(log, SERVE_EXIT.startFailed, `start failed: ${causeOf(e)}`, e, { stack: !(e instanceof RegistryError) });
  }
  const url = `http://${config.orchestrator.host.includes(':') ? `[${config.orchestrator.host}]` : config.orchestrator.host}:${http.port}`;
  logger.info({ url, config: configFile, services: o.fleet.list().length, engine: http.engine, node: process.version }, `listening on ${url} (engine ${http.engine}, Node ${process.version})`);
  if (!(opts.logStdout ?? process.stdout.isTTY)) process.stdout.write(`orchestrator listening on ${url} (engine ${http.engine}, Node ${process.version}; dashboard ${url}/, API ${url}/api/services)\n`);
}

/** public/ beside src/ and dist/ (both one level below the package root). */
function publicDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'public');
}
