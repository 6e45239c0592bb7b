/**
 * Restart policy as pure functions: whether an exit is restarted, and after how long.
 * Vocabulary from OTP (permanent / transient / temporary).
 */
import type { RestartType } from '../config/schema.js';

export const JITTER = 0.2;

/** OTP: permanent always restarts, transient only after an abnormal exit, temporary never. */
export function shouldRestart(restart: RestartType, abnormal: boolean, recoveryEnabled: boolean): boolean {
  if (!recoveryEnabled) return false;
  switch (restart) {
    case 'permanent': return true;
    case 'transient': return abnormal;
    case 'temporary': return false;
  }
}

/**
 * The restart type that applies: a scheduled job runs to completion, so its exit 0 ends the run
 * and the schedule starts the next one — permanent acts as transient (a failure is still retried
 * within the run, per restart_policy).
 */
export function restartType(spec: { restart: RestartType; schedule?: unknown }): RestartType {
  return spec.schedule && spec.restart === 'permanent' ? 'transient' : spec.restart;
}

/** An exit is normal only when the process itself exited with status 0 (not a signal, not a health or limit kill). */
export function isAbnormal(code: number | null, signal: string | null): boolean {
  return signal !== null || code !== 0;
}

export interface BackoffPolicy {
  backoff_seconds: number;
  max_backoff_seconds: number;
}

/**
 * Delay before restart attempt `attempt` (1-based): backoff_seconds × 2^(attempt-1), capped at
 * max_backoff_seconds, then ±20 % jitter so a fleet that crashed together does not restart in step.
 * `random` returns [0, 1).
 */
export function backoffDelayMs(policy: BackoffPolicy, attempt: number, random: () => number): number {
  const base = policy.backoff_seconds * 1000;
  if (base <= 0) return 0;
  const cap = Math.max(policy.max_backoff_seconds * 1000, base);
  const raw = Math.min(base * 2 ** Math.max(0, Math.min(attempt - 1, 40)), cap);
  const jitter = 1 + JITTER * (2 * random() - 1);
  return Math.max(0, Math.round(raw * jitter));
}

/** A throttled wait is the named time, ±THROTTLE_JITTER (a fleet throttled together does not restart in step). */
export const THROTTLE_JITTER = 0.1;

export function throttleDelayMs(ms: number, random: () => number): number {
  return Math.max(0, Math.round(ms * (1 + THROTTLE_JITTER * (2 * random() - 1))));
}

/**
 * Fast probing right after start: begin at this delay, grow by FAST_PROBE_GROWTH, never past
 * FAST_PROBE_MAX_MS — so a fresh service is seen healthy at most 50 ms after it answers (25 ms on
 * average; a restart is back in service that much sooner), while a slow-booting one costs about
 * twenty refused loopback connections a second.
 */
export const FAST_PROBE_FIRST_MS = 20;
export const FAST_PROBE_GROWTH = 1.25;
export const FAST_PROBE_MAX_MS = 50;

/**
 * Start-up grace: failed probes before the first success do not count until the service had
 * initial_delay + failure_threshold × interval (what plain interval probing would give it), and
 * never less than this.
 */
export const STARTUP_GRACE_MIN_MS = 2000;

export function startupGraceMs(h: { initial_delay_seconds: number; failure_threshold: number; interval_seconds: number }): number {
  return h.initial_delay_seconds * 1000 + Math.max(STARTUP_GRACE_MIN_MS, h.failure_threshold * h.interval_seconds * 1000);
}

export function nextFastProbeDelay(previous: number, intervalMs: number): number {
  const cap = Math.min(FAST_PROBE_MAX_MS, intervalMs);
  return Math.min(cap, previous <= 0 ? FAST_PROBE_FIRST_MS : Math.round(previous * FAST_PROBE_GROWTH));
}

/**
 * A service that exited because the log disk was full waits for space (the orchestrator says when,
 * log_disk_ok) — and tries again after max_backoff_seconds, never less than this, in case it is
 * not told.
 */
export const LOG_DISK_RETRY_MIN_MS = 10_000;

/**
 * OTP's add_restart, the one restart window: the restart times still within `periodMs` of `now`,
 * plus `now`, and whether they exceed `intensity`. Times are on the monotonic (boot) clock, oldest
 * first. Used by group supervisors, by the host for crashing actors, and for the actor worker.
 */
export function addRestart(times: readonly number[], now: number, periodMs: number, intensity: number): { times: number[]; exceeded: boolean } {
  const kept = times.filter((t) => now - t < periodMs);
  kept.push(now);
  return { times: kept, exceeded: kept.length > intensity };
}

/** Consecutive over-limit samples that trigger a restart. */
export const LIMIT_BREACH_SAMPLES = 3;

/** After SIGKILL, re-send it this often while the group is not yet empty. */
export const KILL_RETRY_MS = 1000;

/**
 * Interval probes start on slots, a hundredth of their interval (10 ms at the least, 1 s at the
 * most), on a grid shared by the fleet: its probes then leave (and their results return) in batches,
 * one thread message and one wake-up per slot instead of one per probe. 1 s probes go on 10 ms
 * slots, 30 s ones on 300 ms slots. Moves a probe by at most half a slot (0.5 % of its interval).
 */
export const PROBE_SLOT_MS = 10;
const PROBE_SLOT_MAX_MS = 1000;

/**
 * Servers commonly drop a connection idle for 5 s (Node's http server, uvicorn, gunicorn's 2 s):
 * probes further apart find theirs closed and connect anew anyway. They ask for no keep-alive
 * (Connection: close), so no idle socket of theirs lingers in memory, and nothing wakes the
 * orchestrator seconds later when the server drops it. Closer probes keep their connection.
 */
export const KEEP_ALIVE_BELOW_MS = 5000;

/** The slot of probes `intervalMs` apart. */
export function probeSlot(intervalMs: number): number {
  return Math.min(PROBE_SLOT_MAX_MS, Math.max(PROBE_SLOT_MS, Math.round(intervalMs / 100 / PROBE_SLOT_MS) * PROBE_SLOT_MS));
}

/** Delay to the slot nearest `now + delayMs` (never in the past), so the interval holds on average. */
export function onSlot(now: number, delayMs: number, slotMs = PROBE_SLOT_MS): number {
  return Math.max(0, Math.round((now + delayMs) / slotMs) * slotMs - now);
}
