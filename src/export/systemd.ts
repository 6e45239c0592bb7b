/**
 * A service as systemd units: `<id>.service`, or for `replicas` a template `<id>@.service`, an
 * `<id>.target` that wants every instance, and per-instance drop-ins for what differs between
 * instances (SERVICE_PORT, CUDA_VISIBLE_DEVICES); a `<id>.timer` for a schedule. Every key of the
 * spec is recorded as mapped exactly, approximately or dropped (model.ts), so the report is honest.
 */
import type { ServiceSpec } from '../config/schema.js';
import { unitsOf } from '../fleet/replicas.js';
import { CronUnsupported, onCalendar } from './cron.js';
import {
  backoffDelays, commonDrops, EXTERNAL, headerLines, Refusal, seconds, sourceOf,
  type ExportContext, type ExportOptions, type Recorder,
} from './model.js';
import { envAssignment, execWord, noSpec, renderUnit, resolveCommand, whichOnPath, type Section } from './unitfile.js';

/** The first systemd release with RestartSteps= and RestartMaxDelaySec=. */
export const RESTART_STEPS_SINCE = 254;
export const DEFAULT_SYSTEMD_VERSION = 252;

const RESTART = { permanent: 'always', transient: 'on-failure', temporary: 'no' } as const;

/** The unit a dependent names: a replicated service is its target. */
const unitOf = (spec: ServiceSpec) => (spec.replicas === undefined ? `${spec.id}.service` : `${spec.id}.target`);

