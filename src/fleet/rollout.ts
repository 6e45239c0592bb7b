/**
 * Rolling restarts of a replicated service: `rollout.max_parallel` instances at a time (default
 * one), each restarted through its own actor (drained first when it reports in-flight work, as
 * any planned restart is) and required to run a new process that is ready — healthy, and passing
 * its readiness probe if it has one — for `rollout.min_healthy_seconds` before the next. An
 * instance that is not, within `rollout.healthy_deadline_seconds` of its restart, halts the
 * rollout: no further instance is touched, and the halt names it.
 *
 * Progress is a stream of events (rollout_started, rollout_progress, rollout_finished,
 * rollout_halted) and the `rollout` of the service's view (GET /api/services/{id}). Instances
 * that are stopped (not wanted up) are left alone: they start on the new definition anyway.
 */
import type { Command, ServiceEvent, ServiceView } from '../actors/protocol.js';
import type { PresentedRollout } from '../api/types.js';
import { bootNow } from '../clock.js';
import type { ServiceSpec } from '../config/schema.js';
import { conflict } from '../errors.js';
import type { Logger } from '../log.js';
import type { Views } from './views.js';

/** A rollout as the API shows it (times wall-clock ISO): the wire type, kept here as it changes. */
export type RolloutStatus = PresentedRollout;

export interface RolloutParts {
  views: Views;
  definition(id: string): ServiceSpec | undefined;
  unitIds(id: string): string[];
  command(id: string, command: Command, reason: string, actor: string): Promise<unknown>;
  record(events: ServiceEvent[]): void;
  log: Logger;
}

export class Rollouts {
  private readonly status = new Map<string, RolloutStatus>();
  private readonly waits = new Set<() => void>();
  private closed = false;

  constructor(private readonly parts: RolloutParts) {
    // Every view change re-checks the instances being waited on.
    parts.views.on('views', () => { for (const check of [...this.waits]) check(); });
  }

  /** The latest rollout of a service (running or ended), if any since the orchestrator started. */
  get(id: string): RolloutStatus | null {
    return this.status.get(id) ?? null;
  }

  /** Start rolling `id`; a rollout of it already under way is a conflict. */
  start(id: string, actor: string): RolloutStatus {
    const spec = this.parts.definition(id);
    if (!spec) throw conflict(`service "${id}" is not defined`);
    if (this.status.get(id)?.state === 'running') throw conflict(`a rolling restart of "${id}" is already under way`);
    const instances = this.parts.unitIds(id).filter((u) => this.parts.views.peek(u)?.want === 'up');
    const status: RolloutStatus = {
      state: 'running', actor, total: instances.length, done: [], current: [], failed: null,
      started_at: new Date().toISOString(), finished_at: null,
    };
    this.status.set(id, status);
    const { max_parallel, min_healthy_seconds, healthy_deadline_seconds } = spec.rollout;
    this.record(id, 'rollout_started', { instances, max_parallel, min_healthy_seconds, healthy_deadline_seconds, actor });
    void this.run(id, spec, instances, status).catch((err: Error) => {
      this.parts.log.error({ service: id, err }, 'rolling restart failed');
      this.halt(id, status, status.current[0] ?? id, err.message);
    });
    return status;
  }

  /** Stop waiting (shutdown): rollouts under way end where they are. */
  close(): void {
    this.closed = true;
    for (const check of [...this.waits]) check();
  }

  private async run(id: string, spec: ServiceSpec, instances: string[], status: RolloutStatus): Promise<void> {
    const started = bootNow();
    const queue = [...instances];
    while (queue.length > 0) {
      const batch = queue.splice(0, spec.rollout.max_parallel);
      status.current = batch;
      const results = await Promise.all(batch.map((unit) => this.restartOne(unit, spec, status.actor)));
      const failed = results.find((r) => r.problem !== null);
      if (failed) {
        this.halt(id, status, failed.unit, failed.problem!, queue);
        return;
      }
      status.done.push(...batch);
      status.current = [];
      for (const r of results) this.record(id, 'rollout_progress', { instance: r.unit, pid: r.pid, done: status.done.length, total: status.total });
    }
    status.state = 'finished';
    status.finished_at = new Date().toISOString();
    this.record(id, 'rollout_finished', { instances: status.done, seconds: Math.round((bootNow() - started) / 100) / 10 });
  }

  private halt(id: string, status: RolloutStatus, instance: string, reason: string, remaining: string[] = []): void {
    status.state = 'halted';
    status.failed = { instance, reason };
    status.current = [];
    status.finished_at = new Date().toISOString();
    this.record(id, 'rollout_halted', { instance, reason, done: status.done, untouched: remaining });
  }

  /** Restart one instance and wait until its new process has been ready for min_healthy_seconds. */
  private async restartOne(unit: string, spec: ServiceSpec, actor: string): Promise<{ unit: string; pid: number | null; problem: string | null }> {
    const before = this.parts.views.peek(unit)?.pid ?? null;
    await this.parts.command(unit, 'restart', 'rolling restart', actor);
    const deadline = bootNow() + spec.rollout.healthy_deadline_seconds * 1000;
    const minHealthyMs = spec.rollout.min_healthy_seconds * 1000;
    return new Promise((resolve) => {
      let healthySince: number | null = null;
      let healthyPid: number | null = null;
      let timer: NodeJS.Timeout | undefined;
      const finish = (problem: string | null, pid: number | null) => {
        this.waits.delete(check);
        clearTimeout(timer);
        resolve({ unit, pid, problem });
      };
      const check = () => {
        const view = this.parts.views.peek(unit);
        const now = bootNow();
        if (this.closed) return finish('the orchestrator is shutting down', null);
        if (!view) return finish(`instance ${unit} was removed`, null);
        if (isFresh(view, before) && (healthyPid === null || view.pid === healthyPid)) {
          healthySince ??= now;
          healthyPid = view.pid;
        } else {
          healthySince = null;
          healthyPid = null;
        }
        if (healthySince !== null && now - healthySince >= minHealthyMs) return finish(null, healthyPid);
        if (now >= deadline) {
          return finish(`not healthy within ${spec.rollout.healthy_deadline_seconds}s of its restart (state ${view.state}, health ${view.health}${view.ready ? '' : ', not ready'}: ${view.reason})`, view.pid);
        }
        clearTimeout(timer);
        const next = healthySince !== null ? Math.min(deadline, healthySince + minHealthyMs) : deadline;
        timer = setTimeout(check, Math.max(1, next - now));
      };
      this.waits.add(check);
      check();
    });
  }

  private record(id: string, type: ServiceEvent['type'], data: Record<string, unknown>): void {
    this.parts.record([{ service: id, type, at: bootNow(), data }]);
  }
}

/** A new process (not the one before the restart) that runs and is ready. */
function isFresh(view: ServiceView, before: number | null): boolean {
  return view.state === 'running' && view.ready && view.pid !== null && view.pid !== before;
}
