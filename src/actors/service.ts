/**
 * ServiceActor: the lifecycle of one managed service as a pure transition
 *   transition(data, msg, ctx) → { data, effects }
 * It owns the service's state machine, health loop, backoff and resource limits, and decides
 * everything; the kernel (main thread) only acts on its effects and reports facts back.
 *
 *   stopped → starting → running(health) → [draining →] stopping → stopped
 *   running → exited → backoff → starting …        failed once the retry budget is spent
 *   running → exited → throttled → starting …      rate-limited: the named wait, no retry spent
 *
 * Dispatch is state first, as in xstate: the handler of the current state takes the messages that
 * mean something there; what it leaves falls through to anyState (commands that act the same in
 * every state, facts that apply in any state). Stale messages — a timer of an old generation, a
 * fact about another run — are dropped before either sees them, so cancelling a timer is just
 * bumping its generation. Time comes from ctx.now (boot clock).
 *
 * The data lives in service-data.ts, the steps taken with a run in service-run.ts, how its end is
 * judged in service-exit.ts, the watch of a run (probes, heartbeats, output) in service-watch.ts,
 * and probe and limit accounting in health.ts.
 */
import { afterSample, describeBreach } from './health.js';
import {
  assertNever, type LogicContext, type ServiceEffect, type ServiceMsg, type ServiceState, type Step,
} from './protocol.js';
import {
  draft, hasProcess, isReady, monitoredRun, notReadyReason, probesEnabled, readinessEnabled, type ServiceData,
} from './service-data.js';
import {
  arm, beginStop, cancel, cancelDrain, drainOver, endDrain, failAndRestart, groupGone, jobTimeout, killGroup,
  plannedStop, setState, signalStop, spawn, startNow, waitingReason, type Turn,
} from './service-run.js';
import { recordExit, spawnFailed, spawnFailedReason, unrequestedExit } from './service-exit.js';
import {
  beginMonitoring, deadline, heartbeat, noteHeartbeat, onSampleGrid, output, probed, sendProbe,
  stopMonitoring, watchRun, type Failure,
} from './service-watch.js';

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
 * Derived notifications: a state event on every state change, readiness changes to the supervisor
 * (and, while the service is up, as ready / not_ready events). `adopted`: the actor began as its
 * process was (running, maybe carried healthy), so no change shows; its supervisor has not heard
 * of it yet and must learn it is ready, or dependents wait forever.
 */
function finish(before: ServiceData, { d, fx }: Turn, adopted: boolean): void {
  if (before.state !== d.state) {
    fx.push({ type: 'event', event: 'state', data: { from: before.state, to: d.state, reason: d.reason, pid: d.run?.pid ?? null } });
  }
  const ready = isReady(d);
  const changed = isReady(before) !== ready;
  if (changed && (d.state === 'running' || d.state === 'draining')) {
    const reason = !ready ? notReadyReason(d) : readinessEnabled(d) ? 'readiness probe passed' : probesEnabled(d) ? 'healthy' : 'running';
    fx.push({ type: 'event', event: ready ? 'ready' : 'not_ready', data: { reason } });
  }
  if (changed || (adopted && ready)) fx.push({ type: 'notify', note: { type: 'child_ready', id: d.spec.id, ready } });
}

