/**
 * Health and limit accounting of one run, as pure functions: observations (probe results, usage
 * samples) in, a new track and a decision out. The ServiceActor owns the timers and acts on the
 * decisions; keeping the counting here lets it be tested alone and reused.
 *
 * Liveness, as DESIGN §2 has it: `success_threshold` passing probes make a run healthy;
 * `failure_threshold` consecutive failures (or a start-up grace spent without ever being healthy:
 * health.startup_timeout_seconds when set) fail it. Probes come fast right after start, then on
 * the interval. Readiness is the same counting under other rules: it never fails the run. A
 * resource limit breached for LIMIT_BREACH_SAMPLES consecutive samples fails the run too.
 */
import type { ServiceSpec } from '../config/schema.js';
import { LIMIT_BREACH_SAMPLES, nextFastProbeDelay, onSlot, probeSlot, startupGraceMs } from './policy.js';
import type { Health, ProbeResult, Usage } from './protocol.js';

export type ProbeRules = ServiceSpec['health'];

/** The probe loop of one run. */
export interface ProbeTrack {
  /** A probe has left and not come back: probes of one service never overlap. */
  inFlight: boolean;
  sentAt: number;
  okStreak: number;
  failStreak: number;
  /** The last fast-probe delay (fast probing lasts until the first healthy verdict). */
  fastDelay: number;
  /** Before the first success, failures do not count until then. */
  graceUntil: number;
  /** The grace is health.startup_timeout_seconds (a fresh run of a service that sets it). */
  startupTimeout: boolean;
  everHealthy: boolean;
  last: ProbeResult | null;
}

export function idleProbe(): ProbeTrack {
  return { inFlight: false, sentAt: 0, okStreak: 0, failStreak: 0, fastDelay: 0, graceUntil: 0, startupTimeout: false, everHealthy: false, last: null };
}

/**
 * The track for a run that starts being watched now, and the delay to its first probe. A run we
 * adopted has been up for a while: probe at once, and give it the grace without the initial delay.
 * A fresh run of a service with health.startup_timeout_seconds has exactly that long instead.
 */
export function startProbing(rules: ProbeRules, now: number, adopted: boolean): { track: ProbeTrack; firstDelayMs: number } {
  const track = idleProbe();
  track.startupTimeout = !adopted && rules.startup_timeout_seconds !== null;
  track.graceUntil = now + (track.startupTimeout
    ? rules.startup_timeout_seconds! * 1000
    : startupGraceMs(adopted ? { ...rules, initial_delay_seconds: 0 } : rules));
  return { track, firstDelayMs: adopted ? 0 : rules.initial_delay_seconds * 1000 };
}

export interface ProbeStep {
  track: ProbeTrack;
  health: Health;
  /** Liveness lost: failure_threshold failures in a row, or the start-up grace spent unhealthy. */
  failed: boolean;
  /** When to probe next, if the run goes on: fast until first healthy, then on the interval. */
  nextDelayMs: number;
}

/** Account one probe result (`result.at` is now). */
export function afterProbe(track: ProbeTrack, health: Health, rules: ProbeRules, result: ProbeResult): ProbeStep {
  const now = result.at;
  const p: ProbeTrack = {
    inFlight: false, sentAt: track.sentAt, okStreak: track.okStreak, failStreak: track.failStreak,
    fastDelay: track.fastDelay, graceUntil: track.graceUntil, startupTimeout: track.startupTimeout, everHealthy: track.everHealthy, last: result,
  };
  let next = health;
  if (result.ok) {
    p.okStreak++;
    p.failStreak = 0;
    if (health !== 'healthy' && p.okStreak >= rules.success_threshold) {
      next = 'healthy';
      p.everHealthy = true;
    }
  } else {
    p.okStreak = 0;
    const inGrace = !p.everHealthy && now < p.graceUntil;
    if (!inGrace) {
      // Once the start-up grace is spent, a run that never became healthy has used its budget.
      p.failStreak = p.everHealthy ? p.failStreak + 1 : rules.failure_threshold;
      next = 'unhealthy';
    }
  }
  const intervalMs = rules.interval_seconds * 1000;
  let nextDelayMs: number;
  if (!p.everHealthy) {
    p.fastDelay = nextFastProbeDelay(p.fastDelay, intervalMs);
    nextDelayMs = p.fastDelay;
  } else {
    nextDelayMs = onSlot(now, Math.max(0, p.sentAt + intervalMs - now), probeSlot(intervalMs));
  }
  return { track: p, health: next, failed: p.failStreak >= rules.failure_threshold, nextDelayMs };
}

