/**
 * How the end of a run is judged — a spawn that failed, an exit nobody asked for (crashed, exited,
 * disk full, throttled, over its quota) — for the state handlers in service.ts: the exit recorded,
 * the supervisor told, and what follows once the process group is gone.
 */
import { isAbnormal, restartType, shouldRestart } from './policy.js';
import type { ServiceMsg } from './protocol.js';
import type { ServiceData } from './service-data.js';
import { describeExit, groupGone, setState, signalStop, type Turn } from './service-run.js';
import { stopMonitoring } from './service-watch.js';

type Msg<T extends ServiceMsg['type']> = Extract<ServiceMsg, { type: T }>;

/** The spawn failed: record it and tell the supervisor. True when the service is to be retried. */
export function spawnFailed(t: Turn, msg: Msg<'spawn_failed'>): boolean {
  const { d } = t;
  d.spawn.pendingRunId = null;
  const reason = msg.cause ?? 'spawn_failed';
  d.lastExit = { code: null, signal: null, reason, at: t.ctx.now, detail: msg.error };
  t.fx.push({ type: 'event', event: 'exit', data: { reason, error: msg.error } });
  const restart = d.want === 'up' && shouldRestart(restartType(d.spec), true, d.settings.recoveryEnabled);
  t.fx.push({ type: 'notify', note: { type: 'child_exit', id: d.spec.id, abnormal: true, willRestart: restart } });
  return restart;
}

/** The state's reason after a failed start: "spawn failed: …", or "env_file: …" / "secret: …". */
export function spawnFailedReason(msg: Msg<'spawn_failed'>): string {
  return `${msg.cause ?? 'spawn failed'}: ${msg.error}`;
}

/**
 * The run's leader exited: record why. A run that exits abnormally with the log disk full died of
 * the environment, not of its own fault (its log writes failed, most likely).
 */
export function recordExit(t: Turn, msg: Msg<'exited'>): { abnormal: boolean; diskFull: boolean } {
  const { d } = t;
  const abnormal = isAbnormal(msg.code, msg.signal);
  const diskFull = msg.cause === 'log_disk_full' && abnormal && !d.ending.cause;
  const reason = d.ending.cause ?? (diskFull ? 'log_disk_full' : abnormal ? (msg.signal ? 'killed' : 'crashed') : 'exited');
  d.lastExit = { code: msg.code, signal: msg.signal, reason, at: t.ctx.now };
  t.fx.push({ type: 'event', event: 'exit', data: { pid: d.run!.pid, code: msg.code, signal: msg.signal, reason } });
  stopMonitoring(t);
  return { abnormal, diskFull };
}

/**
 * Nobody asked for this exit: decide per restart type, then clear what is left of the group. A
 * disk-full exit waits for space and restarts then, without spending max_retries or counting
 * towards its group's intensity.
 */
export function unrequestedExit(t: Turn, msg: Msg<'exited'>): void {
  const { d } = t;
  const wait = throttleWait(d, msg);
  if (wait !== null) { throttledExit(t, msg, wait); return; }
  const { abnormal, diskFull } = recordExit(t, msg);
  const held = diskFull && d.want === 'up' && d.settings.recoveryEnabled;
  const restart = !held && d.want === 'up' && shouldRestart(restartType(d.spec), abnormal, d.settings.recoveryEnabled);
  t.fx.push({ type: 'notify', note: { type: 'child_exit', id: d.spec.id, abnormal: abnormal && !held, willRestart: restart } });
  d.ending.then = held ? 'disk' : restart ? 'backoff' : abnormal ? 'failed' : 'stopped';
  clearGroup(t, msg, `${describeExit(msg.code, msg.signal)}${diskFull ? ' with the log disk full' : ''}`);
}

/** The leader is gone: settle now if its group is empty, else stop what is left of the group first. */
function clearGroup(t: Turn, msg: Msg<'exited'>, why: string): void {
  if (msg.groupEmpty) { groupGone(t, why); return; }
  setState(t, 'exited', `${why}; stopping what is left of its process group`);
  signalStop(t, t.d.run!.runId);
}

/**
 * The wait of a throttled exit, or null when the exit is not one: after a throttle message, any
 * exit; else an exit code listed in throttle.exit_codes. Only for a service that would restart.
 */
function throttleWait(d: ServiceData, msg: Msg<'exited'>): number | null {
  if (d.want !== 'up' || !shouldRestart(restartType(d.spec), true, d.settings.recoveryEnabled)) return null;
  if (d.agent.throttleMs !== null) return d.agent.throttleMs;
  const { exit_codes, default_seconds } = d.spec.throttle;
  return msg.signal === null && msg.code !== null && exit_codes.includes(msg.code) ? default_seconds * 1000 : null;
}

/**
 * Rate-limited, not crashed: the named wait (groupGone, then state throttled), or failed with
 * reason quota when that is over throttle.max_seconds. Neither spends a retry, nor counts towards
 * its group's intensity: willRestart false, so the supervisor charges nothing and restarts no sibling.
 */
function throttledExit(t: Turn, msg: Msg<'exited'>, ms: number): void {
  const { d } = t;
  const { max_seconds } = d.spec.throttle;
  const quota = ms > max_seconds * 1000;
  d.agent.throttleMs = ms;
  d.ending.cause = quota ? 'quota' : 'throttled';
  recordExit(t, msg);
  d.ending.cause = null;
  d.ending.then = quota ? 'failed' : 'throttle';
  t.fx.push({ type: 'notify', note: { type: 'child_exit', id: d.spec.id, abnormal: quota, willRestart: false } });
  if (quota) t.fx.push({ type: 'event', event: 'quota', data: { retry_after_seconds: ms / 1000, max_seconds } });
  const why = describeExit(msg.code, msg.signal);
  clearGroup(t, msg, quota ? `${why}; quota: asked to wait ${ms / 1000}s, over throttle.max_seconds (${max_seconds}s)` : why);
}
