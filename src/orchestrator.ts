/**
 * The orchestrator as the API, CLI and dashboard see it: the fleet's specs and latest views, and
 * the operations on them (start/stop/restart, register, update, remove, reload). It wires the
 * registry, the kernel and the actor host together; it does not decide lifecycles (actors do) and
 * does not touch processes (the kernel does).
 *
 * Queries never cross into the worker: they read the latest views the actors published.
 */
import { EventEmitter } from 'node:events';
import type { HostEntry } from './actors/host.js';
import type { ExitInfo, ServiceEvent, Want } from './actors/protocol.js';
import type { ServiceView } from './actors/protocol.js';
import { bootNow, bootToWall } from './clock.js';
import {
  checkDependencies, formatProblem, loadServiceFiles, parseServiceInput, serviceDefaults, type Problem,
} from './config/load.js';
import type { OrchestratorConfig, ServiceSpec } from './config/schema.js';
import { conflict, invalid, notFound, unavailable } from './errors.js';
import type { OrchestratorLog } from './log.js';
import { childBaseEnv, Kernel } from './os/kernel.js';
import { LogDiskGuard } from './os/log-disk.js';
import { Registry } from './store/index.js';
import type { StoredEvent } from './store/events.js';
import type { ServiceRow } from './store/services.js';
import { ActorHostSupervisor, CallError } from './workers/actor-host.js';
import { CpuPool } from './workers/cpu-pool.js';
import { OwnLogRotation } from './logs/own.js';
import { LogStore } from './logs/store.js';
import { Retention } from './store/retention.js';
import type { HostApi } from './workers/wire.js';

export interface ServiceEntry {
  spec: ServiceSpec;
  view: ServiceView;
}

export type Command = 'start' | 'stop' | 'restart';

export interface FleetSummary {
  total: number;
  by_state: Record<string, number>;
  healthy: number;
  unhealthy: number;
}

export interface ShutdownOptions {
  /** Leave services running for the next orchestrator to adopt (upgrades). */
  keepServices?: boolean;
  reason?: string;
}

/** How long a left-behind group of a service no longer defined gets between SIGTERM and SIGKILL. */
const UNKNOWN_STOP_TIMEOUT_MS = 5_000;

/** Fields whose change needs a restart of a running service; anything else applies live. */
const RESTART_FIELDS: (keyof ServiceSpec)[] = ['executable', 'environment', 'working_dir'];

