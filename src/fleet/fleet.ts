/**
 * The fleet as the API, CLI and dashboard operate it: start/stop/restart, register, update,
 * remove, reload, and the queries over the latest views. Each command checks the change with the
 * catalogue, records it, and carries it to the actors through one call into the actor host; the
 * actors decide lifecycles, the kernel touches processes, neither is reached from here directly.
 */
import type { Command, ExitInfo, HostEntry, RunInfo, Want } from '../actors/protocol.js';
import { bootNow } from '../clock.js';
import { formatProblem, type Problem } from '../config/load.js';
import type { ServiceSpec } from '../config/schema.js';
import { conflict, unavailable } from '../errors.js';
import type { ServiceRow } from '../store/services.js';
import { CallError, type ActorHostSupervisor } from '../workers/actor-host.js';
import type { HostApi } from '../workers/wire.js';
import { freshWant, type Catalog } from './catalog.js';
import type { History } from './history.js';
import type { FleetSummary, ServiceEntry, Views } from './views.js';

/** The actor of a change nobody asked for over the API (SIGHUP's reload, tests). */
export const SYSTEM_ACTOR = 'orchestrator';

/** Where a service's actor starts while there is no view of it yet (boot, a service just added). */
export interface StartingPoint {
  want: Want;
  carry?: HostEntry['carry'];
}

export interface FleetParts {
  catalog: Catalog;
  views: Views;
  history: History;
  host: ActorHostSupervisor;
  /** Log files follow the catalogue: a service's logs are kept while it is defined. */
  logs: { track(id: string): void; untrack(id: string): void };
  /** The processes that live now, for the actor host to adopt when it (re)starts. */
  liveRuns(): ReadonlyMap<string, { run: RunInfo }>;
  /** A service was added, changed or removed (the schedules follow: fleet/jobs.ts). */
  defined?(id: string): void;
}

export interface ReloadResult {
  added: string[];
  removed: string[];
  changed: string[];
  restarted: string[];
  problems: Problem[];
}

export class Fleet {
  private readonly catalog: Catalog;
  private readonly views: Views;
  private readonly history: History;
  private readonly starts = new Map<string, StartingPoint>();

  constructor(private readonly parts: FleetParts) {
    ({ catalog: this.catalog, views: this.views, history: this.history } = parts);
  }

  // --------------------------------------------------------------------------- queries

  list(): ServiceEntry[] {
    return this.views.list();
  }

  get(id: string): ServiceEntry {
    return this.views.get(id);
  }

  has(id: string): boolean {
    return this.catalog.has(id);
  }

  summary(): FleetSummary {
    return this.views.summary();
  }

  /** Problems found in configuration at the last load or reload. */
  get problems(): Problem[] {
    return this.catalog.problems;
  }

  // --------------------------------------------------------------------------- the actor host's side

  /** A service joins the fleet: defined, its logs kept, its actor to start from `start`. */
  define(spec: ServiceSpec, start: StartingPoint): void {
    this.starts.set(spec.id, start);
    this.parts.logs.track(spec.id);
  }

  /** What the actor host should supervise: every spec, its wanted state, its live process if any. */
  hostEntries(): HostEntry[] {
    const live = this.parts.liveRuns();
    return [...this.catalog.all()].map((spec) => {
      const view = this.views.peek(spec.id);
      const run = live.get(spec.id)?.run;
      const start = this.starts.get(spec.id) ?? { want: freshWant(spec) };
      const carry = view
        ? { restarts: view.restarts, attempts: view.attempts, lastExit: view.lastExit, state: view.state, reason: view.reason, health: view.health }
        : start.carry;
      return { spec, want: view?.want ?? start.want, ...(run ? { run } : {}), ...(carry ? { carry } : {}) };
    });
  }

  // --------------------------------------------------------------------------- commands

  /**
   * Every command takes the `actor` that asked: the name of the API key (auth.ts; "anonymous" on
   * an open API), recorded in the event of what it changed.
   */
  async command(id: string, command: Command, reason = `${command} requested`, actor = SYSTEM_ACTOR): Promise<ServiceEntry> {
    const spec = this.catalog.require(id);
    if (spec.external) this.checkExternalCommand(spec, command);
    const view = await this.call('command', [id, command, reason]);
    this.views.set(id, view);
    this.history.record([{ service: id, type: 'command', at: bootNow(), data: { command, actor } }]);
    // Durable before the answer: an accepted start or stop survives a kill -9 right after the 202,
    // and a clean restart too (auto_start decides only for services never commanded).
    this.history.saveStatus(view);
    this.history.saveCommanded(id, command === 'stop' ? 'down' : 'up');
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
    const view = this.views.peek(spec.id);
    if (command !== 'start' && view && view.state === 'running' && view.pid === null) {
      throw conflict(`service "${spec.id}" is running outside the orchestrator; it cannot be ${command === 'stop' ? 'stopped' : 'restarted'} from here`);
    }
  }

