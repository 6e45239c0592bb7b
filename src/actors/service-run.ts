/**
 * The steps a ServiceActor takes with a run — spawn one, end one, settle once its process group is
 * gone, watch one — shared by the state handlers in service.ts. Each step changes the draft data
 * of the current turn and appends effects; none decides on its own which state it is called from.
 */
import {
  backoffDelayMs, KILL_RETRY_MS, LOG_DISK_RETRY_MIN_MS, shouldRestart,
} from './policy.js';
import { idleLimits, idleProbe, startProbing } from './health.js';
import {
  assertNever, type ExitReason, type LogicContext, type ServiceEffect, type ServiceState, type TimerName,
} from './protocol.js';
import { probesEnabled, type After, type ServiceData } from './service-data.js';

/** One transition in progress: the draft data, the effects so far, the time and randomness. */
export interface Turn {
  d: ServiceData;
  fx: ServiceEffect[];
  ctx: LogicContext;
}

export function setState(t: Turn, state: ServiceState, reason: string): void {
  t.d.state = state;
  t.d.reason = reason;
}

/** (Re)arm a timer under a new generation: any message of the old one is stale from now on. */
export function arm(t: Turn, name: TimerName, delayMs: number): void {
  const gen = ++t.d.timers[name];
  t.fx.push({ type: 'set_timer', name, gen, delayMs });
}

export function cancel(t: Turn, name: TimerName): void {
  t.d.timers[name]++;
  t.fx.push({ type: 'cancel_timer', name });
}

/** Start now, or wait in starting until the dependencies are ready. */
export function startNow(t: Turn, reason: string): void {
  const { d } = t;
  d.reason = reason;
  d.backoff.nextStartAt = null;
  if (!d.deps.ready) {
    setState(t, 'starting', waitingReason(d));
    return;
  }
  spawn(t, reason);
}

export function spawn(t: Turn, reason: string): void {
  const { d } = t;
  d.spawn.count++;
  const runId = `${d.settings.epoch}.${d.spawn.count}`;
  d.spawn.pendingRunId = runId;
  d.health = 'unknown';
  setState(t, 'starting', reason);
  t.fx.push({ type: 'spawn', id: d.spec.id, runId, spec: d.spec });
}

/** Send the stop signal to the run's group and wait stop_timeout for it to empty. */
export function signalStop(t: Turn, runId: string): void {
  t.fx.push({ type: 'signal', id: t.d.spec.id, runId, signal: t.d.spec.stop.signal });
  arm(t, 'stop_timeout', t.d.spec.stop.timeout_seconds * 1000);
}

/** The polite signal was not enough: kill the whole group, and keep at it until it is empty. */
export function killGroup(t: Turn): void {
  const { d } = t;
  if (!d.run) return;
  t.fx.push({ type: 'signal', id: d.spec.id, runId: d.run.runId, signal: 'SIGKILL' });
  if (!d.ending.killNoted) {
    d.reason = `${d.reason}; SIGKILL after ${d.spec.stop.timeout_seconds}s`;
    d.ending.killNoted = true;
  }
  arm(t, 'stop_timeout', KILL_RETRY_MS);
}

/** End the run ourselves, recording `cause` as its exit reason; `then` follows once the group is empty. */
export function beginStop(t: Turn, then: After, reason: string, cause: ExitReason): void {
  const { d } = t;
  d.ending = { then, cause, killNoted: false };
  if (d.state === 'stopping') { d.reason = reason; return; }
  stopMonitoring(t);
  setState(t, 'stopping', reason);
  // With only a spawn in flight, the signal goes when it reports 'spawned'.
  if (d.run) signalStop(t, d.run.runId);
}