/** A timer of an old generation, or a fact about a run that is not (or no longer) the current one. */
function stale(d: ServiceData, msg: ServiceMsg): boolean {
  switch (msg.type) {
    case 'timer': return msg.gen !== d.timers[msg.name];
    case 'spawned': return msg.run.runId !== d.spawn.pendingRunId;
    case 'spawn_failed': return msg.runId !== d.spawn.pendingRunId;
    case 'exited': case 'group_empty': case 'sampled': return !d.run || msg.runId !== d.run.runId;
    case 'probed': return msg.runId !== monitoredRun(d) || msg.gen !== d.timers[msg.kind === 'readiness' ? 'ready_probe' : 'probe'];
    case 'output': return !d.run;
    // From the service over the API: with a run token, about that run only.
    case 'heartbeat': case 'throttle': return !d.run || (msg.runId !== undefined && msg.runId !== d.run.runId);
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
      if (d.spec.schedule?.timeout_seconds) arm(t, 'job_timeout', d.spec.schedule.timeout_seconds * 1000);
      beginMonitoring(t, false);
      watchRun(t, true);
      return true;
    case 'spawn_failed':
      d.ending.then = spawnFailed(t, msg) ? 'backoff' : 'failed';
      groupGone(t, spawnFailedReason(msg));
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
      watchRun(t, false);
      if (wasHealthy) { d.health = 'healthy'; d.probe.everHealthy = true; arm(t, 'stable', d.spec.restart_policy.reset_after_seconds * 1000); }
      return true;
    }
    case 'update': {
      const probeChanged = JSON.stringify([d.spec.health, d.spec.health_endpoint]) !== JSON.stringify([msg.spec.health, msg.spec.health_endpoint]);
      const watchChanged = JSON.stringify([d.spec.heartbeat, d.spec.silence]) !== JSON.stringify([msg.spec.heartbeat, msg.spec.silence]);
      if (update(t, msg)) return true;
      if (probeChanged) beginMonitoring(t, true);
      if (watchChanged) watchRun(t, false);
      return true;
    }
    case 'exited': unrequestedExit(t, msg); return true;
    case 'probed': fail(t, probed(t, msg)); return true;
    case 'sampled': sampled(t, msg); return true;
    case 'heartbeat': heartbeat(t, msg); return true;
    case 'output': output(t); return true;
    case 'throttle': d.agent.throttleMs = msg.retryAfterMs; return true;
    case 'timer':
      switch (msg.name) {
        case 'probe': sendProbe(t, 'liveness'); return true;
        case 'ready_probe': sendProbe(t, 'readiness'); return true;
        case 'heartbeat': case 'silence': fail(t, deadline(t, msg.name)); return true;
        case 'sample': if (d.run) t.fx.push({ type: 'sample', id: d.spec.id, runId: d.run.runId }); return true;
        case 'job_timeout': if (d.run) jobTimeout(t); return true;
        default: return false;
      }
    default: return false;
  }
}

/**
 * A planned stop or restart waiting for the run's in-flight work (it reported `inflight`): inflight
 * 0, the drain timeout or the process's own exit ends the wait. A start while draining for a stop
 * calls the stop off; a stop, restart or update while draining changes what follows it.
 */
function draining(t: Turn, msg: ServiceMsg): boolean {
  const { d } = t;
  switch (msg.type) {
    case 'start':
      d.want = 'up';
      d.attempts = 0;
      if (d.drain!.then === 'stopped') cancelDrain(t, `${msg.reason}; drain called off`);
      return true;
    case 'heartbeat':
      noteHeartbeat(t, msg);
      if (msg.inflight === 0) endDrain(t, 'drain_finished', 'inflight');
      return true;
    case 'timer':
      if (msg.name !== 'drain') return false;
      endDrain(t, 'drain_timeout', 'timeout');
      return true;
    case 'exited': {
      // It exited on its own while draining: the planned stop it was, with nothing left to signal but the group.
      const drain = drainOver(t, 'drain_finished', 'exit');
      d.ending = { then: drain.then, cause: drain.cause, killNoted: false };
      recordExit(t, msg);
      if (msg.groupEmpty) { groupGone(t, drain.reason); return true; }
      setState(t, 'stopping', drain.reason);
      signalStop(t, d.run!.runId);
      return true;
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
    case 'spawn_failed': spawnFailed(t, msg); groupGone(t, spawnFailedReason(msg)); return true;
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
      if (d.backoff.kind === 'throttle') { startNow(t, 'the throttle wait is over'); return true; }
      startNow(t, `restart attempt ${d.attempts}`);
      return true;
    default: return false;
  }
}

/** throttled: the backoff handler, waiting on the same timer (backoff.kind 'throttle'). */
const byState: Record<ServiceState, StateHandler> = { stopped, starting, running, draining, stopping, exited: stopping, backoff, throttled: backoff, failed };

/** What every state does alike: the commands (whether a process is to be stopped first), and what is left. */
function anyState(t: Turn, msg: ServiceMsg): void {
  const { d } = t;
  switch (msg.type) {
    case 'stop':
      halt(t);
      if (hasProcess(d)) { plannedStop(t, 'stopped', msg.reason, 'stopped'); return; }
      stopMonitoring(t);
      d.health = 'unknown';
      setState(t, 'stopped', msg.reason);
      return;
    case 'restart':
      d.want = 'up';
      d.attempts = 0;
      cancel(t, 'backoff');
      if (hasProcess(d)) {
        if (d.drain?.then !== 'start') d.restarts++;
        plannedStop(t, 'start', msg.reason, 'restarted');
        return;
      }
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
  if (t.d.drain?.then !== 'start') t.d.restarts++;
  plannedStop(t, 'start', 'spec changed', 'restarted');
  return true;
}

function restartAfterDisk(t: Turn, reason: string): void {
  t.d.backoff.nextStartAt = null;
  t.d.restarts++;
  startNow(t, reason);
}

/** The watch found the run has to end: a failure, restarted as its policy says. */
function fail(t: Turn, failure: Failure | null): void {
  if (failure) failAndRestart(t, failure.cause, failure.detail);
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
