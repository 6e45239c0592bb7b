/**
 * Composition root of `orchestrator serve`: config → registry → HTTP bind → supervision tree,
 * and the process's signal traps. Nothing else lives here.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadOrchestratorConfig } from './config/load.js';
import { listen, type HttpHandle } from './http/index.js';
import { checkBindSafety } from './http/server.js';
import { createLog } from './log.js';
import { Orchestrator } from './orchestrator.js';
import { RegistryError } from './store/db.js';

export interface ServeOptions {
  config?: string;
  keepServices?: boolean;
  logStdout?: boolean;
}

/** Exit codes: 0 clean, 2 bad configuration, 3 registry refused, 1 other start failure, 70 internal failure. */
export async function serve(opts: ServeOptions): Promise<void> {
  const configFile = resolve(opts.config ?? 'config/orchestrator.yaml');
  if (!existsSync(configFile)) {
    process.stderr.write(`orchestrator: config file ${configFile} not found (use --config FILE)\n`);
    process.exit(2);
  }
  let config;
  try {
    config = loadOrchestratorConfig(configFile);
    checkBindSafety(config);
  } catch (e) {
    process.stderr.write(e instanceof ConfigError ? `orchestrator: invalid configuration:\n${e.message}\n` : `orchestrator: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const log = createLog({
    level: config.orchestrator.log_level,
    file: join(config.orchestrator.log_dir, 'orchestrator.log'),
    stdout: opts.logStdout ?? process.stdout.isTTY,
  });
  const logger = log.logger;

  let o: Orchestrator;
  try {
    o = Orchestrator.open(config, log);
  } catch (e) {
    const msg = e instanceof RegistryError ? e.message : `cannot open the registry: ${(e as Error).message}`;
    logger.fatal({ err: e }, msg);
    log.flush();
    process.stderr.write(`orchestrator: ${msg}\n`);
    process.exit(3);
  }

  let http: HttpHandle;
  try {
    http = await listen(o, logger, { publicDir: publicDir() });
  } catch (e) {
    logger.fatal({ err: e }, 'cannot listen');
    await o.shutdown({ keepServices: true });
    log.flush();
    process.stderr.write(`orchestrator: ${(e as Error).message}\n`);
    process.exit(1);
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
    o.reload().catch((err: unknown) => logger.error({ err }, 'reload failed'));
  });
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception; exiting and leaving services running for the next start to adopt');
    log.flush();
    process.exit(70);
  });
  o.on('fatal', () => {
    http.close();
    void o.shutdown({ keepServices: true }).finally(() => { log.flush(); process.exit(70); });
  });

  try {
    await o.run();
  } catch (e) {
    logger.fatal({ err: e }, 'start failed');
    http.close();
    log.flush();
    process.stderr.write(`orchestrator: start failed: ${(e as Error).message}\n`);
    process.exit(1);
  }
  const url = `http://${config.orchestrator.host.includes(':') ? `[${config.orchestrator.host}]` : config.orchestrator.host}:${http.port}`;
  logger.info({ url, config: configFile, services: o.list().length }, 'listening');
  if (!(opts.logStdout ?? process.stdout.isTTY)) process.stdout.write(`orchestrator listening on ${url} (dashboard ${url}/, API ${url}/api/services)\n`);
}

/** public/ beside src/ and dist/ (both one level below the package root). */
function publicDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'public');
}
