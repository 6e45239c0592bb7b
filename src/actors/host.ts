/**
 * The supervision tree's runtime. It holds the root supervisor, one group supervisor per
 * supervision group and one ServiceActor per service, routes messages between them (readiness to
 * dependents, strategy restarts to siblings, a group's give-up to the root), restarts an actor
 * whose logic crashed, and stops the fleet in reverse dependency order. Its outputs — kernel effects, registry events, fresh views — are batched and
 * flushed once per turn of the event loop.
 *
 * Runs inside the actor-host worker, but imports nothing from node:* so tests drive it directly.
 */
import type { ServiceSpec, SupervisorSettings } from '../config/schema.js';
import type {
  Command, HostConfig, HostEntry, KernelEffect, RootEffect, RootMsg, ServiceEffect, ServiceEvent, ServiceMsg, ServiceView, SupervisorEffect, SupervisorMsg,
} from './protocol.js';
import { dependencyOrder } from './order.js';
import { dependsOn, serviceOf } from '../config/instances.js';
import { addRestart } from './policy.js';
import { initialRoot, rootTransition, type RootData } from './root.js';
import { Cell, type RuntimeEnv } from './runtime.js';
import { hasProcess, initialData, transition, view, type ServiceData, type ServiceSettings } from './service.js';
import { groupSettings, initialGroup, superviseTransition, type GroupData } from './supervisor.js';

export interface HostOutputs {
  kernel(effects: KernelEffect[]): void;
  events(events: ServiceEvent[]): void;
  views(views: ServiceView[], removed: string[]): void;
  log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
}

export type HostEnv = RuntimeEnv & { defer(fn: () => void): void };

type ServiceCell = Cell<ServiceData, ServiceMsg, ServiceEffect>;
type GroupCell = Cell<GroupData, SupervisorMsg, SupervisorEffect>;
type RootCell = Cell<RootData, RootMsg, RootEffect>;

/** Actor crashes tolerated per service within ACTOR_CRASH_PERIOD_MS before it is left failed. */
const ACTOR_CRASH_INTENSITY = 5;
const ACTOR_CRASH_PERIOD_MS = 60_000;

export class ActorHost {
  private readonly services = new Map<string, ServiceCell>();
  private readonly groups = new Map<string, GroupCell>();
  private readonly ready = new Set<string>();
  private readonly crashes = new Map<string, number[]>();
  private readonly lastViews = new Map<string, ServiceView>();
  private readonly lastViewAt = new Map<string, number>();
  private outKernel: KernelEffect[] = [];
  private outEvents: ServiceEvent[] = [];
  private dirty = new Set<string>();
  private removed: string[] = [];
  private flushQueued = false;
  private waiters: Array<{ done: () => boolean; resolve: () => void }> = [];
  private shutdown: { reason: string; told: Set<string> } | null = null;
  private root: RootCell;

  constructor(private readonly config: HostConfig, private readonly env: HostEnv, private readonly out: HostOutputs) {
    this.root = this.newRoot();
  }

  /** Create actors for a whole fleet: adopt live processes, then start what should run. */
  load(entries: HostEntry[]): void {
    for (const entry of entries) this.create(entry);
    this.regroup();
    for (const entry of entries) this.settle(entry);
  }

  add(entry: HostEntry): ServiceView {
    if (this.services.has(entry.spec.id)) throw new Error(`service "${entry.spec.id}" already exists`);
    this.create(entry);
    this.regroup();
    this.settle(entry);
    return this.view(entry.spec.id)!;
  }

  update(spec: ServiceSpec, restart: boolean): ServiceView {
    const cell = this.cell(spec.id);
    cell.send({ type: 'update', spec, restart });
    this.regroup();
    this.sendDeps(spec.id);
    return view(cell.data);
  }

  /** Stop the service, then forget it. Resolves once its process group is gone. */
  remove(id: string): Promise<void> {
    const cell = this.cell(id);
    cell.send({ type: 'stop', reason: 'removed' });
    return this.when(() => !hasProcess(cell.data)).then(() => {
      cell.stop();
      this.services.delete(id);
      this.ready.delete(id);
      this.lastViews.delete(id);
      this.dirty.delete(id);
      this.removed.push(id);
      this.regroup();
      for (const other of this.services.values()) if (dependsOn(other.data.spec.depends_on, id)) this.sendDeps(other.id);
      this.queueFlush();
    });
  }

