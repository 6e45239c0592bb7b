/**
 * ServiceActor: the lifecycle of one managed service as a pure transition
 *   transition(data, msg, ctx) → { data, effects }
 * It owns the service's state machine, health loop, backoff and resource limits, and decides
 * everything; the kernel (main thread) only acts on its effects and reports facts back.
 *
 *   stopped → starting → running(health) → stopping → stopped
 *   running → exited → backoff → starting …        failed once the retry budget is spent
 *
 * Dispatch is state first, as in xstate: the handler of the current state takes the messages that
 * mean something there; what it leaves falls through to anyState (commands that act the same in
 * every state, facts that apply in any state). Stale messages — a timer of an old generation, a
 * fact about another run — are dropped before either sees them, so cancelling a timer is just
 * bumping its generation. Time comes from ctx.now (boot clock).
 *
 * The data lives in service-data.ts, the steps taken with a run in service-run.ts, and probe and
 * limit accounting in health.ts.
 */
import { afterProbe, afterSample, describeBreach, describeProbeFailure } from './health.js';
import { isAbnormal, shouldRestart } from './policy.js';
import {
  assertNever, type LogicContext, type ProbeResult, type ServiceEffect, type ServiceMsg, type ServiceState, type Step,
} from './protocol.js';
import {
  draft, hasProcess, isReady, monitoredRun, probesEnabled, type ServiceData,
} from './service-data.js';
import {
  arm, beginMonitoring, beginStop, cancel, describeExit, failAndRestart, groupGone, killGroup, onSampleGrid,
  setState, signalStop, spawn, startNow, stopMonitoring, waitingReason, type Turn,
} from './service-run.js';

export { EXTERNAL_RUN, hasProcess, initialData, isReady, probesEnabled, view } from './service-data.js';
export type { ServiceData, ServiceSettings } from './service-data.js';

type Msg<T extends ServiceMsg['type']> = Extract<ServiceMsg, { type: T }>;
/** A state's handler: true when it took the message, false to leave it to anyState. */
type StateHandler = (t: Turn, msg: ServiceMsg) => boolean;

export function transition(data: ServiceData, msg: ServiceMsg, ctx: LogicContext): Step<ServiceData, ServiceEffect> {
  const t: Turn = { d: draft(data), fx: [], ctx };
  if (!stale(data, msg) && !byState[data.state](t, msg)) anyState(t, msg);
  finish(data, t, msg.type === 'adopt');
  return { data: t.d, effects: t.fx };
}

/**
 * Derived notifications: a state event on every state change, readiness changes to the supervisor.
 * `adopted`: the actor began as its process was (running, maybe carried healthy), so no change
 * shows; its supervisor has not heard of it yet and must learn it is ready, or dependents wait forever.
 */
function finish(before: ServiceData, { d, fx }: Turn, adopted: boolean): void {
  if (before.state !== d.state) {
    fx.push({ type: 'event', event: 'state', data: { from: before.state, to: d.state, reason: d.reason, pid: d.run?.pid ?? null } });
  }
  const ready = isReady(d);
  if (isReady(before) !== ready || (adopted && ready)) fx.push({ type: 'notify', note: { type: 'child_ready', id: d.spec.id, ready } });
}

/** A timer of an old generation, or a fact about a run that is not (or no longer) the current one. */
function stale(d: ServiceData, msg: ServiceMsg): boolean {
  switch (msg.type) {
    case 'timer': return msg.gen !== d.timers[msg.name];
    case 'spawned': return msg.run.runId !== d.spawn.pendingRunId;
    case 'spawn_failed': return msg.runId !== d.spawn.pendingRunId;
    case 'exited': case 'group_empty': case 'sampled': return !d.run || msg.runId !== d.run.runId;
    case 'probed': return msg.runId !== monitoredRun(d) || msg.gen !== d.timers.probe;
    case 'output': case 'heartbeat': case 'throttle': return true; // issue 15: handled by the agent lifecycle
    case 'start': case 'stop': case 'restart': case 'give_up': case 'update': case 'adopt': case 'register_external':
    case 'log_disk_ok': case 'deps':
      return false;
    default: return assertNever(msg);
  }
}