export function systemdService(spec: ServiceSpec, all: Map<string, ServiceSpec>, ctx: ExportContext, opts: ExportOptions, r: Recorder): Record<string, string> {
  if (spec.external) throw new Refusal(EXTERNAL, true);
  const source = sourceOf(spec, ctx.baseDir);
  const replicated = spec.replicas !== undefined;
  const job = spec.schedule !== null;
  const name = replicated ? `${spec.id}@.service` : `${spec.id}.service`;
  const files: Record<string, string> = {};
  const unit: Section = [['Description', replicated ? `${noSpec(spec.name)} (instance %i)` : noSpec(spec.name)]];
  const service: Section = [['Type', job ? 'oneshot' : 'simple']];
  r.exact('name', 'Description=');

  // What runs: instance environments derived as the orchestrator derives them (auto GPUs unknown here).
  const autoGpus = spec.gpus?.devices === 'auto';
  const instances = unitsOf(spec, () => [], {}).map((u) => {
    const env = { ...u.environment };
    if (autoGpus) delete env.CUDA_VISIBLE_DEVICES;
    return { ...u, environment: env };
  });
  const first = instances[0] ?? unitsOf({ ...spec, replicas: 1 }, () => [], {})[0]!;
  const which = opts.which ?? ((n: string) => whichOnPath(n));
  const perInstanceExec = replicated && new Set(instances.map((u) => u.executable)).size > 1;
  const cmd = resolveCommand(perInstanceExec ? spec.executable! : first.executable!, spec.working_dir, which);
  service.push(['ExecStart', cmd.argv.map((w) => execWord(w, perInstanceExec)).join(' ')]);
  const how = { absolute: 'as written', relative: 'resolved against working_dir', path: 'found on PATH at export time', 'not-found': '' }[cmd.how];
  if (cmd.how === 'not-found') r.approx('executable', `ExecStart=: "${cmd.argv[0]}" is not on PATH here, so it is left bare (systemd searches its own fixed PATH)`);
  else r.exact('executable', `ExecStart= (${cmd.argv[0]}, ${how}; no shell, as here)`);
  if (perInstanceExec) r.approx('executable', 'its ${VAR} references stay for systemd to expand from each instance\'s environment; a name the unit does not set expands to nothing (here it stays as written)');
  service.push(['WorkingDirectory', noSpec(spec.working_dir)]);
  r.exact('working_dir', 'WorkingDirectory=');

  // Environment: what every instance shares in the unit; what differs in each instance's drop-in.
  const perInstance = new Set(replicated ? ['REPLICA_INDEX', 'REPLICA_COUNT'] : []);
  const shared = Object.keys(first.environment).filter((k) => !perInstance.has(k) && instances.every((u) => u.environment[k] === first.environment[k]));
  for (const k of shared.sort()) service.push(['Environment', envAssignment(k, first.environment[k]!)]);
  if (replicated) service.push(['Environment', 'REPLICA_INDEX=%i'], ['Environment', `REPLICA_COUNT=${spec.replicas}`]);
  if (Object.keys(spec.environment).length) r.exact('environment', 'Environment=');
  instances.forEach((u, n) => {
    const own = Object.keys(u.environment).filter((k) => !shared.includes(k) && !perInstance.has(k)).sort();
    if (!replicated || own.length === 0) return;
    const file = `${spec.id}@${n}.service.d/instance.conf`;
    files[file] = renderUnit({ header: headerLines(file, source), sections: [['Service', own.map((k) => ['Environment', envAssignment(k, u.environment[k]!)])]] });
  });
  for (const f of spec.env_file) service.push(['EnvironmentFile', noSpec(f)]);
  if (spec.env_file.length) r.approx('env_file', 'EnvironmentFile= (systemd reads KEY=value lines with quotes and # comments itself; dotenv extras such as "export KEY=" are not understood; a missing file fails the start, as here). Its variables override Environment= in systemd, where `environment` wins here');
  for (const [key, src] of Object.entries(spec.secrets).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (src.file !== undefined) {
      service.push(['LoadCredential', `${key}:${noSpec(src.file)}`]);
      r.approx(`secrets.${key}`, `LoadCredential=${key}:… — the value is never in the unit; the service reads it from the file $CREDENTIALS_DIRECTORY/${key}, not from the environment variable ${key}`);
    } else if (src.env !== undefined) {
      r.drop(`secrets.${key}`, `{env: ${src.env}} reads the orchestrator's own environment, which a unit does not have; put the value in a file and use {file} (LoadCredential=)`);
    } else {
      r.drop(`secrets.${key}`, '{command} runs at each start here; systemd has no equivalent (have the command write a file and use {file})');
    }
  }

  // Stopping and restarting.
  service.push(['KillMode', 'control-group'], ['KillSignal', spec.stop.signal], ['TimeoutStopSec', seconds(spec.stop.timeout_seconds)]);
  r.exact('stop.signal', `KillSignal=${spec.stop.signal}, KillMode=control-group (the whole cgroup, as we signal the whole process group)`);
  r.exact('stop.timeout_seconds', 'TimeoutStopSec=, then SIGKILL');
  const restart = job && spec.restart === 'permanent' ? 'on-failure' : RESTART[spec.restart];
  service.push(['Restart', restart]);
  if (job && spec.restart === 'permanent') r.exact('restart', 'Restart=on-failure (a job\'s clean exit ends its run, as here)');
  else r.exact('restart', `Restart=${restart}`);
  const unitLines: Section = [];
  if (restart !== 'no') restartPolicy(spec, opts.systemdVersion ?? DEFAULT_SYSTEMD_VERSION, service, unitLines, r);
  else r.drop('restart_policy', 'never restarted (restart: temporary), so there is no backoff or retry budget');

  // Limits.
  const { max_memory, max_cpu } = spec.resources;
  if (max_memory !== null) {
    service.push(['MemoryMax', String(max_memory)]);
    r.approx('resources.max_memory', `MemoryMax=${max_memory}: systemd enforces it (the kernel OOM-kills inside the unit at once) where the orchestrator restarts after several samples over it`);
  }
  if (max_cpu !== null) {
    service.push(['CPUQuota', `${max_cpu}%`]);
    r.approx('resources.max_cpu', `CPUQuota=${max_cpu}%: systemd throttles the unit to it where the orchestrator restarts a service that stays over it`);
  }

  // Health and liveness.
  if (spec.heartbeat && spec.heartbeat.action === 'restart') {
    service.push(['WatchdogSec', seconds(spec.heartbeat.timeout_seconds)], ['NotifyAccess', 'all']);
    r.approx('heartbeat', `WatchdogSec=${seconds(spec.heartbeat.timeout_seconds)}: the service must then send WATCHDOG=1 with sd_notify (the SDK's heartbeat goes to the orchestrator's API, not to systemd)${spec.heartbeat.require_progress ? '; require_progress is dropped (systemd counts any ping)' : ''}`);
  } else if (spec.heartbeat) {
    r.drop('heartbeat', 'action alert (mark stalled, do not restart) has no systemd equivalent: WatchdogSec= always restarts');
  }
  if (spec.health_endpoint || spec.health.readiness_endpoint) r.drop('health_endpoint, health', 'systemd does not probe HTTP endpoints: no liveness or readiness checks (use heartbeat → WatchdogSec= for liveness)');
  if (spec.drain.timeout_seconds > 0) r.drop('drain', 'systemd sends the stop signal at once: no not-ready phase and no wait for in-flight work (only TimeoutStopSec=)');

  // Order and dependencies.
  const deps: string[] = [];
  for (const id of spec.depends_on) {
    const dep = all.get(id);
    if (dep && !dep.external && !dep.schedule) deps.push(unitOf(dep));
    else r.drop('depends_on', `${id}: ${dep?.schedule ? 'a job (Requires= would run it whenever this unit starts)' : 'an external service (no unit)'}; no ordering`);
  }
  if (deps.length) {
    unit.push(['Requires', deps.join(' ')], ['After', deps.join(' ')]);
    r.approx('depends_on', `Requires= and After= ${deps.join(' ')}: systemd waits for the dependency to be started, not healthy or ready`);
  }
  if (replicated) unit.push(['PartOf', `${spec.id}.target`]);
  unit.push(...unitLines);
  commonDrops(spec, ctx, r, 'systemd');
  if (spec.image) r.drop('image', 'used by the Kubernetes export only');

  // Replicas, ports, GPUs.
  if (spec.port !== null) r.exact('port', replicated ? 'SERVICE_PORT=port+n in each instance\'s drop-in' : `Environment=SERVICE_PORT=${first.environment.SERVICE_PORT ?? '(set by environment)'}`);
  if (spec.gpus && autoGpus) r.drop('gpus.devices', 'auto is detected by the orchestrator at start (nvidia-smi -L); list the device indexes to get CUDA_VISIBLE_DEVICES in the units');
  else if (spec.gpus) r.exact('gpus', 'CUDA_VISIBLE_DEVICES round-robin over the listed devices');
  if (replicated) {
    r.exact('replicas', `template ${spec.id}@.service with instances 0…${spec.replicas! - 1} wanted by ${spec.id}.target`);
    r.drop('rollout', `restarting ${spec.id}.target restarts every instance at once; restart the instances one by one by hand for a rolling restart`);
    const wants = Array.from({ length: spec.replicas! }, (_, n) => `${spec.id}@${n}.service`).join(' ');
    const target: Array<[string, Section]> = [['Unit', [['Description', noSpec(spec.name)], ...(wants ? [['Wants', wants], ['After', wants]] as Section : [])]]];
    if (spec.auto_start) target.push(['Install', [['WantedBy', 'multi-user.target']]]);
    files[`${spec.id}.target`] = renderUnit({ header: headerLines(`${spec.id}.target`, source), sections: target });
  }

  // Starting: at boot, or by the timer of a job.
  const install: Section = [];
  if (job) timer(spec, source, files, service, r);
  else if (spec.auto_start && !replicated) install.push(['WantedBy', 'multi-user.target']);
  r.exact('auto_start', spec.auto_start ? `[Install] WantedBy=${job ? 'timers.target (the timer)' : 'multi-user.target'}: started at boot once enabled` : 'no [Install] section: started by hand');
  files[name] = renderUnit({ header: headerLines(name, source), sections: [['Unit', unit], ['Service', service], ['Install', install]] });
  return files;
}

