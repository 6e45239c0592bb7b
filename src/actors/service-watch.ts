/**
 * Watching a run: liveness and readiness probes, usage samples, and what the run says of itself —
 * heartbeats and output — against their deadlines (issue 15). Each step changes the draft data and
 * appends effects; a step that finds the run has to be ended returns why, and the state handler
 * (service.ts) ends it, so this file never imports the run steps (service-run.ts imports it).
 */
import {
  afterProbe, afterReadiness, describeProbeFailure, heartbeatCounts, idleLimits, idleProbe, idleReadiness, startProbing,
} from './health.js';
import type { ExitReason, Health, ProbeKind, ProbeResult, ServiceMsg } from './protocol.js';
import { KEEP_ALIVE_BELOW_MS } from './policy.js';
import { monitoredRun, probesEnabled, publicHealth, readinessEnabled } from './service-data.js';
import { arm, cancel, type Turn } from './service-turn.js';

type Msg<T extends ServiceMsg['type']> = Extract<ServiceMsg, { type: T }>;

/** The run has to be ended (and, as its restart policy says, restarted) for this cause. */
export interface Failure {
  cause: ExitReason;
  detail: string;
}

/**
 * Watch a run: probes (or, without a health check, the timer that resets the attempt counter once
 * it has stayed up long enough), the readiness probe, and usage samples. `adopted`: the run has
 * been up for a while. Heartbeat and silence deadlines are the run's own (see watchRun).
 */
export function beginMonitoring(t: Turn, adopted: boolean): void {
  const { d, ctx } = t;
  d.health = 'unknown';
  d.limits = idleLimits();
  d.probe = idleProbe();
  d.readiness = idleReadiness();
  if (probesEnabled(d)) {
    const { track, firstDelayMs } = startProbing(d.spec.health, ctx.now, adopted);
    d.probe = track;
    arm(t, 'probe', firstDelayMs);
  } else {
    arm(t, 'stable', d.spec.restart_policy.reset_after_seconds * 1000);
  }
  if (readinessEnabled(d)) arm(t, 'ready_probe', adopted ? 0 : d.spec.health.initial_delay_seconds * 1000);
  if (d.run) arm(t, 'sample', onSampleGrid(ctx.now, d.settings.sampleIntervalMs));
}

export function stopMonitoring(t: Turn): void {
  for (const name of ['probe', 'ready_probe', 'sample', 'stable'] as const) cancel(t, name);
  t.d.probe.inFlight = false;
  t.d.readiness.inFlight = false;
  stopDeadlines(t);
}

/**
 * Arm the heartbeat and silence deadlines of the run (ours only: an external service is probed,
 * not watched for heartbeats), in place of any it had (a stall ends). A fresh run gets
 * max(heartbeat timeout, startup timeout) for its first heartbeat.
 */
export function watchRun(t: Turn, fresh: boolean): void {
  const { d, ctx } = t;
  if (!d.run) return;
  if (d.agent.stalledHeartbeat) setStall(t, 'heartbeat', false);
  if (d.agent.stalledSilence) setStall(t, 'silence', false);
  stopDeadlines(t);
  const { heartbeat, silence, health } = d.spec;
  if (heartbeat) {
    const startup = fresh && health.startup_timeout_seconds !== null ? health.startup_timeout_seconds : 0;
    const ms = Math.max(heartbeat.timeout_seconds, startup) * 1000;
    d.agent.heartbeatDue = ctx.now + ms;
    arm(t, 'heartbeat', ms);
  }
  if (silence) {
    d.agent.silenceDue = ctx.now + silence.timeout_seconds * 1000;
    arm(t, 'silence', silence.timeout_seconds * 1000);
  }
}

function stopDeadlines(t: Turn): void {
  const a = t.d.agent;
  if (a.heartbeatDue !== null) cancel(t, 'heartbeat');
  if (a.silenceDue !== null) cancel(t, 'silence');
  a.heartbeatDue = null;
  a.silenceDue = null;
  a.stalledHeartbeat = false;
  a.stalledSilence = false;
}

/**
 * Samples fall on a grid shared by every actor, so the kernel serves the whole fleet with one
 * /proc scan per tick instead of one per service.
 */
export function onSampleGrid(now: number, intervalMs: number): number {
  return intervalMs - (now % intervalMs);
}

// ---------------------------------------------------------------------------------------------
// Probes

/** Send the liveness (health_endpoint) or readiness (health.readiness_endpoint) probe, one at a time each. */
export function sendProbe(t: Turn, kind: ProbeKind): void {
  const { d } = t;
  const runId = monitoredRun(d);
  const liveness = kind === 'liveness';
  const state = liveness ? d.probe : d.readiness;
  if (!runId || state.inFlight || !(liveness ? probesEnabled(d) : readinessEnabled(d))) return;
  state.inFlight = true;
  state.sentAt = t.ctx.now;
  t.fx.push({
    type: 'probe', kind, id: d.spec.id, runId, gen: liveness ? d.timers.probe : d.timers.ready_probe,
    url: liveness ? d.spec.health_endpoint! : d.spec.health.readiness_endpoint!, timeoutMs: d.spec.health.timeout_seconds * 1000,
    keepAlive: d.spec.health.interval_seconds * 1000 < KEEP_ALIVE_BELOW_MS,
  });
}