// ---------------------------------------------------------------------------------------------
// One handler per state.

/** Nothing runs. A start or restart begins a run; a stop only forgets what was scheduled. */
function stopped(t: Turn, msg: ServiceMsg): boolean {
  switch (msg.type) {
    case 'start': case 'restart': startFresh(t, msg.reason); return true;
    case 'stop': halt(t); return true;
    default: return false;
  }
}

/** Gave up (retry budget spent, or its supervisor gave up): kept visible, restartable by hand. */
function failed(t: Turn, msg: ServiceMsg): boolean {
  switch (msg.type) {
    case 'start': case 'restart': startFresh(t, msg.reason); return true;
    default: return false;
  }
}

/** Waiting for the dependencies, or for the spawn to report. */
function starting(t: Turn, msg: ServiceMsg): boolean {
  const { d } = t;
  switch (msg.type) {
    case 'start': d.want = 'up'; d.attempts = 0; return true;
    case 'deps': {
      d.deps = { ready: msg.ready, waitingFor: msg.waitingFor };
      if (hasProcess(d)) return true;
      if (msg.ready && d.want === 'up') spawn(t, 'dependencies ready');
      else if (!msg.ready) d.reason = waitingReason(d);
      return true;
    }
    case 'spawned':
      d.spawn.pendingRunId = null;
      d.run = msg.run;
      setState(t, 'running', `started (pid ${msg.run.pid})`);
      beginMonitoring(t, false);
      return true;
    case 'spawn_failed':
      d.ending.then = spawnFailed(t, msg) ? 'backoff' : 'failed';
      groupGone(t, `spawn failed: ${msg.error}`);
      return true;
    default: return false;
  }
}

/** Up (our process, or an external service): probe it, sample it, and judge an exit nobody asked for. */
function running(t: Turn, msg: ServiceMsg): boolean {
  const { d } = t;
  switch (msg.type) {
    case 'start':
      d.want = 'up';
      d.attempts = 0;
      // An external service that is not healthy is started by us, when it can be.
      if (!d.run && d.spec.external && d.health !== 'healthy') { stopMonitoring(t); startNow(t, msg.reason); }
      return true;
    case 'adopt': {
      if (!d.run) return true;
      const wasHealthy = d.health === 'healthy';
      beginMonitoring(t, true);
      if (wasHealthy) { d.health = 'healthy'; d.probe.everHealthy = true; arm(t, 'stable', d.spec.restart_policy.reset_after_seconds * 1000); }
      return true;
    }
    case 'update': {
      const probeChanged = JSON.stringify([d.spec.health, d.spec.health_endpoint]) !== JSON.stringify([msg.spec.health, msg.spec.health_endpoint]);
      if (!update(t, msg) && probeChanged) beginMonitoring(t, true);
      return true;
    }
    case 'exited': unrequestedExit(t, msg); return true;
    case 'probed': probed(t, msg); return true;
    case 'sampled': sampled(t, msg); return true;
    case 'timer':
      switch (msg.name) {
        case 'probe': sendProbe(t); return true;
        case 'sample': if (d.run) t.fx.push({ type: 'sample', id: d.spec.id, runId: d.run.runId }); return true;
        default: return false;
      }
    default: return false;
  }
}

/**
 * We are ending the run (stopping), or it ended on its own and we are clearing the rest of its
 * group (exited): wait for the group to be empty, then settle as `ending.then` says.
 */
function stopping(t: Turn, msg: ServiceMsg): boolean {
  const { d } = t;
  switch (msg.type) {
    case 'start': d.want = 'up'; d.attempts = 0; d.ending.then = 'start'; return true;
    case 'spawned':
      // A stop arrived while the spawn was in flight: stop the fresh process right away.
      d.spawn.pendingRunId = null;
      d.run = msg.run;
      signalStop(t, msg.run.runId);
      return true;
    case 'spawn_failed': spawnFailed(t, msg); groupGone(t, `spawn failed: ${msg.error}`); return true;
    case 'exited':
      recordExit(t, msg);
      if (msg.groupEmpty) groupGone(t, d.reason);
      return true;
    case 'timer':
      if (msg.name !== 'stop_timeout') return false;
      killGroup(t);
      return true;
    default: return false;
  }
}

