/**
 * The composition root: builds the parts of a running orchestrator and wires them, once —
 * registry → kernel (processes, logs) → actor host (the supervision tree in a worker) → fleet
 * (catalogue, views, history, commands) — and runs the boot and shutdown sequences. Nothing here
 * decides a lifecycle (actors do) or touches a process (the kernel does); the wiring below is
 * the only place a fact, an effect or a view crosses from one part to another.
 *
 * `serve` (main.ts) adds the process around it: the HTTP bind, signal traps, exit codes.
 */
import { EventEmitter } from 'node:events';
import { AlertDispatcher } from './alerts/dispatcher.js';
import { resolveSinks } from './alerts/sinks.js';
import { bootNow } from './clock.js';
import { formatProblem } from './config/load.js';
import type { OrchestratorConfig } from './config/schema.js';
import type { ServiceEvent } from './actors/protocol.js';
import { Catalog } from './fleet/catalog.js';
import { Fleet, startingPoint } from './fleet/fleet.js';
import { History } from './fleet/history.js';
import { Jobs } from './fleet/jobs.js';
import { Views } from './fleet/views.js';
import type { HttpPorts, LogLines } from './http/ports.js';
import { presentEvent, presentService } from './http/present.js';
import { queryInstances, queryLogs } from './logs/query.js';
import type { OrchestratorLog } from './log.js';
import { OwnLogRotation } from './logs/own.js';
import { LogStore } from './logs/store.js';
import { childBaseEnv, Kernel } from './os/kernel.js';
import { currentSecretValues, maskLine } from './os/secrets.js';
import { instanceId } from './config/instances.js';
import { GpuSampler } from './os/gpu.js';
import { LogDiskGuard } from './os/log-disk.js';
import { OutputNotices } from './os/output.js';
import { Registry } from './store/index.js';
import { Retention } from './store/retention.js';
import { ActorHostSupervisor } from './workers/actor-host.js';
import { CpuPool } from './workers/cpu-pool.js';

export interface ShutdownOptions {
  /** Leave services running for the next orchestrator to adopt (upgrades). */
  keepServices?: boolean;
  reason?: string;
}

/** How long a left-behind group of a service no longer defined gets between SIGTERM and SIGKILL. */
const UNKNOWN_STOP_TIMEOUT_MS = 5_000;

export interface System {
  readonly config: OrchestratorConfig;
  readonly log: OrchestratorLog;
  readonly fleet: Fleet;
  readonly catalog: Catalog;
  readonly views: Views;
  readonly history: History;
  /** What the HTTP side may reach: narrow ports, not the parts. */
  readonly ports: HttpPorts;
  readonly registry: Registry;
  readonly kernel: Kernel;
  readonly host: ActorHostSupervisor;
  readonly pool: CpuPool;
  readonly logs: LogStore;
  readonly retention: Retention;
  readonly alerts: AlertDispatcher;
  /** Wall-clock start, for /health and /metrics. */
  readonly startedAt: number;
  /** Adopt what an earlier orchestrator left running, load services and start the supervision tree. */
  run(): Promise<void>;
  /** Stop every service (dependents first) unless keepServices, then close everything. Idempotent. */
  shutdown(opts?: ShutdownOptions): Promise<void>;
  /** The actor host died too often: whoever runs the orchestrator decides what follows. */
  onFatal(fn: (err: Error) => void): void;
}

/**
 * Open the registry (refusing a locked or corrupt one) and build every part without starting
 * anything, so the caller can bind its port before any service runs.
 */