  /**
   * Register a service. Re-registering an existing external service (a self-registering agent that
   * restarted) updates it instead of conflicting; `created` tells which happened.
   */
  async register(input: unknown, actor = SYSTEM_ACTOR): Promise<ServiceEntry & { created: boolean }> {
    const { spec, reregister } = this.catalog.parseNew(input);
    if (reregister) {
      const updated = await this.update(spec.id, input as Record<string, unknown>, false, actor);
      return { spec: updated.spec, view: updated.view, created: false };
    }
    const want = freshWant(spec);
    this.catalog.put(spec, want, input);
    this.define(spec, { want });
    this.history.record([{ service: spec.id, type: 'registered', at: bootNow(), data: { source: 'api', actor } }]);
    try {
      const view = await this.call('add', [{ spec, want }]);
      this.views.set(spec.id, view);
      this.parts.defined?.(spec.id);
      return { spec, view, created: true };
    } catch (e) {
      this.catalog.delete(spec.id);
      throw e;
    }
  }

  /** Replace (or merge into) an API-registered service's definition; restart only if needed. */
  async update(id: string, input: Record<string, unknown>, merge: boolean, actor = SYSTEM_ACTOR): Promise<ServiceEntry & { restarted: boolean }> {
    const next = this.catalog.parseUpdate(id, input, merge);
    this.catalog.put(next.spec, this.views.peek(id)?.want ?? 'up', next.input);
    this.history.record([{ service: id, type: 'updated', at: bootNow(), data: { restart: next.restart, actor } }]);
    const view = await this.call('update', [next.spec, next.restart]);
    this.views.set(id, view);
    this.parts.defined?.(id);
    return { spec: next.spec, view, restarted: next.restart && view.state !== 'stopped' };
  }

  async remove(id: string, opts: { allowFile?: boolean; actor?: string } = {}): Promise<void> {
    const spec = this.catalog.checkRemovable(id, !!opts.allowFile);
    await this.call('remove', [id], this.catalog.stopBudgetMs([spec]));
    this.catalog.delete(id);
    this.views.drop(id);
    this.starts.delete(id);
    this.history.forget(id);
    this.parts.logs.untrack(id);
    this.parts.defined?.(id);
    this.history.record([{ service: id, type: 'removed', at: bootNow(), data: { actor: opts.actor ?? SYSTEM_ACTOR } }]);
  }

  /** Re-read services/ and apply only the differences (like `supervisorctl update`). */
  async reload(actor = SYSTEM_ACTOR): Promise<ReloadResult> {
    const plan = this.catalog.plan(this.catalog.load());
    const { problems } = plan;
    const result: ReloadResult = { added: [], removed: [], changed: [], restarted: [], problems };
    for (const spec of plan.removed) {
      await this.remove(spec.id, { allowFile: true, actor }).catch((e: Error) => problems.push({ file: spec.file, field: '', message: `cannot remove: ${e.message}` }));
      if (!this.catalog.has(spec.id)) result.removed.push(spec.id);
    }
    for (const spec of plan.added) {
      const want = freshWant(spec);
      this.catalog.put(spec, want);
      this.define(spec, { want });
      this.views.set(spec.id, await this.call('add', [{ spec, want }]));
      result.added.push(spec.id);
    }
    for (const { spec, restart } of plan.changed) {
      this.catalog.put(spec, this.views.peek(spec.id)?.want ?? 'up');
      this.views.set(spec.id, await this.call('update', [spec, restart]));
      result.changed.push(spec.id);
      if (restart) result.restarted.push(spec.id);
    }
    for (const id of [...result.added, ...result.changed]) this.parts.defined?.(id);
    this.history.record([{ service: null, type: 'reloaded', at: bootNow(), data: { ...result, problems: problems.map(formatProblem), actor } }]);
    return result;
  }

  /** Stop every service, dependents first, within the time their stop timeouts add up to. */
  async stopAll(reason: string): Promise<void> {
    await this.call('stopAll', [reason], this.catalog.stopBudgetMs([...this.catalog.all()]));
  }

  /** A call into the actor host; a dead or silent host becomes a 503 for the API. */
  private async call<K extends keyof HostApi>(method: K, args: Parameters<HostApi[K]>, timeoutMs?: number): Promise<Awaited<ReturnType<HostApi[K]>>> {
    try {
      return await this.parts.host.call(method, args, timeoutMs);
    } catch (e) {
      if (e instanceof CallError) throw unavailable(e.message);
      throw e;
    }
  }
}

/**
 * Where a service's actor starts at boot. After a clean stop: the last start or stop an operator
 * commanded, and auto_start only for a service never commanded. After a crash (or
 * --keep-services), the wanted state, counters and a failure are what the registry last knew; a
 * service whose process ended while we were down is restarted per its restart type.
 */
export function startingPoint(spec: ServiceSpec, row: ServiceRow | undefined, uncleanStop: boolean, vanished: boolean): StartingPoint {
  const fresh = freshWant(spec);
  if (!row) return { want: fresh };
  // A job between runs waits for its schedule, whatever was commanded (a live run is adopted all the same).
  if (!uncleanStop) return { want: spec.schedule ? 'down' : row.commanded ?? fresh };
  let want: Want = spec.schedule ? 'down' : row.want;
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

