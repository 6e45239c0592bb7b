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
import { freshWant, type Catalog, type UnitChange } from './catalog.js';
import { parseInstanceId, type UnitSpec } from './replicas.js';
import { Rollouts, type RolloutStatus } from './rollout.js';
import type { Logger } from '../log.js';
import type { History } from './history.js';
import { aggregateView, type FleetSummary, type ServiceEntry, type Views } from './views.js';

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
  log: Logger;
}

/** A replicated service: its definition and the entries of its instances, by index. */
export interface GroupEntry {
  spec: ServiceSpec;
  instances: ServiceEntry[];
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
  private readonly rollouts: Rollouts;

  constructor(private readonly parts: FleetParts) {
    ({ catalog: this.catalog, views: this.views, history: this.history } = parts);
    this.rollouts = new Rollouts({
      views: this.views,
      definition: (id) => this.catalog.definition(id),
      unitIds: (id) => this.unitIds(id),
      command: (id, command, reason, actor) => this.command(id, command, reason, actor),
      record: (events) => this.history.record(events),
      log: parts.log,
    });
  }

  /** Rolling restarts under way end where they are (shutdown). */
  close(): void {
    this.rollouts.close();
  }

  // --------------------------------------------------------------------------- queries

  list(): ServiceEntry[] {
    return this.views.list();
  }

  /** A unit's entry, or a replicated service's (its view made of its instances'). */
  get(id: string): ServiceEntry {
    const def = this.catalog.isReplicated(id) ? this.catalog.definition(id) : undefined;
    return def ? this.entryOf(def) : this.views.get(id);
  }

  /** A unit (a service, or an instance of a replicated one) or a replicated service. */
  has(id: string): boolean {
    return this.catalog.has(id) || this.catalog.isReplicated(id);
  }

  /** Every service's definition as configured (a replicated one once, with `replicas`). */
  definitions(): ServiceSpec[] {
    return [...this.catalog.definitions()];
  }

  /** Is `id` a replicated service (addressed as a whole: its instances are `<id>#n`)? */
  isGroup(id: string): boolean {
    return this.catalog.isReplicated(id);
  }

  /** A replicated service with its instances as they are now. */
  group(id: string): GroupEntry {
    const spec = this.catalog.requireDefinition(id);
    const instances = this.catalog.unitsOf(id).flatMap((u) => (this.views.peek(u.id) ? [this.views.get(u.id)] : []));
    return { spec, instances };
  }

  /** The unit ids a command on `id` reaches: the instances of a replicated service, else itself. */
  unitIds(id: string): string[] {
    return this.catalog.isReplicated(id) ? this.catalog.unitsOf(id).map((u) => u.id) : [this.catalog.require(id).id];
  }

  summary(): FleetSummary {
    return this.views.summary();
  }

  /** Problems found in configuration at the last load or reload. */
  get problems(): Problem[] {
    return this.catalog.problems;
  }

  // --------------------------------------------------------------------------- the actor host's side

  /** A unit joins the fleet: defined, its logs kept, its actor to start from `start`. */
  define(unit: UnitSpec, start: StartingPoint): void {
    this.starts.set(unit.id, start);
    this.parts.logs.track(unit.id);
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
    const view = await this.commandUnit(id, command, reason);
    this.history.record([{ service: id, type: 'command', at: bootNow(), data: { command, actor } }]);
    // A command to one instance is not remembered across a clean restart (its service's is).
    if (!parseInstanceId(id)) this.history.saveCommanded(id, command === 'stop' ? 'down' : 'up');
    return { spec, view };
  }

  /** Start, stop or restart every instance of a replicated service (a rolling restart: fleet/rollout.ts). */
  async commandGroup(id: string, command: Command, reason = `${command} requested`, actor = SYSTEM_ACTOR): Promise<GroupEntry> {
    this.catalog.requireDefinition(id);
    for (const unit of this.catalog.unitsOf(id)) await this.commandUnit(unit.id, command, reason);
    this.history.record([{ service: id, type: 'command', at: bootNow(), data: { command, actor } }]);
    this.history.saveCommanded(id, command === 'stop' ? 'down' : 'up');
    return this.group(id);
  }

  private async commandUnit(id: string, command: Command, reason: string) {
    const view = await this.call('command', [id, command, reason]);
    this.views.set(id, view);
    // Durable before the answer: an accepted start or stop survives a kill -9 right after the 202,
    // and a clean restart too (auto_start decides only for services never commanded).
    this.history.saveStatus(view);
    return view;
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
    const change = this.catalog.put(spec, want, input);
    this.history.record([{ service: spec.id, type: 'registered', at: bootNow(), data: { source: 'api', actor } }]);
    try {
      await this.applyUnits(change, false, want);
      this.parts.defined?.(spec.id);
      return { ...this.entryOf(spec), created: true };
    } catch (e) {
      this.catalog.delete(spec.id);
      throw e;
    }
  }

  /**
   * The entry of a service: its own, or for a replicated one a view made of its instances'
   * (views.ts aggregateView; GET /api/services/{id} shows each instance too).
   */
  entryOf(spec: ServiceSpec): ServiceEntry {
    if (!this.catalog.isReplicated(spec.id)) return this.views.get(spec.id);
    const views = this.group(spec.id).instances.map((i) => i.view);
    return { spec, view: aggregateView(spec.id, views, freshWant(spec)) };
  }