export function needsRestart(before: ServiceSpec, after: ServiceSpec): boolean {
  return RESTART_FIELDS.some((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}

export class Orchestrator extends EventEmitter {
  readonly registry: Registry;
  readonly kernel: Kernel;
  private readonly logDisk: LogDiskGuard;
  readonly host: ActorHostSupervisor;
  readonly pool: CpuPool;
  readonly logs: LogStore;
  private readonly ownLog: OwnLogRotation | null;
  private readonly retention: Retention;
  private sampleFlush: NodeJS.Timeout | null = null;
  readonly startedAt = Date.now();
  readonly startedBoot = bootNow();
  /** Problems found in configuration at the last load or reload. */
  problems: Problem[] = [];
  private readonly specs = new Map<string, ServiceSpec>();
  private readonly views = new Map<string, ServiceView>();
  /** What a service's actor starts from while there is no view of it yet (boot, a service just added). */
  private readonly initial = new Map<string, { want: Want; carry?: HostEntry['carry'] }>();
  /** The lifecycle summary last written to the registry, per service, so only changes are written. */
  private readonly saved = new Map<string, string>();
  private closing: Promise<void> | null = null;
  private readonly activeConditions = new Map<string, string>();
  private summaryCache: FleetSummary | null = null;
  private running = false;

  private constructor(readonly config: OrchestratorConfig, readonly log: OrchestratorLog) {
    super();
    this.setMaxListeners(0);
    const logger = log.logger;
    this.registry = Registry.open(config.database.path, { log: logger.child({ component: 'registry' }) });
    // A registry that refuses writes holds them (store/pending-writes.ts): supervision goes on,
    // the condition shows, and an events_dropped summary reaches the feed like any event.
    this.registry.writes.on('change', (problem: string | null) => this.setCondition('registry', problem));
    this.registry.writes.on('event', (e: StoredEvent) => this.emit('event', e));
    this.kernel = new Kernel({
      logDir: config.orchestrator.log_dir,
      ledger: this.registry.runs,
      registryId: this.registry.identity(),
      log: logger,
      baseEnv: { ...childBaseEnv(), ORCHESTRATOR_URL: `http://${urlHost(config.orchestrator.host)}:${config.orchestrator.port}` },
      onFact: (fact) => {
        // Resource history is kept here, from every sample, not from the (throttled) views.
        if (fact.msg.type === 'sampled') this.registry.samples.add(fact.id, Date.now(), fact.msg.cpu, fact.msg.rss);
        this.logDisk.relay(fact);
      },
      onLogProblem: (message) => this.setCondition('log_files', message),
    });
    this.logDisk = new LogDiskGuard(config.orchestrator.log_dir, (fact) => this.host.deliver(fact), logger.child({ component: 'log-disk' }));
    this.pool = new CpuPool();
    this.logs = new LogStore(
      config.orchestrator.log_dir,
      { maxSize: config.logs.max_size, keep: config.logs.keep, maxTotal: config.logs.max_total_size },
      this.pool, logger.child({ component: 'logs' }),
      (service, stream, lines) => this.emit('lines', service, stream, lines),
      (key, message) => this.setCondition(key, message),
      (service, stream, bytes) => this.recordEvents([{ service, type: 'logs_dropped', at: bootNow(), data: { stream, bytes, reason: 'more than logs.max_total_size written since the last rotation' } }]),
    );
    log.onWriteProblem((message) => this.setCondition('own_log', message));
    this.retention = new Retention(this.registry, config.history.keep_days, logger.child({ component: 'retention' }));
    this.ownLog = log.file ? new OwnLogRotation(log.file, log, { maxSize: config.logs.max_size, keep: config.logs.keep }, this.pool) : null;
    this.host = new ActorHostSupervisor({
      config: {
        settings: {
          monitoringEnabled: config.monitoring.enabled,
          recoveryEnabled: config.recovery.enabled,
          sampleIntervalMs: config.monitoring.sample_interval * 1000,
        },
        supervision: config.supervision,
      },
      nextEpoch: () => String(this.registry.nextEpoch()),
      entries: () => this.hostEntries(),
      log: logger,
      kernel: (effects) => this.kernel.execute(effects),
      events: (events) => this.recordEvents(events),
      views: (views, removed) => this.applyViews(views, removed),
      restarted: (reason) => this.onHostRestarted(reason),
      fatal: (err) => {
        // Whoever runs the orchestrator decides what follows (`serve` exits 70, keeping services).
        logger.error({ err }, 'actor host cannot stay up');
        this.emit('fatal', err);
      },
    });
  }

  /**
   * Open the registry (refusing a locked or corrupt one) without starting anything yet, so the
   * caller can bind its port before any service runs.
   */
  static open(config: OrchestratorConfig, log: OrchestratorLog): Orchestrator {
    return new Orchestrator(config, log);
  }

  /** open() then run(). */
  static async start(config: OrchestratorConfig, log: OrchestratorLog): Promise<Orchestrator> {
    const o = Orchestrator.open(config, log);
    await o.run();
    return o;
  }

  /** Adopt what an earlier orchestrator left running, load services and start the supervision tree. */
  async run(): Promise<void> {
    try {
      this.running = true;
      await this.boot();
    } catch (e) {
      await this.shutdown({ keepServices: true, reason: `start failed: ${(e as Error).message}` }).catch(() => undefined);
      throw e;
    }
  }

  private async boot(): Promise<void> {
    const logger = this.log.logger;
    const uncleanStop = this.registry.meta('running') === '1';
    const epoch = String(this.registry.nextEpoch());
    const { adopted, vanished, leftBehind } = this.kernel.adoptFromLedger(epoch);

    const { specs, problems } = this.loadSpecs();
    this.problems = problems;
    for (const p of problems) logger.error({ problem: p }, `configuration problem: ${formatProblem(p)}`);
    const rows = new Map(this.registry.services.all().map((r) => [r.id, r]));
    const vanishedIds = new Set(vanished.map((r) => r.service));
    this.logs.start();
    this.ownLog?.start();
    this.retention.start();
    this.sampleFlush = setInterval(() => this.guard('flush resource history', () => this.registry.samples.flush(Date.now())), 15_000);
    this.sampleFlush.unref();
    for (const spec of specs) {
      this.specs.set(spec.id, spec);
      this.logs.track(spec.id);
      const start = this.startingPoint(spec, rows.get(spec.id), uncleanStop, vanishedIds.has(spec.id));
      this.initial.set(spec.id, start);
      if (spec.source === 'file') this.registry.services.upsert({ id: spec.id, source: 'file', spec: JSON.stringify(spec), want: start.want });
    }
    // Groups of ours whose runs never reached the ledger (held while the disk was full, then a
    // kill -9): stopped before any service starts, so none runs twice (os/kernel.ts stopLeftBehind).
    const orphans = await this.kernel.stopLeftBehind(leftBehind, (id) => {
      const stop = this.specs.get(id)?.stop;
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
    this.recordEvents(events);
    this.registry.setMeta('running', '1');
    await this.host.start();
    this.redeliverExits();
    // Live processes of services that no longer exist (file removed while we were down).
    for (const [id, { run }] of this.kernel.liveRuns()) {
      if (!this.specs.has(id)) {
        logger.warn({ service: id, childPid: run.pid }, 'adopted a process of a service that is no longer defined; stopping it');
        this.kernel.execute([{ type: 'signal', id, runId: run.runId, signal: 'SIGTERM' }]);
      }
    }
    logger.info({ services: specs.length, adopted: adopted.length, vanished: vanished.length, orphans: orphans.length }, 'orchestrator started');
  }

  /**
   * Where a service's actor starts at boot. After a clean stop: the last start or stop an operator
   * commanded, and auto_start only for a service never commanded. After a crash (or
   * --keep-services), the wanted state, counters and a failure are what the registry last knew; a
   * service whose process ended while we were down is restarted per its restart type.
   */
  private startingPoint(spec: ServiceSpec, row: ServiceRow | undefined, uncleanStop: boolean, vanished: boolean): { want: Want; carry?: HostEntry['carry'] } {
    const fresh: Want = spec.auto_start || spec.external ? 'up' : 'down';
    if (!row) return { want: fresh };
    if (!uncleanStop) return { want: row.commanded ?? fresh };
    let want: Want = row.want;
    const carry: NonNullable<HostEntry['carry']> = {
      restarts: row.restarts, attempts: row.attempts, lastExit: parseExit(row.last_exit),
      ...(row.state === 'failed' ? { state: 'failed' as const, reason: row.reason ?? 'failed' } : {}),
    };
    if (vanished && want === 'up') {
      carry.lastExit = { code: null, signal: null, reason: 'gone_while_down', at: bootNow(), detail: 'the process ended while the orchestrator was down' };
      if (spec.restart === 'temporary') {
        want = 'down';
        carry.state = 'failed';
        carry.reason = 'ended while the orchestrator was down (temporary: not restarted)';
      } else {
        carry.restarts++;
      }
    }
    return { want, carry };
  }

  private loadSpecs(): { specs: ServiceSpec[]; problems: Problem[] } {
    const defaults = serviceDefaults(this.config);
    const files = loadServiceFiles(this.config.orchestrator.services_dir, defaults);
    const problems = [...files.problems];
    const specs = [...files.specs];
    const fileIds = new Set(specs.map((s) => s.id));
    for (const row of this.registry.services.all()) {
      if (row.source !== 'api') continue;
      if (fileIds.has(row.id)) {
        problems.push({ field: 'id', message: `registered service "${row.id}" is shadowed by a service file of the same id` });
        continue;
      }
      const parsed = parseServiceInput(JSON.parse(row.spec), defaults, this.config.baseDir, 'api');
      if (parsed.spec) specs.push(parsed.spec);
      else problems.push(...parsed.problems.map((p) => ({ ...p, message: `registered service "${row.id}": ${p.message}` })));
    }
    const checked = checkDependencies(specs);
    return { specs: checked.specs, problems: [...problems, ...checked.problems] };
  }

  /** What the actor host should supervise: every spec, its wanted state, its live process if any. */
  private hostEntries(): HostEntry[] {
    const live = this.kernel.liveRuns();
    return [...this.specs.values()].map((spec) => {
      const view = this.views.get(spec.id);
      const run = live.get(spec.id)?.run;
      const start = this.initial.get(spec.id) ?? { want: spec.auto_start || spec.external ? 'up' : 'down' };
      const carry = view
        ? { restarts: view.restarts, attempts: view.attempts, lastExit: view.lastExit, state: view.state, reason: view.reason, health: view.health }
        : start.carry;
      return { spec, want: view?.want ?? start.want, ...(run ? { run } : {}), ...(carry ? { carry } : {}) };
    });
  }

  private onHostRestarted(reason: string): void {
    this.recordEvents([{ service: null, type: 'actor_host_restarted', at: bootNow(), data: { reason, services: this.specs.size } }]);
    this.redeliverExits();
  }

  /**
   * A new actor host adopts live runs as running; for a group whose leader is already gone (it
   * exited while the old host or orchestrator was down), tell it so it clears the group first.
   */
  private redeliverExits(): void {
    for (const [id, { run, leaderExited }] of this.kernel.liveRuns()) {
      if (leaderExited) this.host.deliver({ id, msg: { type: 'exited', runId: run.runId, code: null, signal: null, groupEmpty: false } });
    }
  }

  private recordEvents(events: ServiceEvent[]): void {
    let stored: StoredEvent[];
    try {
      stored = this.registry.events.append(events.map((e) => ({ at: Math.round(bootToWall(e.at)), service: e.service, type: e.type, data: e.data })));
    } catch (err) {
      this.log.logger.error({ err, events: events.length }, 'could not record events');
      return;
    }
    for (const e of stored) this.emit('event', e);
  }

  /** Every change of the latest views goes through here (the /health summary follows them). */
  private setView(id: string, view: ServiceView): void {
    this.views.set(id, view);
    this.summaryCache = null;
  }

  private dropView(id: string): void {
    this.views.delete(id);
    this.summaryCache = null;
  }

  private applyViews(views: ServiceView[], removed: string[]): void {
    for (const v of views) {
      this.setView(v.id, v);
      if (!this.specs.has(v.id)) continue;
      this.saveStatus(v);
    }
    for (const id of removed) this.dropView(id);
    this.emit('views', views, removed);
  }

  /**
   * Run a registry write that must not take the orchestrator down. A disk that refuses writes
   * does not throw (the write is held, and the 'registry' condition shows it); anything else is logged.
   */
  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.logger.error({ err }, `could not ${what}`);
    }
  }

  /** Persist what a restarted orchestrator needs to know about a service; only when it changed. */
  private saveStatus(v: ServiceView): void {
    const key = `${v.want}|${v.state === 'failed'}|${v.restarts}|${v.attempts}|${v.lastExit?.at ?? ''}`;
    if (this.saved.get(v.id) === key) return;
    this.saved.set(v.id, key);
    try {
      this.registry.services.saveStatus(v.id, {
        want: v.want, state: v.state, reason: v.reason, restarts: v.restarts, attempts: v.attempts,
        last_exit: v.lastExit ? JSON.stringify({ ...v.lastExit, at: Math.round(bootToWall(v.lastExit.at)) }) : null,
      });
    } catch (err) {
      this.log.logger.error({ err, service: v.id }, 'could not persist the service status');
    }
  }

  // --------------------------------------------------------------------------- queries

  /**
   * Counts by state and health, for GET /health: kept until a view changes, so a health check
   * costs the same for one service or a thousand.
   */
  summary(): FleetSummary {
    if (!this.summaryCache) {
      const byState: Record<string, number> = {};
      let healthy = 0;
      let unhealthy = 0;
      let total = 0;
      for (const { view } of this.list()) {
        total++;
        byState[view.state] = (byState[view.state] ?? 0) + 1;
        if (view.health === 'healthy') healthy++;
        else if (view.health === 'unhealthy') unhealthy++;
      }
      this.summaryCache = { total, by_state: byState, healthy, unhealthy };
    }
    return this.summaryCache;
  }

  list(): ServiceEntry[] {
    const out: ServiceEntry[] = [];
    for (const spec of this.specs.values()) {
      const view = this.views.get(spec.id);
      if (view) out.push({ spec, view });
    }
    return out;
  }

  get(id: string): ServiceEntry {
    const spec = this.specs.get(id);
    const view = this.views.get(id);
    if (!spec || !view) throw notFound(`service "${id}"`);
    return { spec, view };
  }

  has(id: string): boolean {
    return this.specs.has(id);
  }

  // --------------------------------------------------------------------------- commands

  async command(id: string, command: Command, reason = `${command} requested`): Promise<ServiceEntry> {
    const spec = this.specs.get(id);
    if (!spec) throw notFound(`service "${id}"`);
    if (spec.external) this.checkExternalCommand(spec, command);
    const view = await this.call('command', [id, command, reason]);
    this.setView(id, view);
    // Durable before the answer: an accepted start or stop survives a kill -9 right after the 202,
    // and a clean restart too (auto_start decides only for services never commanded).
    this.saveStatus(view);
    this.guard('record the command', () => this.registry.services.setCommanded(id, command === 'stop' ? 'down' : 'up'));
    return { spec, view };
  }

  /**
   * An external service runs outside the orchestrator. Without an executable nothing can be
   * started or stopped; with one, only the process the orchestrator itself started can be stopped.
   */
  private checkExternalCommand(spec: ServiceSpec, command: Command): void {
    if (!spec.executable) {
      throw conflict(`service "${spec.id}" is external (registered itself, not started by the orchestrator) and has no executable to ${command}`);
    }
    const view = this.views.get(spec.id);
    if (command !== 'start' && view && view.state === 'running' && view.pid === null) {
      throw conflict(`service "${spec.id}" is running outside the orchestrator; it cannot be ${command === 'stop' ? 'stopped' : 'restarted'} from here`);
    }
  }

  /**
   * Register a service. Re-registering an existing external service (a self-registering agent that
   * restarted) updates it instead of conflicting; `created` tells which happened.
   */
  async register(input: unknown): Promise<ServiceEntry & { created: boolean }> {
    const parsed = parseServiceInput(input, serviceDefaults(this.config), this.config.baseDir, 'api');
    if (!parsed.spec) throw invalid(parsed.problems);
    const spec = parsed.spec;
    const existing = this.specs.get(spec.id);
    if (existing?.external && spec.external && existing.source === 'api') {
      const updated = await this.update(spec.id, input as Record<string, unknown>, false);
      return { spec: updated.spec, view: updated.view, created: false };
    }
    if (existing) throw conflict(`service "${spec.id}" already exists`, 'id');
    const deps = checkDependencies([...this.specs.values(), spec]);
    const mine = deps.problems.filter((p) => !p.file && deps.specs.every((s) => s.id !== spec.id));
    if (mine.length) throw invalid(mine);
    const want: Want = spec.auto_start || spec.external ? 'up' : 'down';
    this.registry.services.upsert({ id: spec.id, source: 'api', spec: JSON.stringify(input), want });
    this.specs.set(spec.id, spec);
    this.logs.track(spec.id);
    this.initial.set(spec.id, { want });
    this.recordEvents([{ service: spec.id, type: 'registered', at: bootNow(), data: { source: 'api' } }]);
    try {
      const view = await this.call('add', [{ spec, want }]);
      this.setView(spec.id, view);
      return { spec, view, created: true };
    } catch (e) {
      this.specs.delete(spec.id);
      this.registry.services.delete(spec.id);
      throw e;
    }
  }

  /** Replace (or merge into) an API-registered service's definition; restart only if needed. */
  async update(id: string, input: Record<string, unknown>, merge: boolean): Promise<ServiceEntry & { restarted: boolean }> {
    const current = this.specs.get(id);
    if (!current) throw notFound(`service "${id}"`);
    if (current.source === 'file') throw conflict(`service "${id}" is defined in ${current.file}; edit that file and POST /api/reload`);
    if ('id' in input && input.id !== id) throw invalid([{ field: 'id', message: 'the id of a service cannot change' }]);
    const row = this.registry.services.get(id);
    const base = merge && row ? JSON.parse(row.spec) as Record<string, unknown> : {};
    const merged = { ...deepMerge(base, input), id };
    const parsed = parseServiceInput(merged, serviceDefaults(this.config), this.config.baseDir, 'api');
    if (!parsed.spec) throw invalid(parsed.problems);
    const others = [...this.specs.values()].filter((s) => s.id !== id);
    const deps = checkDependencies([...others, parsed.spec]);
    if (!deps.specs.some((s) => s.id === id)) throw invalid(deps.problems.filter((p) => !p.file));
    const restart = needsRestart(current, parsed.spec);
    this.registry.services.upsert({ id, source: 'api', spec: JSON.stringify(merged), want: this.views.get(id)?.want ?? 'up' });
    this.specs.set(id, parsed.spec);
    this.recordEvents([{ service: id, type: 'updated', at: bootNow(), data: { restart } }]);
    const view = await this.call('update', [parsed.spec, restart]);
    this.setView(id, view);
    return { spec: parsed.spec, view, restarted: restart && view.state !== 'stopped' };
  }

  async remove(id: string, opts: { allowFile?: boolean } = {}): Promise<void> {
    const spec = this.specs.get(id);
    if (!spec) throw notFound(`service "${id}"`);
    if (spec.source === 'file' && !opts.allowFile) {
      throw conflict(`service "${id}" is defined in ${spec.file}; remove that file and POST /api/reload`);
    }
    const dependents = [...this.specs.values()].filter((s) => s.depends_on.includes(id)).map((s) => s.id);
    if (dependents.length) throw conflict(`service "${id}" is required by ${dependents.join(', ')}`);
    await this.call('remove', [id], this.stopBudgetMs([spec]));
    this.specs.delete(id);
    this.dropView(id);
    this.initial.delete(id);
    this.saved.delete(id);
    this.logs.untrack(id);
    this.registry.services.delete(id);
    this.recordEvents([{ service: id, type: 'removed', at: bootNow(), data: {} }]);
  }

  /** Re-read services/ and apply only the differences (like `supervisorctl update`). */
  async reload(): Promise<{ added: string[]; removed: string[]; changed: string[]; restarted: string[]; problems: Problem[] }> {
    const { specs, problems } = this.loadSpecs();
    this.problems = problems;
    const next = new Map(specs.filter((s) => s.source === 'file').map((s) => [s.id, s]));
    const current = [...this.specs.values()].filter((s) => s.source === 'file');
    const result = { added: [] as string[], removed: [] as string[], changed: [] as string[], restarted: [] as string[], problems };
    // Only services whose files are gone are removed; a file that fails to parse keeps its service as it is.
    const brokenFiles = new Set(problems.map((p) => p.file).filter(Boolean));
    for (const spec of current) {
      if (!next.has(spec.id) && !brokenFiles.has(spec.file)) {
        await this.remove(spec.id, { allowFile: true }).catch((e: Error) => problems.push({ file: spec.file, field: '', message: `cannot remove: ${e.message}` }));
        if (!this.specs.has(spec.id)) result.removed.push(spec.id);
      }
    }
    for (const spec of next.values()) {
      const before = this.specs.get(spec.id);
      if (!before) {
        const want: Want = spec.auto_start || spec.external ? 'up' : 'down';
        this.specs.set(spec.id, spec);
        this.logs.track(spec.id);
        this.initial.set(spec.id, { want });
        this.registry.services.upsert({ id: spec.id, source: 'file', spec: JSON.stringify(spec), want });
        this.setView(spec.id, await this.call('add', [{ spec, want }]));
        result.added.push(spec.id);
      } else if (before.source === 'file' && JSON.stringify(before) !== JSON.stringify(spec)) {
        const restart = needsRestart(before, spec);
        this.specs.set(spec.id, spec);
        this.registry.services.upsert({ id: spec.id, source: 'file', spec: JSON.stringify(spec), want: this.views.get(spec.id)?.want ?? 'up' });
        this.setView(spec.id, await this.call('update', [spec, restart]));
        result.changed.push(spec.id);
        if (restart) result.restarted.push(spec.id);
      }
    }
    this.recordEvents([{ service: null, type: 'reloaded', at: bootNow(), data: { ...result, problems: problems.map(formatProblem) } }]);
    return result;
  }

  /** Stop every service (dependents first) unless keepServices, then close everything. Idempotent. */
  shutdown(opts: ShutdownOptions = {}): Promise<void> {
    this.closing ??= this.doShutdown(opts);
    return this.closing;
  }

  private async doShutdown(opts: ShutdownOptions): Promise<void> {
    const logger = this.log.logger;
    const reason = opts.reason ?? 'orchestrator shutting down';
    if (!opts.keepServices && this.running) {
      try {
        await this.call('stopAll', [reason], this.stopBudgetMs([...this.specs.values()]));
      } catch (err) {
        logger.error({ err }, 'orderly stop did not finish; killing what is left');
        for (const [id, { run }] of this.kernel.liveRuns()) this.kernel.execute([{ type: 'signal', id, runId: run.runId, signal: 'SIGKILL' }]);
      }
    }
    if (this.running) this.recordEvents([{ service: null, type: 'orchestrator_stopped', at: bootNow(), data: { reason, kept_services: !!opts.keepServices } }]);
    await this.host.stop();
    this.logs.close();
    this.ownLog?.stop();
    this.retention.stop();
    if (this.sampleFlush) clearInterval(this.sampleFlush);
    this.logDisk.close();
    this.guard('flush resource history', () => this.registry.samples.flush(Date.now(), true));
    await this.kernel.close();
    await this.pool.close().catch(() => undefined);
    if (!opts.keepServices && this.running) this.registry.setMeta('running', '0');
    this.registry.close();
    logger.info({ keepServices: !!opts.keepServices }, 'orchestrator stopped');
  }

  /** Time an orderly stop may take: each dependency level stops in turn, each within its stop timeout. */
  private stopBudgetMs(specs: ServiceSpec[]): number {
    const maxStop = Math.max(0, ...specs.map((s) => s.stop.timeout_seconds));
    const depth = (id: string, seen = new Set<string>()): number => {
      if (seen.has(id)) return 0;
      seen.add(id);
      const dependents = [...this.specs.values()].filter((s) => s.depends_on.includes(id));
      return 1 + Math.max(0, ...dependents.map((d) => depth(d.id, seen)));
    };
    const levels = Math.max(1, ...specs.map((s) => depth(s.id)));
    return levels * (maxStop * 1000 + 3000) + 5000;
  }

  /** A call into the actor host; a dead or silent host becomes a 503 for the API. */
  private async call<K extends keyof HostApi>(method: K, args: Parameters<HostApi[K]>, timeoutMs?: number): Promise<Awaited<ReturnType<HostApi[K]>>> {
    try {
      return await this.host.call(method, args, timeoutMs);
    } catch (e) {
      if (e instanceof CallError) throw unavailable(e.message);
      throw e;
    }
  }

  /** Conditions that degrade the orchestrator without stopping it (shown in /health). */
  conditions(): string[] {
    return [...this.activeConditions.values()];
  }

  /** Set (message) or clear (null) a degrading condition; each change is an event. */
  setCondition(key: string, message: string | null): void {
    const before = this.activeConditions.get(key);
    if ((before ?? null) === message) return;
    if (message === null) this.activeConditions.delete(key);
    else this.activeConditions.set(key, message);
    this.recordEvents([{ service: null, type: message === null ? 'condition_cleared' : 'condition', at: bootNow(), data: { key, message: message ?? before } }]);
  }

  hostReady(): boolean {
    return this.host.isReady;
  }

  uptimeSeconds(): number {
    return (bootNow() - this.startedBoot) / 1000;
  }
}

/** A stored last exit (wall-clock `at`) back on the boot clock. */
function parseExit(json: string | null): ExitInfo | null {
  if (!json) return null;
  try {
    const e = JSON.parse(json) as ExitInfo;
    return { ...e, at: bootNow() - Math.max(0, Date.now() - e.at) };
  } catch {
    return null;
  }
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** JSON Merge Patch (RFC 7396): objects merge, null removes a key (back to its default), the rest replaces. */
function deepMerge(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    const b = out[k];
    if (v === null) delete out[k];
    else if (typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)) {
      out[k] = deepMerge(b as Record<string, unknown>, v as Record<string, unknown>);
    } else out[k] = v;
  }
  return out;
}
