/**
 * A ServiceActor driven by hand on a fake clock: messages in, effects collected, its timers kept
 * and fired in order as the clock advances, probes answered at once by a test-given function.
 * Pure: no process, no timer, no sleep.
 */
import type { ProbeKind, ServiceEffect, ServiceMsg, TimerName } from '../../src/actors/protocol.js';
import { initialData, transition, type ServiceData, type ServiceSettings } from '../../src/actors/service.js';
import { makeSpec } from './specs.js';

export const settings: ServiceSettings = { monitoringEnabled: true, recoveryEnabled: true, sampleIntervalMs: 5000, epoch: '7' };

export type Effect<T extends ServiceEffect['type']> = Extract<ServiceEffect, { type: T }>;

export function driver(input: Record<string, unknown>, opts: Partial<ServiceSettings> = {}) {
  let d: ServiceData = initialData(makeSpec({ id: 'svc', ...input }), { ...settings, ...opts });
  let now = 1_000_000;
  const timers = new Map<TimerName, { at: number; gen: number }>();
  let log: ServiceEffect[] = [];
  const a = {
    get d() { return d; },
    get now() { return now; },
    /** Used as ctx.random for every message from now on. */
    random: 0.5,
    /** Answers every probe effect at once (null: probes stay unanswered). */
    answer: null as ((kind: ProbeKind) => boolean) | null,
    send(msg: ServiceMsg): ServiceEffect[] {
      const step = transition(d, msg, { now, random: () => a.random });
      d = step.data;
      log.push(...step.effects);
      for (const e of step.effects) {
        if (e.type === 'set_timer') timers.set(e.name, { at: now + e.delayMs, gen: e.gen });
        else if (e.type === 'cancel_timer') timers.delete(e.name);
      }
      for (const e of step.effects) {
        if (e.type === 'probe' && a.answer) {
          const ok = a.answer(e.kind);
          a.send({ type: 'probed', kind: e.kind, runId: e.runId, gen: e.gen, ok, latencyMs: 1, status: ok ? 200 : 503 });
        }
      }
      return step.effects;
    },
    /** Move the clock by `ms`, firing every timer that falls due on the way, in order. */
    advance(ms: number) {
      const until = now + ms;
      for (;;) {
        let next: [TimerName, { at: number; gen: number }] | undefined;
        for (const entry of timers) if (entry[1].at <= until && (!next || entry[1].at < next[1].at)) next = entry;
        if (!next) break;
        timers.delete(next[0]);
        now = Math.max(now, next[1].at);
        a.send({ type: 'timer', name: next[0], gen: next[1].gen });
      }
      now = until;
      return a;
    },
    /** When the named timer is due (absolute), if armed. */
    due(name: TimerName): number | undefined { return timers.get(name)?.at; },
    /** The effects since the last take. */
    take(): ServiceEffect[] { const out = log; log = []; return out; },
    /** start → spawned: a running service. */
    running(pid = 100) {
      a.send({ type: 'start', reason: 'test' });
      a.spawned(pid);
      return a;
    },
    spawned(pid = 100) {
      return a.send({ type: 'spawned', run: { runId: d.spawn.pendingRunId!, pid, pgid: pid, startedAt: now } });
    },
    exit(code: number | null, signal: string | null = null) {
      return a.send({ type: 'exited', runId: d.run!.runId, code, signal, groupEmpty: true });
    },
    heartbeat(fields: { progress?: number; inflight?: number; status?: string } = {}, runId: string | undefined = d.run?.runId) {
      return a.send({ type: 'heartbeat', runId, ...fields });
    },
  };
  return a;
}

export const ofType = <T extends ServiceEffect['type']>(fx: ServiceEffect[], type: T) => fx.filter((e) => e.type === type) as Effect<T>[];
export const eventsOf = (fx: ServiceEffect[]) => ofType(fx, 'event');
export const eventNames = (fx: ServiceEffect[]) => eventsOf(fx).map((e) => e.event);