  /**
   * Carry a definition's change of units to the actors: gone instances removed (highest index
   * first), new ones added with the service's wanted state, the rest updated (restarted only if
   * `restart`). Scaling touches no instance that stays.
   */
  private async applyUnits(change: UnitChange, restart: boolean, want: Want): Promise<void> {
    const after = new Set(change.after.map((u) => u.id));
    const before = new Map(change.before.map((u) => [u.id, u]));
    const gone = change.before.filter((u) => !after.has(u.id)).reverse();
    for (const unit of gone) {
      await this.call('remove', [unit.id], this.catalog.stopBudgetMs([unit]));
      this.forgetUnit(unit.id);
    }
    for (const unit of change.after) {
      const old = before.get(unit.id);
      if (!old) {
        this.define(unit, { want });
        this.views.set(unit.id, await this.call('add', [{ spec: unit, want }]));
      } else if (JSON.stringify(old) !== JSON.stringify(unit)) {
        this.views.set(unit.id, await this.call('update', [unit, restart]));
      }
    }
  }

  private forgetUnit(id: string): void {
    this.views.drop(id);
    this.starts.delete(id);
    this.history.forget(id);
    this.parts.logs.untrack(id);
  }

  /** The state new instances of a service start in: that of its instances now, else a fresh one's. */
  private wantOf(spec: ServiceSpec): Want {
    for (const unit of this.catalog.unitsOf(spec.id)) {
      const view = this.views.peek(unit.id);
      if (view) return view.want;
    }
    return freshWant(spec);
  }

  /** Replace (or merge into) an API-registered service's definition; restart only if needed. */
  async update(id: string, input: Record<string, unknown>, merge: boolean, actor = SYSTEM_ACTOR): Promise<ServiceEntry & { restarted: boolean }> {
    const next = this.catalog.parseUpdate(id, input, merge);
    const want = this.wantOf(this.catalog.requireDefinition(id));
    const change = this.catalog.put(next.spec, want, next.input);
    const rolling = next.restart && this.catalog.isReplicated(id);
    this.history.record([{ service: id, type: 'updated', at: bootNow(), data: { restart: next.restart, ...(rolling ? { rolling } : {}), actor } }]);
    // A replicated service is rolled one instance at a time, not restarted all at once.
    await this.applyUnits(change, next.restart && !rolling, want);
    if (rolling) this.roll(id, actor);
    this.parts.defined?.(id);
    const entry = this.entryOf(next.spec);
    return { ...entry, restarted: next.restart && entry.view.state !== 'stopped' };
  }

  /** Roll a replicated service one instance at a time (fleet/rollout.ts); a conflict if it is already rolling. */
  rollingRestart(id: string, actor = SYSTEM_ACTOR): GroupEntry & { rollout: RolloutStatus } {
    this.catalog.requireDefinition(id);
    const rollout = this.rollouts.start(id, actor);
    return { ...this.group(id), rollout };
  }

  /** The latest rolling restart of a service since the orchestrator started. */
  rollout(id: string): RolloutStatus | null {
    return this.rollouts.get(id);
  }

  /** A change that needs a restart rolls; one already rolling is told so in the log and left to finish. */
  private roll(id: string, actor: string): void {
    try {
      this.rollouts.start(id, actor);
    } catch (e) {
      this.parts.log.warn({ service: id, err: e }, 'changed while a rolling restart was under way: instances not yet rolled start on the new definition when they restart');
    }
  }

  async remove(id: string, opts: { allowFile?: boolean; actor?: string } = {}): Promise<void> {
    this.catalog.checkRemovable(id, !!opts.allowFile);
    const units = this.catalog.unitsOf(id);
    for (const unit of [...units].reverse()) await this.call('remove', [unit.id], this.catalog.stopBudgetMs([unit]));
    this.catalog.delete(id);
    for (const unit of units) this.forgetUnit(unit.id);
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
      await this.applyUnits(this.catalog.put(spec, want), false, want);
      result.added.push(spec.id);
    }
    for (const { spec, restart } of plan.changed) {
      const want = this.wantOf(this.catalog.requireDefinition(spec.id));
      // A replicated service whose change needs a restart rolls (fleet/rollout.ts).
      const rolling = restart && spec.replicas !== undefined;
      await this.applyUnits(this.catalog.put(spec, want), restart && !rolling, want);
      if (rolling) this.roll(spec.id, actor);
      result.changed.push(spec.id);
      if (restart) result.restarted.push(spec.id);
    }
    for (const id of [...result.added, ...result.changed]) this.parts.defined?.(id);
    this.history.record([{ service: null, type: 'reloaded', at: bootNow(), data: { ...result, problems: problems.map(formatProblem), actor } }]);
    return result;
  }

  /** Stop every service, dependents first, within the time their stop timeouts add up to. */
  async stopAll(reason: string): Promise<void> {
    await this.call('stopAll', [reason], this.catalog.stopBudgetMs([...this.catalog.definitions()]));
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