/** Between runs: the backoff timer (or log disk space) starts the next one. */
function backoff(t: Turn, msg: ServiceMsg): boolean {
  const { d } = t;
  switch (msg.type) {
    case 'start': case 'restart': startFresh(t, msg.reason); return true;
    case 'log_disk_ok':
      if (d.want !== 'up' || d.backoff.kind !== 'disk') return true;
      cancel(t, 'backoff');
      restartAfterDisk(t, 'the log disk has space again');
      return true;
    case 'timer':
      if (msg.name !== 'backoff') return false;
      if (d.want !== 'up') return true;
      if (d.backoff.kind === 'disk') { restartAfterDisk(t, 'trying again: the log disk may have space by now'); return true; }
      d.backoff.nextStartAt = null;
      startNow(t, `restart attempt ${d.attempts}`);
      return true;
    default: return false;
  }
}

const byState: Record<ServiceState, StateHandler> = { stopped, starting, running, draining: stopping, stopping, exited: stopping, backoff, throttled: backoff, failed };

/** What every state does alike: the commands (whether a process is to be stopped first), and what is left. */
function anyState(t: Turn, msg: ServiceMsg): void {
  const { d } = t;
  switch (msg.type) {
    case 'stop':
      halt(t);
      if (hasProcess(d)) { beginStop(t, 'stopped', msg.reason, 'stopped'); return; }
      stopMonitoring(t);
      d.health = 'unknown';
      setState(t, 'stopped', msg.reason);
      return;
    case 'restart':
      d.want = 'up';
      d.attempts = 0;
      cancel(t, 'backoff');
      if (hasProcess(d)) { d.restarts++; beginStop(t, 'start', msg.reason, 'restarted'); return; }
      startNow(t, msg.reason);
      return;
    case 'give_up':
      halt(t);
      if (hasProcess(d)) beginStop(t, 'failed', msg.reason, 'gave_up');
      else setState(t, 'failed', msg.reason);
      return;
    case 'update': update(t, msg); return;
    case 'register_external':
      d.want = 'up';
      setState(t, 'running', 'registered externally (not started by the orchestrator)');
      beginMonitoring(t, true);
      return;
    case 'deps': d.deps = { ready: msg.ready, waitingFor: msg.waitingFor }; return;
    case 'group_empty': groupGone(t, d.reason); return;
    case 'timer':
      // Healthy (or up) for reset_after_seconds: the failures before no longer count.
      if (msg.name === 'stable' && d.attempts > 0) {
        t.fx.push({ type: 'event', event: 'attempts_reset', data: { attempts: d.attempts } });
        d.attempts = 0;
      }
      return;
    // Meaningful in one state only (see its handler); anywhere else they change nothing.
    case 'start': case 'adopt': case 'spawned': case 'spawn_failed': case 'exited': case 'probed': case 'sampled':
    case 'log_disk_ok': case 'output': case 'heartbeat': case 'throttle':
      return;
    default: assertNever(msg);
  }
}

// ---------------------------------------------------------------------------------------------
// Steps shared by the handlers above.

/** A start or restart with nothing running: a fresh retry budget, and no backoff pending. */
function startFresh(t: Turn, reason: string): void {
  t.d.want = 'up';
  t.d.attempts = 0;
  cancel(t, 'backoff');
  startNow(t, reason);
}

/** Want down, and nothing scheduled to start. */
function halt(t: Turn): void {
  t.d.want = 'down';
  cancel(t, 'backoff');
  t.d.backoff.nextStartAt = null;
}

/** Take the new spec; restart the run if asked to. True when it restarts. */
function update(t: Turn, msg: Msg<'update'>): boolean {
  t.d.spec = msg.spec;
  if (!msg.restart || !hasProcess(t.d)) return false;
  t.d.restarts++;
  beginStop(t, 'start', 'spec changed', 'restarted');
  return true;
}

function restartAfterDisk(t: Turn, reason: string): void {
  t.d.backoff.nextStartAt = null;
  t.d.restarts++;
  startNow(t, reason);
}