export function openSystem(config: OrchestratorConfig, log: OrchestratorLog): System {
  const logger = log.logger;
  const startedAt = Date.now();
  const startedBoot = bootNow();
  const fatal = new EventEmitter<{ fatal: [Error] }>();
  const registry = Registry.open(config.database.path, { log: logger.child({ component: 'registry' }) });
  const history = new History(registry, logger.child({ component: 'history' }));
  const record = (events: ServiceEvent[]) => history.record(events);
  const catalog = new Catalog(config, registry.services);
  const views = new Views(catalog);
  const lines: LogLines = new EventEmitter();
  lines.setMaxListeners(0);
  const pool = new CpuPool();

  // Late-bound: the kernel reports facts to the actor host, built after it.
  let host: ActorHostSupervisor | undefined;
  const output = new OutputNotices((id) => { const s = catalog.get(id)?.silence; return s ? s.timeout_seconds * 1000 : null; }, (fact) => host?.deliver(fact));
  const logDisk = new LogDiskGuard(config.orchestrator.log_dir, (fact) => host?.deliver(fact), logger.child({ component: 'log-disk' }));
  // Every child is told where the orchestrator is (the port the server got: see listening below).
  const baseEnv = { ...childBaseEnv(), ORCHESTRATOR_URL: orchestratorUrl(config.orchestrator.host, config.orchestrator.port) };
  const kernel = new Kernel({
    logDir: config.orchestrator.log_dir,
    ledger: registry.runs,
    registryId: registry.identity(),
    log: logger,
    baseEnv,
    onFact: (fact) => {
      if (fact.msg.type === 'sampled') history.sample(fact.id, fact.msg.cpu, fact.msg.rss, fact.msg.cpuSeconds ?? 0);
      else if (fact.msg.type === 'probed') history.probed(fact.id, fact.msg.kind, fact.msg.latencyMs);
      logDisk.relay(fact);
    },
    onLogProblem: (message) => history.setCondition('log_files', message),
  });
  const logs = new LogStore(
    config.orchestrator.log_dir,
    { maxSize: config.logs.max_size, keep: config.logs.keep, maxTotal: config.logs.max_total_size },
    pool, logger.child({ component: 'logs' }),
    // The feed's logs/<id> topic gets the lines with the service's secret values masked.
    (service, stream, batch) => lines.emit('lines', service, stream, maskBatch(service, batch)),
    (key, message) => history.setCondition(key, message),
    (service, stream, bytes) => record([{ service, type: 'logs_dropped', at: bootNow(), data: { stream, bytes, reason: 'more than logs.max_total_size written since the last rotation' } }]),
    (service) => output.wrote(service),
  );
  log.onWriteProblem((message) => history.setCondition('own_log', message));
  const retention = new Retention(registry, config.history.keep_days, logger.child({ component: 'retention' }));
  const alerts = new AlertDispatcher({
    sinks: resolveSinks(config.alerts, process.env),
    store: registry.alerts,
    log: logger.child({ component: 'alerts' }),
    orchestrator: () => ({ name: config.orchestrator.name, url: baseEnv.ORCHESTRATOR_URL }),
    present: { event: presentEvent, service: (id) => (fleet?.has(id) ? presentService(fleet.get(id)) : null) },
    record,
    keepDays: config.history.keep_days,
  });
  // Matched in the same call that records the event: its outbox row is written before record() returns.
  history.on('event', (e) => alerts.consider(e));
  // A removed service's secret values are forgotten with it.
  history.on('event', (e) => { if (e.type === 'removed' && e.service) kernel.masks.forget(e.service); });
  // Log reads wait until boot has loaded the masks (os/secrets.ts currentSecretValues), or shutdown.
  let masksLoaded!: () => void;
  const masksReady = new Promise<void>((resolve) => { masksLoaded = resolve; });
  const maskBatch = (service: string, batch: string[]) => {
    const values = kernel.masks.values(service);
    return values.length ? batch.map((l) => maskLine(l, values)) : batch;
  };
  const ownLog = log.file ? new OwnLogRotation(log.file, log, { maxSize: config.logs.max_size, keep: config.logs.keep }, pool) : null;

  let fleet: Fleet | undefined;
  const actorHost = new ActorHostSupervisor({
    config: {
      settings: {
        monitoringEnabled: config.monitoring.enabled,
        recoveryEnabled: config.recovery.enabled,
        sampleIntervalMs: config.monitoring.sample_interval * 1000,
      },
      supervision: config.supervision,
    },
    nextEpoch: () => String(registry.nextEpoch()),
    entries: () => fleet!.hostEntries(),
    log: logger,
    kernel: (effects) => kernel.execute(effects),
    events: record,
    views: (batch, removed) => {
      for (const v of batch) if (catalog.has(v.id)) history.saveStatus(v);
      views.apply(batch, removed);
    },
    restarted: (reason) => {
      record([{ service: null, type: 'actor_host_restarted', at: bootNow(), data: { reason, services: catalog.size } }]);
      redeliverExits();
    },
    fatal: (err) => {
      logger.error({ err }, 'actor host cannot stay up');
      fatal.emit('fatal', err);
    },
  });
  host = actorHost;
  let jobs: Jobs | undefined;
  fleet = new Fleet({ catalog, views, history, host: actorHost, logs, liveRuns: () => kernel.liveRuns(), defined: (id) => jobs?.sync(id), log: logger.child({ component: 'fleet' }) });
  const theFleet = fleet;
  jobs = new Jobs({
    specs: () => catalog.all(),
    spec: (id) => catalog.get(id),
    view: (id) => views.peek(id),
    command: (id, command, reason, actor) => theFleet.command(id, command, reason, actor),
    record,
    lastRunStart: (id) => registry.runs.history(id, 1)[0]?.started_at ?? null,
    changed: (id) => views.touch(id),
    log: logger.child({ component: 'jobs' }),
  });
  const theJobs = jobs;
  views.nextRun = (id) => theJobs.nextRunAt(id);
  const gpu = new GpuSampler({
    intervalMs: config.monitoring.sample_interval * 1000,
    runs: () => [...kernel.liveRuns()].filter(([id]) => catalog.get(id)?.gpus).map(([id, { run }]) => ({ id, run })),
    changed: (id) => views.touch(id),
    log: logger.child({ component: 'gpu' }),
  });
  views.gpuMemory = (id) => gpu.memory(id);

  /**
   * A new actor host adopts live runs as running; for a group whose leader is already gone (it
   * exited while the old host or orchestrator was down), tell it so it clears the group first.
   */
  const redeliverExits = () => {
    for (const [id, { run, leaderExited }] of kernel.liveRuns()) {
      if (leaderExited) actorHost.deliver({ id, msg: { type: 'exited', runId: run.runId, code: null, signal: null, groupEmpty: false } });
    }
  };

  let running = false;
  const boot = async () => {
    const uncleanStop = registry.meta('running') === '1';
    const epoch = String(registry.nextEpoch());
    const { adopted, vanished, leftBehind } = kernel.adoptFromLedger(epoch);
    const { specs, problems } = catalog.load();
    for (const p of problems) logger.error({ problem: p }, `configuration problem: ${formatProblem(p)}`);
    // Lines written by runs under an earlier orchestrator (adopted ones, or stopped ones) hold values
    // this process never read: mask what the {file} and {env} secrets hold now, before any log is served.
    await Promise.all(specs.filter((s) => Object.keys(s.secrets).length).map(async (spec) => {
      const values = await currentSecretValues(spec, process.env);
      // A replicated service's instances write their own logs: each gets the masks.
      for (const id of spec.replicas === undefined ? [spec.id] : Array.from({ length: spec.replicas }, (_, n) => instanceId(spec.id, n))) kernel.masks.add(id, values);
    })).finally(masksLoaded);
    const rows = new Map(registry.services.all().map((r) => [r.id, r]));
    const vanishedIds = new Set(vanished.map((r) => r.service));
    logs.start();
    ownLog?.start();
    retention.start();
    history.start();
    for (const { sink, problem } of alerts.start()) history.setCondition(`alerts:${sink}`, `alert sink ${sink}: ${problem}`);
    for (const spec of specs) {
      const row = rows.get(spec.id);
      const start = startingPoint(spec, row, uncleanStop, vanishedIds.has(spec.id));
      // A file service's definition is written at every boot; an API service's stays as given.
      const { after: units } = spec.source === 'file' ? catalog.put(spec, start.want) : catalog.keep(spec);
      // Instances have no row of their own: they start from their service's.
      for (const unit of units) {
        theFleet.define(unit, unit.id === spec.id ? start : startingPoint(unit, row, uncleanStop, vanishedIds.has(unit.id)));
      }
    }
    // Groups of ours whose runs never reached the ledger (held while the disk was full, then a
    // kill -9): stopped before any service starts, so none runs twice (os/kernel.ts stopLeftBehind).
    const orphans = await kernel.stopLeftBehind(leftBehind, (id) => {
      const stop = catalog.get(id)?.stop;
      return stop ? { signal: stop.signal, timeoutMs: stop.timeout_seconds * 1000 } : { signal: 'SIGTERM', timeoutMs: UNKNOWN_STOP_TIMEOUT_MS };
    });
    const events: ServiceEvent[] = [{
      service: null, type: 'orchestrator_started', at: bootNow(),
      data: { pid: process.pid, services: specs.length, adopted: adopted.length, unclean_previous_stop: uncleanStop, problems: problems.map(formatProblem) },
    }];
    for (const row of vanished) {
      events.push({ service: row.service, type: 'gone_while_down', at: bootNow(), data: { pid: row.pid, started_at: row.started_at } });
    }
    for (const g of orphans) {
      events.push({ service: g.service, type: 'orphan_stopped', at: bootNow(), data: { pid: g.pid, pgid: g.pgid, run_mark: g.mark, signal: g.signal, gone: g.gone } });
    }
    record(events);
    registry.setMeta('running', '1');
    await actorHost.start();
    redeliverExits();
    // Live processes of services that no longer exist (file removed while we were down).
    for (const [id, { run }] of kernel.liveRuns()) {
      if (!catalog.has(id)) {
        logger.warn({ service: id, childPid: run.pid }, 'adopted a process of a service that is no longer defined; stopping it');
        kernel.execute([{ type: 'signal', id, runId: run.runId, signal: 'SIGTERM' }]);
      }
    }
    theJobs.start();
    gpu.start();
    logger.info({ services: specs.length, adopted: adopted.length, vanished: vanished.length, orphans: orphans.length }, 'orchestrator started');
  };

  const close = async (opts: ShutdownOptions) => {
    masksLoaded();
    const reason = opts.reason ?? 'orchestrator shutting down';
    theJobs.stop();
    gpu.stop();
    theFleet.close();
    if (!opts.keepServices && running) {
      try {
        await theFleet.stopAll(reason);
      } catch (err) {
        logger.error({ err }, 'orderly stop did not finish; killing what is left');
        for (const [id, { run }] of kernel.liveRuns()) kernel.execute([{ type: 'signal', id, runId: run.runId, signal: 'SIGKILL' }]);
      }
    }
    if (running) record([{ service: null, type: 'orchestrator_stopped', at: bootNow(), data: { reason, kept_services: !!opts.keepServices } }]);
    await actorHost.stop();
    alerts.stop();
    logs.close();
    ownLog?.stop();
    retention.stop();
    logDisk.close();
    history.stop();
    await kernel.close();
    await pool.close().catch(() => undefined);
    if (!opts.keepServices && running) registry.setMeta('running', '0');
    registry.close();
    logger.info({ keepServices: !!opts.keepServices }, 'orchestrator stopped');
  };

  let closing: Promise<void> | null = null;
  const shutdown = (opts: ShutdownOptions = {}) => (closing ??= close(opts));

  const ports: HttpPorts = {
    config,
    fleet: theFleet,
    events: history.events,
    runs: registry.runs,
    history,
    alerts,
    feed: { history, views, lines },
    logs: {
      follow: (id) => logs.follow(id),
      unfollow: (id) => logs.unfollow(id),
      query: async (id, q) => {
        await masksReady;
        if (catalog.isReplicated(id)) return queryInstances(logs, pool, catalog.unitsOf(id).map((u) => ({ id: u.id, mask: kernel.masks.values(u.id) })), q);
        return queryLogs(logs, pool, id, q, kernel.masks.values(id));
      },
    },
    agents: {
      tokenOwner: (id, token) => kernel.tokenOwner(id, token),
      tell: (id, msg) => actorHost.deliver({ id, msg }),
    },
    status: {
      listening: (port) => { baseEnv.ORCHESTRATOR_URL = orchestratorUrl(config.orchestrator.host, port); },
      startedAt,
      uptimeSeconds: () => (bootNow() - startedBoot) / 1000,
      hostReady: () => actorHost.isReady,
      benchEvents: (rate, seconds) => actorHost.benchEvents(rate, seconds),
      feedClients: () => 0,
    },
  };

  return {
    config, log, fleet: theFleet, catalog, views, history, ports, registry, kernel, host: actorHost, pool, logs, retention, alerts, startedAt,
    run: async () => {
      try {
        running = true;
        await boot();
      } catch (e) {
        await shutdown({ keepServices: true, reason: `start failed: ${(e as Error).message}` }).catch(() => undefined);
        throw e;
      }
    },
    shutdown,
    onFatal: (fn) => void fatal.on('fatal', fn),
  };
}

/** Build and run: what tests and embedders call when they do not bind a port first. */
export async function startSystem(config: OrchestratorConfig, log: OrchestratorLog): Promise<System> {
  const system = openSystem(config, log);
  await system.run();
  return system;
}

/** The URL a child reaches the orchestrator at (ORCHESTRATOR_URL): a wildcard bind is reached on loopback. */
function orchestratorUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}