/** Why liveness was lost, for the state's reason (display only). */
export function describeProbeFailure(track: ProbeTrack, startedAt: number, result: ProbeResult): string {
  const within = `not healthy within ${Math.round((track.graceUntil - startedAt) / 1000)}s of start`;
  const why = track.everHealthy
    ? `${track.failStreak} consecutive failed health checks`
    : track.startupTimeout ? `startup timeout: ${within} (health.startup_timeout_seconds)` : within;
  return `${why}: ${result.error ?? `HTTP ${result.status}`}`;
}

/**
 * The readiness probe loop of one run (health.readiness_endpoint): the liveness counting without
 * its consequences. success_threshold passes make it ready, failure_threshold failures in a row
 * not ready; it never fails the run. Fast probes until the first pass, then the interval.
 */
export interface ReadinessTrack {
  inFlight: boolean;
  sentAt: number;
  okStreak: number;
  failStreak: number;
  fastDelay: number;
  passing: boolean;
  everPassed: boolean;
  last: ProbeResult | null;
}

export function idleReadiness(): ReadinessTrack {
  return { inFlight: false, sentAt: 0, okStreak: 0, failStreak: 0, fastDelay: 0, passing: false, everPassed: false, last: null };
}

/** Account one readiness probe result (`result.at` is now); the delay is to the next probe. */
export function afterReadiness(track: ReadinessTrack, rules: ProbeRules, result: ProbeResult): { track: ReadinessTrack; nextDelayMs: number } {
  const now = result.at;
  const r: ReadinessTrack = {
    inFlight: false, sentAt: track.sentAt, okStreak: result.ok ? track.okStreak + 1 : 0, failStreak: result.ok ? 0 : track.failStreak + 1,
    fastDelay: track.fastDelay, passing: track.passing, everPassed: track.everPassed, last: result,
  };
  if (r.okStreak >= rules.success_threshold) { r.passing = true; r.everPassed = true; }
  if (r.failStreak >= rules.failure_threshold) r.passing = false;
  const intervalMs = rules.interval_seconds * 1000;
  if (!r.everPassed) {
    r.fastDelay = nextFastProbeDelay(r.fastDelay, intervalMs);
    return { track: r, nextDelayMs: r.fastDelay };
  }
  return { track: r, nextDelayMs: onSlot(now, Math.max(0, r.sentAt + intervalMs - now), probeSlot(intervalMs)) };
}

/**
 * Whether a heartbeat counts (re-arms the deadline, ends a stall): always, or with
 * require_progress only when it carries a progress value other than the last counted one.
 */
export function heartbeatCounts(requireProgress: boolean, lastCounted: number | null, progress: number | undefined): boolean {
  if (!requireProgress) return true;
  return progress !== undefined && progress !== lastCounted;
}

/** Consecutive over-limit samples, per limit. */
export interface LimitTrack {
  memory: number;
  cpu: number;
}

export function idleLimits(): LimitTrack {
  return { memory: 0, cpu: 0 };
}

export type Limits = ServiceSpec['resources'];

/** A limit breached for LIMIT_BREACH_SAMPLES samples in a row: the run is to be ended with `cause`. */
export type LimitBreach =
  | { limit: 'memory'; cause: 'memory_limit'; rss: number; max: number }
  | { limit: 'cpu'; cause: 'cpu_limit'; cpu: number; max: number };

/** Account one usage sample; memory is judged before CPU. */
export function afterSample(track: LimitTrack, limits: Limits, usage: Usage): { track: LimitTrack; breach: LimitBreach | null } {
  const { max_memory, max_cpu } = limits;
  const next: LimitTrack = {
    memory: max_memory !== null && usage.rss > max_memory ? track.memory + 1 : 0,
    cpu: max_cpu !== null && usage.cpu > max_cpu ? track.cpu + 1 : 0,
  };
  if (next.memory >= LIMIT_BREACH_SAMPLES) return { track: next, breach: { limit: 'memory', cause: 'memory_limit', rss: usage.rss, max: max_memory! } };
  if (next.cpu >= LIMIT_BREACH_SAMPLES) return { track: next, breach: { limit: 'cpu', cause: 'cpu_limit', cpu: usage.cpu, max: max_cpu! } };
  return { track: next, breach: null };
}

/** The breach for the state's reason (display only). */
export function describeBreach(b: LimitBreach): string {
  return b.limit === 'memory'
    ? `RSS ${b.rss} B over ${b.max} B for ${LIMIT_BREACH_SAMPLES} samples`
    : `CPU ${b.cpu.toFixed(1)}% over ${b.max}% for ${LIMIT_BREACH_SAMPLES} samples`;
}
