/**
 * The steps a ServiceActor takes with a run — spawn one, end one (draining it first when that was
 * planned and it has work in flight), settle once its process group is gone — shared by the state
 * handlers in service.ts. Each step changes the draft data of the current turn and appends
 * effects; none decides on its own which state it is called from.
 */
import {
  backoffDelayMs, KILL_RETRY_MS, LOG_DISK_RETRY_MIN_MS, restartType, shouldRestart, throttleDelayMs,
} from './policy.js';
import { assertNever, type ExitReason } from './protocol.js';
import { idleAgent, type After, type Drain, type ServiceData } from './service-data.js';
import { arm, cancel, setState, type Turn } from './service-turn.js';
import { beginMonitoring, stopMonitoring, watchRun } from './service-watch.js';

export { arm, cancel, setState, type Turn } from './service-turn.js';

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
  d.agent = idleAgent();
  setState(t, 'starting', reason);
  t.fx.push({ type: 'spawn', id: d.spec.id, runId, spec: d.spec });
}

/** Send the stop signal to the run's group and wait stop_timeout for it to empty. */
export function signalStop(t: Turn, runId: string): void {
  const cause = t.d.ending.cause;
  t.fx.push({ type: 'signal', id: t.d.spec.id, runId, signal: t.d.spec.stop.signal, ...(cause ? { cause } : {}) });
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
  if (d.drain) { cancel(t, 'drain'); d.drain = null; }
  d.ending = { then, cause, killNoted: false };
  if (d.state === 'stopping') { d.reason = reason; return; }
  stopMonitoring(t);
  setState(t, 'stopping', reason);
  // With only a spawn in flight, the signal goes when it reports 'spawned'.
  if (d.run) signalStop(t, d.run.runId);
}

/**
 * A scheduled job's process ran past schedule.timeout_seconds: stopped with its stop signal, exit
 * reason timeout. Not retried (it would most likely time out again): it waits for its next tick.
 */
export function jobTimeout(t: Turn): void {
  const { d } = t;
  const limit = d.spec.schedule?.timeout_seconds ?? 0;
  t.fx.push({ type: 'event', event: 'run_timeout', data: { reason: 'timeout', timeout_seconds: limit, pid: d.run?.pid ?? null } });
  t.fx.push({ type: 'notify', note: { type: 'child_exit', id: d.spec.id, abnormal: true, willRestart: false } });
  beginStop(t, 'stopped', `timeout: ran longer than ${limit}s`, 'timeout');
}

/** We end the run because it misbehaved (health, limits): a failure, counted toward max_retries. */
export function failAndRestart(t: Turn, cause: ExitReason, detail: string): void {
  const { d } = t;
  const restart = d.want === 'up' && shouldRestart(restartType(d.spec), true, d.settings.recoveryEnabled);
  t.fx.push({ type: 'notify', note: { type: 'child_exit', id: d.spec.id, abnormal: true, willRestart: restart } });
  beginStop(t, restart ? 'backoff' : 'failed', `${cause}: ${detail}`, cause);
}

/** The process group is empty: settle where `ending.then` says. */
export function groupGone(t: Turn, reason: string): void {
  const { d, ctx } = t;
  cancel(t, 'stop_timeout');
  if (d.spec.schedule?.timeout_seconds) cancel(t, 'job_timeout');
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
    case 'throttle': {
      // Rate-limited, not crashed: exactly the wait it named (jittered), no retry spent, no backoff.
      const asked = d.agent.throttleMs!;
      const wait = throttleDelayMs(asked, ctx.random);
      d.restarts++;
      d.backoff = { kind: 'throttle', nextStartAt: ctx.now + wait };
      setState(t, 'throttled', `${reason}; throttled: restarts in ${(wait / 1000).toFixed(wait < 10_000 ? 2 : 0)}s (not counted against max_retries)`);
      t.fx.push({ type: 'event', event: 'throttled', data: { retry_after_seconds: asked / 1000, wait_seconds: wait / 1000, exit_code: d.lastExit?.code ?? null } });
      arm(t, 'backoff', wait);
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
 * A stop or restart someone asked for (a command, an update, the fleet stopping, a removal). A
 * running service that has reported in-flight work drains first: not ready, its heartbeat answer
 * says drain, and the stop signal waits for inflight 0 or drain.timeout_seconds. One already
 * draining keeps draining, towards what was asked last.
 */
export function plannedStop(t: Turn, then: After, reason: string, cause: ExitReason): void {
  const { d, ctx } = t;
  if (d.drain) { d.drain = { then, cause, reason, startedAt: d.drain.startedAt }; return; }
  const timeout = d.spec.drain.timeout_seconds;
  if (d.state !== 'running' || !d.run || !d.agent.everInflight || timeout <= 0) { beginStop(t, then, reason, cause); return; }
  stopMonitoring(t);
  d.drain = { then, cause, reason, startedAt: ctx.now };
  setState(t, 'draining', `${reason}; draining: waiting for ${d.agent.inflight ?? 0} in-flight to finish (at most ${timeout}s)`);
  t.fx.push({ type: 'event', event: 'drain_started', data: { inflight: d.agent.inflight, timeout_seconds: timeout } });
  arm(t, 'drain', timeout * 1000);
}

/** The drain is over (inflight 0, its timeout, or the process exited): say so, and hand back what was planned. */
export function drainOver(t: Turn, how: 'drain_finished' | 'drain_timeout', by: 'inflight' | 'timeout' | 'exit'): Drain {
  const { d, ctx } = t;
  const drain = d.drain!;
  t.fx.push({
    type: 'event', event: how,
    data: { inflight: d.agent.inflight, waited_seconds: (ctx.now - drain.startedAt) / 1000, timeout_seconds: d.spec.drain.timeout_seconds, by },
  });
  cancel(t, 'drain');
  d.drain = null;
  return drain;
}

/** The drain is over while the process runs: the planned stop goes on, with the stop signal. */
export function endDrain(t: Turn, how: 'drain_finished' | 'drain_timeout', by: 'inflight' | 'timeout'): void {
  const drain = drainOver(t, how, by);
  beginStop(t, drain.then, how === 'drain_timeout' ? `${drain.reason}; drain timed out after ${t.d.spec.drain.timeout_seconds}s` : drain.reason, drain.cause);
}

/** Wanted up again while draining for a stop: the stop is off, the run goes on being watched. */
export function cancelDrain(t: Turn, reason: string): void {
  cancel(t, 'drain');
  t.d.drain = null;
  setState(t, 'running', reason);
  beginMonitoring(t, true);
  watchRun(t, false);
}

export function waitingReason(d: ServiceData): string {
  return `waiting for ${d.deps.waitingFor.join(', ')} to be healthy`;
}

export function describeExit(code: number | null, signal: string | null): string {
  return signal ? `killed by ${signal}` : `exited with code ${code}`;
}