  command(id: string, command: Command, reason: string): ServiceView {
    const cell = this.cell(id);
    if (command !== 'stop') this.groups.get(cell.data.spec.group)?.send({ type: 'reset' });
    cell.send({ type: command, reason });
    return view(cell.data);
  }

  /** A fact from the kernel about one service's process. Facts for unknown services are dropped. */
  deliver(id: string, msg: ServiceMsg): void {
    this.services.get(id)?.send(msg);
  }

  /** Stop every service, dependents before their dependencies. Resolves when no process is left. */
  stopAll(reason: string): Promise<void> {
    this.shutdown = { reason, told: new Set() };
    this.advanceShutdown();
    return this.when(() => [...this.services.values()].every((c) => !hasProcess(c.data)));
  }

  view(id: string): ServiceView | undefined {
    const cell = this.services.get(id);
    return cell ? view(cell.data) : undefined;
  }

  views(): ServiceView[] {
    return [...this.services.values()].map((c) => view(c.data));
  }

  /** Resolve when `done()` holds after some flush (checked immediately too). */
  when(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push({ done, resolve });
      this.queueFlush();
    });
  }

  // ------------------------------------------------------------------------------------------

  private cell(id: string): ServiceCell {
    const cell = this.services.get(id);
    if (!cell) throw new Error(`unknown service "${id}"`);
    return cell;
  }

  private settings(): ServiceSettings {
    return { ...this.config.settings, epoch: this.config.epoch };
  }

  private create(entry: HostEntry): ServiceCell {
    const data = initialData(entry.spec, this.settings(), entry.run, entry.carry);
    const cell: ServiceCell = new Cell(entry.spec.id, transition, data, this.env, {
      effects: (c, effects) => this.onServiceEffects(c, effects),
      crashed: (c, error, msg) => this.onActorCrash(c, error, msg),
      changed: (c) => { this.dirty.add(c.id); this.queueFlush(); },
    });
    this.services.set(entry.spec.id, cell);
    this.dirty.add(entry.spec.id);
    if (entry.run) cell.send({ type: 'adopt' });
    this.queueFlush();
    return cell;
  }

  /** Bring a freshly created actor to its wanted state. */
  private settle(entry: HostEntry): void {
    this.sendDeps(entry.spec.id);
    const cell = this.services.get(entry.spec.id);
    if (cell && entry.spec.external && entry.want === 'up' && !entry.run) {
      cell.send({ type: 'register_external' });
      return;
    }
    if (entry.want === 'up' && !entry.run) this.services.get(entry.spec.id)?.send({ type: 'start', reason: 'auto start' });
    if (entry.want === 'down' && entry.run) this.services.get(entry.spec.id)?.send({ type: 'stop', reason: 'not wanted after restart' });
  }

  private onServiceEffects(cell: ServiceCell, effects: ServiceEffect[]): void {
    for (const e of effects) {
      switch (e.type) {
        case 'spawn': case 'signal': case 'probe': case 'sample':
          this.outKernel.push(e);
          break;
        case 'event':
          this.outEvents.push({ service: cell.id, type: e.event, at: this.env.clock.now(), data: e.data });
          break;
        case 'notify': {
          const note = e.note;
          if (note.type === 'child_ready') {
            if (note.ready) this.ready.add(note.id); else this.ready.delete(note.id);
            for (const other of this.services.values()) if (dependsOn(other.data.spec.depends_on, note.id)) this.sendDeps(other.id);
          }
          this.groups.get(cell.data.spec.group)?.send(note);
          break;
        }
        case 'set_timer': case 'cancel_timer':
          break; // handled by the runtime
      }
    }
    this.queueFlush();
  }

  private onGroupEffects(group: GroupCell, effects: SupervisorEffect[]): void {
    for (const e of effects) {
      switch (e.type) {
        case 'send': this.services.get(e.to)?.send(e.msg); break;
        case 'event': this.outEvents.push({ service: null, type: e.event, at: this.env.clock.now(), data: e.data }); break;
        case 'escalate': this.root.send(e.msg); break;
      }
    }
    this.queueFlush();
  }

  /** The root records escalations; if its logic throws, a fresh one (with an empty window) takes over. */
  private newRoot(): RootCell {
    return new Cell('root', rootTransition, initialRoot(), this.env, {
      effects: (_root, effects) => {
        for (const e of effects) {
          this.outEvents.push({ service: null, type: e.event, at: this.env.clock.now(), data: e.data });
          this.out.log(e.event === 'root_intensity_exceeded' ? 'error' : 'warn', `root supervisor: ${e.event}`, e.data);
        }
        this.queueFlush();
      },
      crashed: (_root, error) => {
        this.out.log('error', 'root supervisor crashed; restarting it', { err: String(error) });
        this.root = this.newRoot();
      },
    });
  }

  /** Let it crash: a ServiceActor whose logic threw is replaced by a fresh one that re-adopts its process. */
  private onActorCrash(cell: ServiceCell, error: unknown, msg: ServiceMsg): void {
    const id = cell.id;
    const now = this.env.clock.now();
    const { times: recent, exceeded } = addRestart(this.crashes.get(id) ?? [], now, ACTOR_CRASH_PERIOD_MS, ACTOR_CRASH_INTENSITY);
    this.crashes.set(id, recent);
    const last = cell.data;
    this.out.log('error', 'service actor crashed; restarting it', { service: id, err: String((error as Error)?.stack ?? error), msg: msg.type });
    this.outEvents.push({ service: id, type: 'actor_crashed', at: now, data: { error: String((error as Error)?.message ?? error), message: msg.type, crashes: recent.length } });
    this.services.delete(id);
    const fresh = this.create({
      spec: last.spec, want: last.want, run: last.run ?? undefined,
      carry: { restarts: last.restarts, attempts: last.attempts, lastExit: last.lastExit, state: last.state, reason: last.reason, health: last.health },
    });
    if (exceeded) {
      fresh.send({ type: 'give_up', reason: `actor crashed ${recent.length} times within ${ACTOR_CRASH_PERIOD_MS / 1000}s` });
    } else {
      this.settle({ spec: last.spec, want: last.want, run: last.run ?? undefined });
    }
  }

  private sendDeps(id: string): void {
    const cell = this.services.get(id);
    if (!cell) return;
    // A replicated dependency waits for each of its instances (one not added yet: for itself);
    // only a dependency that is no service of its own is looked up among the instances.
    const waitingFor = cell.data.spec.depends_on.flatMap((d) => {
      if (this.services.has(d)) return [d];
      const units = [...this.services.keys()].filter((u) => serviceOf(u) === d);
      return units.length ? units : [d];
    }).filter((d) => !this.ready.has(d));
    const current = cell.data.deps;
    if (current.ready === (waitingFor.length === 0) && current.waitingFor.join() === waitingFor.join()) return;
    cell.send({ type: 'deps', ready: waitingFor.length === 0, waitingFor });
  }

  /** Recompute group membership; children in dependency order (dependencies first), then by id. */
  private regroup(): void {
    const order = dependencyOrder([...this.services.values()].map((c) => c.data.spec));
    const members = new Map<string, string[]>();
    for (const id of order) {
      const group = this.services.get(id)!.data.spec.group;
      members.set(group, [...(members.get(group) ?? []), id]);
    }
    for (const [name, children] of members) {
      const existing = this.groups.get(name);
      if (existing) { existing.send({ type: 'set_children', children }); continue; }
      const settings: SupervisorSettings = groupSettings(this.config.supervision, name);
      const group: GroupCell = new Cell(name, superviseTransition, initialGroup(name, settings, children), this.env, {
        effects: (g, effects) => this.onGroupEffects(g, effects),
        crashed: (g, error) => {
          this.out.log('error', 'group supervisor crashed; restarting it', { group: g.id, err: String(error) });
          this.groups.delete(g.id);
          this.regroup();
        },
      });
      this.groups.set(name, group);
    }
    for (const [name, group] of this.groups) {
      if (!members.has(name)) { group.stop(); this.groups.delete(name); }
    }
  }

  private advanceShutdown(): void {
    const sd = this.shutdown;
    if (!sd) return;
    for (const cell of this.services.values()) {
      if (sd.told.has(cell.id)) continue;
      const d = cell.data;
      const busyDependent = [...this.services.values()].some((o) => dependsOn(o.data.spec.depends_on, cell.id) && hasProcess(o.data));
      if (hasProcess(d) && busyDependent) continue;
      sd.told.add(cell.id);
      if (hasProcess(d) || (d.state !== 'stopped' && d.state !== 'failed')) cell.send({ type: 'stop', reason: sd.reason });
    }
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    this.env.defer(() => this.flush());
  }

  /** Send what is queued now instead of at the end of the turn (after a batch of facts). */
  flushNow(): void {
    if (this.flushQueued) this.flush();
  }

  private flush(): void {
    if (!this.flushQueued) return; // flushed early by flushNow
    this.flushQueued = false;
    this.advanceShutdown();
    // Spawns and signals leave first, probes and samples last: the main thread handles messages
    // in order, and a restart should neither wait for nor delay the event that reports it.
    let routine: KernelEffect[] = [];
    if (this.outKernel.length) {
      const effects = this.outKernel;
      this.outKernel = [];
      const urgent = effects.filter(isUrgent);
      routine = urgent.length === 0 ? effects : urgent.length === effects.length ? [] : effects.filter((e) => !isUrgent(e));
      if (urgent.length) this.out.kernel(urgent);
    }
    // Views before events: a client that reads a service after an event sees at least that state.
    if (this.dirty.size || this.removed.length) {
      const views: ServiceView[] = [];
      for (const id of this.dirty) {
        const cell = this.services.get(id);
        if (!cell) continue;
        const v = view(cell.data);
        const change = viewChange(this.lastViews.get(id), v);
        const now = this.env.clock.now();
        if (change === 'significant' || (change === 'routine' && now - (this.lastViewAt.get(id) ?? 0) >= ROUTINE_VIEW_MS)) {
          views.push(v);
          this.lastViews.set(id, v);
          this.lastViewAt.set(id, now);
        }
      }
      const removed = this.removed;
      this.dirty = new Set();
      this.removed = [];
      if (views.length || removed.length) this.out.views(views, removed);
    }
    if (this.outEvents.length) {
      const events = this.outEvents;
      this.outEvents = [];
      this.out.events(events);
    }
    if (routine.length) this.out.kernel(routine);
    if (this.waiters.length) {
      const pending = this.waiters;
      this.waiters = [];
      for (const w of pending) {
        if (w.done()) w.resolve(); else this.waiters.push(w);
      }
    }
  }
}