/** Backoff and retry budget. systemd before 254 knows only a fixed RestartSec=. */
function restartPolicy(spec: ServiceSpec, version: number, service: Section, unit: Section, r: Recorder): void {
  const p = spec.restart_policy;
  const max = Math.max(p.max_backoff_seconds, p.backoff_seconds);
  service.push(['RestartSec', seconds(p.backoff_seconds)]);
  let delays: number[];
  if (max > p.backoff_seconds && p.backoff_seconds > 0 && version >= RESTART_STEPS_SINCE) {
    const steps = Math.ceil(Math.log2(max / p.backoff_seconds));
    service.push(['RestartSteps', String(steps)], ['RestartMaxDelaySec', seconds(max)]);
    r.approx('restart_policy.backoff_seconds', `RestartSec=, RestartSteps=${steps}, RestartMaxDelaySec= (systemd ${RESTART_STEPS_SINCE}+): the same doubling to the cap, without the ±20 % jitter`);
    delays = backoffDelays(spec, p.max_retries);
  } else if (max > p.backoff_seconds) {
    r.approx('restart_policy.backoff_seconds', `RestartSec=${seconds(p.backoff_seconds)}, a fixed delay: the doubling up to max_backoff_seconds needs RestartSteps=/RestartMaxDelaySec= (systemd ${RESTART_STEPS_SINCE}+; export with --systemd-version ${RESTART_STEPS_SINCE} to get them)`);
    delays = Array.from({ length: p.max_retries }, () => p.backoff_seconds);
  } else {
    r.exact('restart_policy.backoff_seconds', `RestartSec=${seconds(p.backoff_seconds)}`);
    delays = backoffDelays(spec, p.max_retries);
  }
  const window = Math.ceil(delays.reduce((a, b) => a + b, 0) + p.reset_after_seconds) || 1;
  unit.push(['StartLimitBurst', String(p.max_retries + 1)], ['StartLimitIntervalSec', seconds(window)]);
  r.approx('restart_policy.max_retries', `StartLimitBurst=${p.max_retries + 1} starts in StartLimitIntervalSec=${window}s (the backoff delays of ${p.max_retries} retries + reset_after_seconds): a window of starts, not a count of consecutive failures`);
  r.approx('restart_policy.reset_after_seconds', `folded into StartLimitIntervalSec=; systemd forgets old starts by time, not after the service stayed healthy`);
}

