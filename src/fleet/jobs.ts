/**
 * Scheduled jobs: the ticks of every service with a `schedule`, on the main thread. A tick is a
 * start command like PUT .../start (actor "schedule"); the service's actor runs the job as any run
 * — exit 0 ends it (stopped, waiting for the next tick), a failure is retried per restart_policy,
 * schedule.timeout_seconds is its own timer. What a tick does while the previous run is still going
 * is schedule.concurrency: forbid skips it (event run_skipped), replace restarts the run (its stop
 * signal, then a fresh start; event run_replaced).
 *
 * Clocks: an interval counts on the boot clock (monotonic), like every other timer here; a cron
 * tick is a wall time by nature — croner names it (in its time zone), and the timer waits the
 * difference, checking the wall clock again when it fires (a clock step moves the tick with it).
 *
 * Missed runs: at boot, the ticks that fell between a job's last recorded run and now (the
 * orchestrator was down) are counted and reported (event missed_runs), never replayed — with
 * schedule.catch_up, one run starts now in their place.
 */
import { Cron } from 'croner';
import type { Logger } from 'pino';
import type { Command, ServiceEvent, ServiceState, ServiceView } from '../actors/protocol.js';
import { bootNow } from '../clock.js';
import type { ServiceSpec } from '../config/schema.js';

type Schedule = NonNullable<ServiceSpec['schedule']>;

/** The actor named in the command events of ticks. */
export const SCHEDULE_ACTOR = 'schedule';

/** setTimeout's longest delay (2^31 - 1 ms); a later tick is waited for in steps. */
const MAX_DELAY_MS = 2_147_483_647;
/** At most this many missed ticks are counted (a minutely cron down for a year is "at least …"). */
const MAX_MISSED = 100_000;

/** While a run is in one of these, the job is busy: the run (or its retry after a failure) is not over. */
const BUSY: ReadonlySet<ServiceState> = new Set(['starting', 'running', 'draining', 'stopping', 'exited', 'backoff', 'throttled']);

export interface JobsParts {
  specs(): Iterable<ServiceSpec>;
  spec(id: string): ServiceSpec | undefined;
  view(id: string): ServiceView | undefined;
  command(id: string, command: Command, reason: string, actor: string): Promise<unknown>;
  record(events: ServiceEvent[]): void;
  /** Wall-clock ms the service's newest recorded run started; null when it never ran. */
  lastRunStart(id: string): number | null;
  /** The next run time changed: publish the service's view again (next_run_at). */
  changed(id: string): void;
  log: Logger;
}

interface Armed {
  schedule: Schedule;
  /** croner for cron schedules. */
  cron: Cron | null;
  timer: NodeJS.Timeout | null;
  /** Wall-clock ms of the next tick (what next_run_at shows). */
  nextWall: number;
  /** Interval schedules: the boot-clock ms of the next tick. */
  nextBoot: number;
}

export class Jobs {
  private readonly armed = new Map<string, Armed>();
  private stopped = false;

  constructor(private readonly parts: JobsParts) {}

  /** At boot: report missed runs, run those that run on start (or catch up), and arm every schedule. */
  start(): void {
    for (const spec of this.parts.specs()) {
      if (!spec.schedule) continue;
      const missed = this.missed(spec.id, spec.schedule);
      const catchUp = missed > 0 && spec.schedule.catch_up;
      if (missed > 0) {
        this.parts.record([{ service: spec.id, type: 'missed_runs', at: bootNow(), data: { count: missed, catch_up: catchUp, since: new Date(this.parts.lastRunStart(spec.id)!).toISOString() } }]);
      }
      this.arm(spec.id, spec.schedule);
      if (spec.schedule.run_on_start || catchUp) void this.tick(spec.id, catchUp && !spec.schedule.run_on_start ? 'catch-up run for missed runs' : 'run on start');
    }
  }

  /** A service was added, changed or removed: (re)arm its schedule if it changed, drop it if gone. */
  sync(id: string): void {
    if (this.stopped) return;
    const schedule = this.parts.spec(id)?.schedule ?? null;
    const current = this.armed.get(id);
    if (current && schedule && JSON.stringify(current.schedule) === JSON.stringify(schedule)) return;
    this.disarm(id);
    if (!schedule) { this.parts.changed(id); return; }
    this.arm(id, schedule);
    if (!current && schedule.run_on_start) void this.tick(id, 'run on start');
  }

  /** Wall-clock ms of the service's next tick; null when it has no schedule. */
  nextRunAt(id: string): number | null {
    const next = this.armed.get(id)?.nextWall;
    // A cron expression with no time left (a fixed date in the past) has no next run.
    return next !== undefined && Number.isFinite(next) ? next : null;
  }