/** We end the run because it misbehaved (health, limits): a failure, counted toward max_retries. */
export function failAndRestart(t: Turn, cause: ExitReason, detail: string): void {
  const { d } = t;
  const restart = d.want === 'up' && shouldRestart(d.spec.restart, true, d.settings.recoveryEnabled);
  t.fx.push({ type: 'notify', note: { type: 'child_exit', id: d.spec.id, abnormal: true, willRestart: restart } });
  beginStop(t, restart ? 'backoff' : 'failed', `${cause}: ${detail}`, cause);
}

/** The process group is empty: settle where `ending.then` says. */
export function groupGone(t: Turn, reason: string): void {
  const { d, ctx } = t;
  cancel(t, 'stop_timeout');
  stopMonitoring(t);
  const then = d.ending.then;
  d.run = null;
  d.ending = { then: 'stopped', cause: null, killNoted: false };
  d.health = 'unknown';
  d.usage = null;
  switch (then) {
    case 'stopped': setState(t, 'stopped', reason); return;
    case 'failed': d.want = 'down'; setState(t, 'failed', reason); return;
    case 'start': startNow(t, reason); return;
    case 'backoff': {
      d.attempts++;
      const max = d.spec.restart_policy.max_retries;
      if (d.attempts > max) {
        d.want = 'down';
        setState(t, 'failed', `${reason}; gave up after ${max} ${max === 1 ? 'retry' : 'retries'}`);
        return;
      }
      d.restarts++;
      const delay = backoffDelayMs(d.spec.restart_policy, d.attempts, ctx.random);
      if (delay === 0) {
        // backoff_seconds 0: straight back to starting, without a timer in between.
        startNow(t, `${reason}; restart ${d.attempts}/${max} at once`);
        return;
      }
      d.backoff = { kind: 'retry', nextStartAt: ctx.now + delay };
      setState(t, 'backoff', `${reason}; restart ${d.attempts}/${max} in ${(delay / 1000).toFixed(delay < 10_000 ? 2 : 0)}s`);
      arm(t, 'backoff', delay);
      return;
    }
    case 'disk': {
      // The environment's fault, not the service's: not counted, and 'log_disk_ok' ends the wait early.
      const wait = Math.max(d.spec.restart_policy.max_backoff_seconds * 1000, LOG_DISK_RETRY_MIN_MS);
      d.backoff = { kind: 'disk', nextStartAt: ctx.now + wait };
      setState(t, 'backoff', `${reason}; restarts as soon as the log disk has space (not counted against max_retries)`);
      arm(t, 'backoff', wait);
      return;
    }
    default: assertNever(then);
  }
}

/**
 * Watch a run: probes (or, without a health check, the timer that resets the attempt counter once
 * it has stayed up long enough) and usage samples. `adopted`: the run has been up for a while.
 */
export function beginMonitoring(t: Turn, adopted: boolean): void {
  const { d, ctx } = t;
  d.health = 'unknown';
  d.limits = idleLimits();
  d.probe = idleProbe();
  if (probesEnabled(d)) {
    const { track, firstDelayMs } = startProbing(d.spec.health, ctx.now, adopted);
    d.probe = track;
    arm(t, 'probe', firstDelayMs);
  } else {
    arm(t, 'stable', d.spec.restart_policy.reset_after_seconds * 1000);
  }
  if (d.run) arm(t, 'sample', onSampleGrid(ctx.now, d.settings.sampleIntervalMs));
}

export function stopMonitoring(t: Turn): void {
  cancel(t, 'probe');
  cancel(t, 'sample');
  cancel(t, 'stable');
  t.d.probe.inFlight = false;
}

/**
 * Samples fall on a grid shared by every actor, so the kernel serves the whole fleet with one
 * /proc scan per tick instead of one per service.
 */
export function onSampleGrid(now: number, intervalMs: number): number {
  return intervalMs - (now % intervalMs);
}

export function waitingReason(d: ServiceData): string {
  return `waiting for ${d.deps.waitingFor.join(', ')} to be healthy`;
}

export function describeExit(code: number | null, signal: string | null): string {
  return signal ? `killed by ${signal}` : `exited with code ${code}`;
}