/** `<id>.timer` for a job's schedule; the job's own unit is then started by it. */
function timer(spec: ServiceSpec, source: string, files: Record<string, string>, service: Section, r: Recorder): void {
  const s = spec.schedule!;
  const lines: Section = [];
  if (s.cron !== undefined) {
    let calendars: string[];
    try {
      calendars = onCalendar(s.cron, s.timezone);
    } catch (e) {
      if (e instanceof CronUnsupported) throw new Refusal(`schedule.cron "${s.cron}": ${e.message}`);
      throw e;
    }
    for (const c of calendars) lines.push(['OnCalendar', c]);
    if (calendars.length > 1) r.exact('schedule.cron', 'two OnCalendar= lines, one per restricted day field (cron matches either day; one systemd line would need both)');
    else r.exact('schedule.cron', `OnCalendar=${calendars[0]}`);
    if (s.timezone) r.exact('schedule.timezone', 'the time zone ends the OnCalendar= value');
    if (s.run_on_start) lines.push(['OnActiveSec', '0']);
    if (s.catch_up) {
      lines.push(['Persistent', 'true']);
      r.exact('schedule.catch_up', 'Persistent=true: one run at boot for the missed ones');
    }
  } else {
    const every = seconds(s.interval_seconds!);
    lines.push(['OnActiveSec', s.run_on_start ? '0' : every], ['OnUnitActiveSec', every]);
    r.exact('schedule.interval_seconds', `OnActiveSec= and OnUnitActiveSec=${every}`);
    if (s.catch_up) r.drop('schedule.catch_up', 'Persistent= applies to OnCalendar= only: an interval timer does not catch up');
  }
  if (s.run_on_start) r.exact('schedule.run_on_start', 'OnActiveSec=0: a run as soon as the timer starts');
  lines.push(['AccuracySec', '1s']);
  service.push(['TimeoutStartSec', s.timeout_seconds === null ? 'infinity' : seconds(s.timeout_seconds)]);
  if (s.timeout_seconds !== null) r.exact('schedule.timeout_seconds', 'TimeoutStartSec= of the oneshot run (then its stop signal)');
  if (s.concurrency === 'forbid') r.exact('schedule.concurrency', 'forbid: a timer does not start a run while the previous one is still going');
  else r.approx('schedule.concurrency', 'replace is not possible: a timer skips a tick while the run is still going (as forbid)');
  const name = `${spec.id}.timer`;
  const install: Section = spec.auto_start ? [['WantedBy', 'timers.target']] : [];
  files[name] = renderUnit({ header: headerLines(name, source), sections: [['Unit', [['Description', `Schedule of ${noSpec(spec.name)}`]]], ['Timer', lines], ['Install', install]] });
}