  stop(): void {
    this.stopped = true;
    for (const id of [...this.armed.keys()]) this.disarm(id);
  }

  // ------------------------------------------------------------------------------------------

  private arm(id: string, schedule: Schedule): void {
    const cron = schedule.cron ? new Cron(schedule.cron, { paused: true, ...(schedule.timezone ? { timezone: schedule.timezone } : {}) }) : null;
    const a: Armed = { schedule, cron, timer: null, nextWall: 0, nextBoot: 0 };
    this.armed.set(id, a);
    this.plan(id, a, Date.now(), bootNow());
  }

  /** Set the next tick after (wall, boot) and wait for it. */
  private plan(id: string, a: Armed, wall: number, boot: number): void {
    if (a.cron) {
      a.nextWall = a.cron.nextRun(new Date(wall))?.getTime() ?? Number.POSITIVE_INFINITY;
      this.wait(id, a, a.nextWall - Date.now());
    } else {
      const every = a.schedule.interval_seconds! * 1000;
      a.nextBoot = boot + every;
      a.nextWall = Date.now() + (a.nextBoot - bootNow());
      this.wait(id, a, a.nextBoot - bootNow());
    }
    this.parts.changed(id);
  }

  private wait(id: string, a: Armed, delayMs: number): void {
    if (!Number.isFinite(delayMs)) { a.timer = null; return; }
    a.timer = setTimeout(() => this.fire(id, a), Math.min(MAX_DELAY_MS, Math.max(0, delayMs)));
    a.timer.unref();
  }

  /** The timer is due: tick if the tick's time has come (a cron tick by the wall clock), else wait the rest. */
  private fire(id: string, a: Armed): void {
    if (this.armed.get(id) !== a) return;
    if (a.cron) {
      const early = a.nextWall - Date.now();
      if (early > 5) { this.wait(id, a, early); return; }
      // The next tick strictly after this one, even if the timer fired a little early.
      this.plan(id, a, Math.max(Date.now(), a.nextWall), bootNow());
    } else {
      const early = a.nextBoot - bootNow();
      if (early > 5) { this.wait(id, a, early); return; }
      // Interval ticks stay on their grid (no drift from timer lateness); a late one is not repeated.
      const every = a.schedule.interval_seconds! * 1000;
      const late = Math.max(0, bootNow() - a.nextBoot);
      this.plan(id, a, Date.now(), a.nextBoot + Math.floor(late / every) * every);
    }
    void this.tick(id, a.cron ? `scheduled run (cron ${a.schedule.cron})` : `scheduled run (every ${a.schedule.interval_seconds}s)`);
  }

  /** One tick: start the job, or — its previous run still going — skip the tick (forbid) or replace the run. */
  private async tick(id: string, reason: string): Promise<void> {
    const spec = this.parts.spec(id);
    if (!spec?.schedule || this.stopped) return;
    const view = this.parts.view(id);
    const next = this.nextRunAt(id);
    try {
      if (view && BUSY.has(view.state)) {
        if (spec.schedule.concurrency === 'replace') {
          this.parts.record([{ service: id, type: 'run_replaced', at: bootNow(), data: { state: view.state, pid: view.pid } }]);
          await this.parts.command(id, 'restart', `${reason}: replacing the run still going`, SCHEDULE_ACTOR);
        } else {
          this.parts.record([{
            service: id, type: 'run_skipped', at: bootNow(),
            data: { reason: 'the previous run is still going', state: view.state, pid: view.pid, next_run_at: next === null ? null : new Date(next).toISOString() },
          }]);
        }
        return;
      }
      await this.parts.command(id, 'start', reason, SCHEDULE_ACTOR);
    } catch (err) {
      this.parts.log.warn({ err, service: id }, 'scheduled run could not start');
    }
  }

  private disarm(id: string): void {
    const a = this.armed.get(id);
    if (a?.timer) clearTimeout(a.timer);
    this.armed.delete(id);
  }

  /** Ticks that fell strictly after the newest recorded run started and up to now. */
  private missed(id: string, schedule: Schedule): number {
    const last = this.parts.lastRunStart(id);
    if (last === null) return 0;
    const now = Date.now();
    if (schedule.interval_seconds !== undefined) return Math.min(MAX_MISSED, Math.max(0, Math.floor((now - last) / (schedule.interval_seconds * 1000))));
    const cron = new Cron(schedule.cron!, { paused: true, ...(schedule.timezone ? { timezone: schedule.timezone } : {}) });
    let n = 0;
    for (let t = cron.nextRun(new Date(last)); t && t.getTime() <= now && n < MAX_MISSED; t = cron.nextRun(t)) n++;
    return n;
  }
}