function isUrgent(e: KernelEffect): boolean {
  return e.type === 'spawn' || e.type === 'signal';
}

/**
 * Fields that change with every probe, sample or heartbeat; alone they are published at most every
 * ROUTINE_VIEW_MS (a fleet heartbeating every second would otherwise send every view every second).
 */
const ROUTINE_FIELDS = new Set<keyof ServiceView>(['probe', 'usage', 'heartbeatAt', 'progress', 'statusText']);
const ROUTINE_VIEW_MS = 5000;
/**
 * A sample that measured what the published one did (an idle service's CPU and memory stay put)
 * changes nothing: the published usage then stands for up to USAGE_REFRESH_MS, and its sampled_at
 * says when these figures were first measured.
 */
const USAGE_REFRESH_MS = 60_000;

function sameUsage(a: ServiceView['usage'], b: ServiceView['usage']): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return a.cpu === b.cpu && a.rss === b.rss && a.pids === b.pids && b.at - a.at < USAGE_REFRESH_MS;
}

function viewChange(a: ServiceView | undefined, b: ServiceView): 'none' | 'routine' | 'significant' {
  if (!a) return 'significant';
  let change: 'none' | 'routine' = 'none';
  for (const key of Object.keys(b) as (keyof ServiceView)[]) {
    if (a[key] === b[key] || (key === 'usage' && sameUsage(a.usage, b.usage))) continue;
    if (!ROUTINE_FIELDS.has(key)) return 'significant';
    change = 'routine';
  }
  return change;
}