/** The spawn failed: record it and tell the supervisor. True when the service is to be retried. */
function spawnFailed(t: Turn, msg: Msg<'spawn_failed'>): boolean {
  const { d } = t;
  d.spawn.pendingRunId = null;
  d.lastExit = { code: null, signal: null, reason: 'spawn_failed', at: t.ctx.now, detail: msg.error };
  t.fx.push({ type: 'event', event: 'exit', data: { reason: 'spawn_failed', error: msg.error } });
  const restart = d.want === 'up' && shouldRestart(d.spec.restart, true, d.settings.recoveryEnabled);
  t.fx.push({ type: 'notify', note: { type: 'child_exit', id: d.spec.id, abnormal: true, willRestart: restart } });
  return restart;
}

/**
 * The run's leader exited: record why. A run that exits abnormally with the log disk full died of
 * the environment, not of its own fault (its log writes failed, most likely).
 */
function recordExit(t: Turn, msg: Msg<'exited'>): { abnormal: boolean; diskFull: boolean } {
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
function unrequestedExit(t: Turn, msg: Msg<'exited'>): void {
  const { d } = t;
  const { abnormal, diskFull } = recordExit(t, msg);
  const held = diskFull && d.want === 'up' && d.settings.recoveryEnabled;
  const restart = !held && d.want === 'up' && shouldRestart(d.spec.restart, abnormal, d.settings.recoveryEnabled);
  t.fx.push({ type: 'notify', note: { type: 'child_exit', id: d.spec.id, abnormal: abnormal && !held, willRestart: restart } });
  d.ending.then = held ? 'disk' : restart ? 'backoff' : abnormal ? 'failed' : 'stopped';
  const why = `${describeExit(msg.code, msg.signal)}${diskFull ? ' with the log disk full' : ''}`;
  if (msg.groupEmpty) { groupGone(t, why); return; }
  setState(t, 'exited', `${why}; stopping what is left of its process group`);
  signalStop(t, d.run!.runId);
}

function sendProbe(t: Turn): void {
  const { d } = t;
  const runId = monitoredRun(d);
  if (!runId || d.probe.inFlight || !probesEnabled(d)) return;
  d.probe.inFlight = true;
  d.probe.sentAt = t.ctx.now;
  t.fx.push({
    type: 'probe', kind: 'liveness', id: d.spec.id, runId, gen: d.timers.probe,
    url: d.spec.health_endpoint!, timeoutMs: d.spec.health.timeout_seconds * 1000,
  });
}

function probed(t: Turn, msg: Msg<'probed'>): void {
  const { d } = t;
  const result: ProbeResult = { ok: msg.ok, latencyMs: msg.latencyMs, status: msg.status, error: msg.error, at: t.ctx.now };
  const step = afterProbe(d.probe, d.health, d.spec.health, result);
  const before = d.health;
  d.probe = step.track;
  if (step.health !== before) {
    d.health = step.health;
    if (step.health === 'healthy') arm(t, 'stable', d.spec.restart_policy.reset_after_seconds * 1000);
    else cancel(t, 'stable');
    t.fx.push({ type: 'event', event: 'health', data: { from: before, to: d.health, latency_ms: msg.latencyMs, status: msg.status ?? null, error: msg.error ?? null } });
  }
  // An external service is only watched: it stays up, unhealthy, and probed.
  if (step.failed && d.run) { failAndRestart(t, 'unhealthy', describeProbeFailure(step.track, d.run.startedAt, result)); return; }
  arm(t, 'probe', step.nextDelayMs);
}

function sampled(t: Turn, msg: Msg<'sampled'>): void {
  const { d, ctx } = t;
  d.usage = { cpu: msg.cpu, rss: msg.rss, pids: msg.pids, at: ctx.now };
  arm(t, 'sample', onSampleGrid(ctx.now, d.settings.sampleIntervalMs));
  const { track, breach } = afterSample(d.limits, d.spec.resources, d.usage);
  d.limits = track;
  if (!breach) return;
  const data = breach.limit === 'memory'
    ? { limit: 'memory', rss: breach.rss, max_memory: breach.max }
    : { limit: 'cpu', cpu: breach.cpu, max_cpu: breach.max };
  t.fx.push({ type: 'event', event: 'limit', data });
  failAndRestart(t, breach.cause, describeBreach(breach));
}