/** A probe result: account it, and say whether liveness is lost (a readiness probe never fails the run). */
export function probed(t: Turn, msg: Msg<'probed'>): Failure | null {
  const { d } = t;
  const result: ProbeResult = { ok: msg.ok, latencyMs: msg.latencyMs, status: msg.status, error: msg.error, at: t.ctx.now };
  if (msg.kind === 'readiness') {
    const step = afterReadiness(d.readiness, d.spec.health, result);
    d.readiness = step.track;
    arm(t, 'ready_probe', step.nextDelayMs);
    return null;
  }
  const step = afterProbe(d.probe, d.health, d.spec.health, result);
  const before = publicHealth(d);
  d.probe = step.track;
  if (step.health !== d.health) {
    d.health = step.health;
    if (step.health === 'healthy') arm(t, 'stable', d.spec.restart_policy.reset_after_seconds * 1000);
    else cancel(t, 'stable');
  }
  if (publicHealth(d) !== before) {
    t.fx.push({ type: 'event', event: 'health', data: { from: before, to: publicHealth(d), latency_ms: msg.latencyMs, status: msg.status ?? null, error: msg.error ?? null } });
  }
  // An external service is only watched: it stays up, unhealthy, and probed.
  if (step.failed && d.run) return { cause: 'unhealthy', detail: describeProbeFailure(step.track, d.run.startedAt, result) };
  arm(t, 'probe', step.nextDelayMs);
  return null;
}

// ---------------------------------------------------------------------------------------------
// What the run says of itself

/** Record a heartbeat's fields in the view (every heartbeat, counted or not). */
export function noteHeartbeat(t: Turn, msg: Msg<'heartbeat'>): void {
  const a = t.d.agent;
  a.heartbeatAt = t.ctx.now;
  if (msg.progress !== undefined) a.progress = msg.progress;
  if (msg.inflight !== undefined) { a.inflight = msg.inflight; a.everInflight = true; }
  if (msg.status !== undefined) a.statusText = msg.status;
}

/** A heartbeat of the running run: recorded; if it counts, the deadline moves and a stall ends. */
export function heartbeat(t: Turn, msg: Msg<'heartbeat'>): void {
  noteHeartbeat(t, msg);
  const { d, ctx } = t;
  const rules = d.spec.heartbeat;
  if (!rules || !d.run || !heartbeatCounts(rules.require_progress, d.agent.countedProgress, msg.progress)) return;
  if (msg.progress !== undefined) d.agent.countedProgress = msg.progress;
  const ms = rules.timeout_seconds * 1000;
  // Lazy deadline: the timer, when it fires, re-arms itself for what is left.
  if (d.agent.heartbeatDue === null) arm(t, 'heartbeat', ms);
  d.agent.heartbeatDue = ctx.now + ms;
  if (d.agent.stalledHeartbeat) setStall(t, 'heartbeat', false);
}

/** Output from the run: the silence deadline moves, and a silence stall ends. */
export function output(t: Turn): void {
  const { d, ctx } = t;
  if (!d.spec.silence || !d.run) return;
  const ms = d.spec.silence.timeout_seconds * 1000;
  if (d.agent.silenceDue === null) arm(t, 'silence', ms);
  d.agent.silenceDue = ctx.now + ms;
  if (d.agent.stalledSilence) setStall(t, 'silence', false);
}

/**
 * The heartbeat or silence timer fired. Before its deadline (it moved since): armed again for the
 * rest. At it: the timeout event, then, by action, a failure to restart with, or a stall (alert;
 * the deadline is not watched again until a counted heartbeat or output).
 */
export function deadline(t: Turn, which: 'heartbeat' | 'silence'): Failure | null {
  const { d, ctx } = t;
  const rules = which === 'heartbeat' ? d.spec.heartbeat : d.spec.silence;
  const due = which === 'heartbeat' ? d.agent.heartbeatDue : d.agent.silenceDue;
  if (!rules || due === null) return null;
  if (ctx.now < due) { arm(t, which, due - ctx.now); return null; }
  if (which === 'heartbeat') d.agent.heartbeatDue = null; else d.agent.silenceDue = null;
  const data: Record<string, unknown> = { action: rules.action, timeout_seconds: rules.timeout_seconds };
  const at = d.agent.heartbeatAt;
  if (which === 'heartbeat') data.last_heartbeat_age_seconds = at === null ? null : Math.round((ctx.now - at) / 100) / 10;
  t.fx.push({ type: 'event', event: which === 'heartbeat' ? 'heartbeat_timeout' : 'silence', data });
  const detail = which === 'heartbeat'
    ? `no ${d.spec.heartbeat!.require_progress ? 'progress' : 'heartbeat'} for ${rules.timeout_seconds}s`
    : `no output for ${rules.timeout_seconds}s`;
  if (rules.action === 'restart') return { cause: which === 'heartbeat' ? 'heartbeat_timeout' : 'silence', detail };
  setStall(t, which, true);
  return null;
}

/** Enter or leave a stall; a 'health' event when the health shown changes. */
function setStall(t: Turn, which: 'heartbeat' | 'silence', on: boolean): void {
  const { d } = t;
  const before: Health = publicHealth(d);
  if (which === 'heartbeat') d.agent.stalledHeartbeat = on; else d.agent.stalledSilence = on;
  const after = publicHealth(d);
  if (after !== before) t.fx.push({ type: 'event', event: 'health', data: { from: before, to: after, reason: which } });
}
