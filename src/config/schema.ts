/**
 * The one source of configuration types and defaults. Everything read from
 * config/orchestrator.yaml, services/*.yaml or a POST /api/services body goes through
 * these valibot schemas exactly once; later code only sees the normalised output types.
 * Their building blocks are in fields.ts; api.keys in keys.ts; alerts in alerts.ts.
 *
 * Messages follow one pattern — "expected <what>, got <value>" — so that load.ts can prefix
 * them with file:line:col and the field path.
 */
import * as v from 'valibot';
import { isAbsolute, resolve } from 'node:path';
import { hostname } from 'node:os';
import { Cron } from 'croner';
import { splitCommandLine } from './argv.js';
import { alertSink } from './alerts.js';
import {
  bool, envName, expected, httpUrl, logLevel, nonEmpty, nonNegInt, nonNegSeconds, obj, percent, port, posInt, posSeconds,
  serviceId, signal, size, str,
} from './fields.js';
import { apiKeyEntry, uniqueKeys } from './keys.js';

export { ID_PATTERN, type LogLevel } from './fields.js';
export { SCOPES, type ApiKey, type Scope } from './keys.js';
export { ALERT_SINK_TYPES } from './alerts.js';

export const STRATEGIES = ['one_for_one', 'one_for_all', 'rest_for_one'] as const;
export type Strategy = (typeof STRATEGIES)[number];
export const HTTP_ENGINES = ['auto', 'uws', 'node'] as const;

const strategy = () => v.picklist(STRATEGIES, expected(`one of ${STRATEGIES.join(', ')}`));

const supervisorEntries = {
  strategy: v.optional(strategy(), 'one_for_one'),
  /**
   * OTP intensity/period: more than `intensity` restarts within `period_seconds` and the group gives
   * up. No default: undeclared means a one_for_one group has no group-wide limit (each service has its
   * own retry budget and backoff), and a one_for_all / rest_for_one group gets DEPENDENT_GROUP_INTENSITY.
   */
  intensity: v.optional(nonNegInt()),
  period_seconds: v.optional(posSeconds(), 60),
};

/** The intensity of a one_for_all / rest_for_one group when neither it nor the top level declares one. */
export const DEPENDENT_GROUP_INTENSITY = 20;

// ---------------------------------------------------------------------------------------------
// config/orchestrator.yaml

export function orchestratorConfigSchema(baseDir: string, env: NodeJS.ProcessEnv = process.env) {
  const path = (def: string) => v.pipe(v.optional(nonEmpty('a path'), def), v.transform((p) => resolve(baseDir, p)));
  return obj({
    orchestrator: v.optional(obj({
      /** How alerts name this orchestrator (several may post to one channel). */
      name: v.optional(nonEmpty('a non-empty name'), () => hostname()),
      host: v.optional(nonEmpty('a host name or address'), '127.0.0.1'),
      port: v.optional(port(), 8000),
      log_level: v.optional(logLevel(), 'info'),
      data_dir: path('./data'),
      log_dir: path('./logs'),
      services_dir: path('./services'),
      /** Extra Host header values accepted besides the bind address and localhost (DNS-rebinding guard). */
      allowed_hosts: v.optional(v.array(nonEmpty('a host name')), []),
      /** auto: native uWebSockets.js when a binary for this Node and libc loads, else Node's http + ws. */
      http_engine: v.optional(v.picklist(HTTP_ENGINES, expected(`one of ${HTTP_ENGINES.join(', ')}`)), 'auto'),
    }), {}),
    monitoring: v.optional(obj({
      interval: v.optional(posSeconds('a positive health check interval in seconds'), 30),
      timeout: v.optional(posSeconds('a positive health check timeout in seconds'), 10),
      enabled: v.optional(bool(), true),
      /** How often each service's process tree is sampled for CPU% and RSS. */
      sample_interval: v.optional(posSeconds(), 5),
    }), {}),
    recovery: v.optional(obj({
      enabled: v.optional(bool(), true),
      max_retries: v.optional(nonNegInt(), 3),
      backoff_seconds: v.optional(nonNegSeconds(), 30),
      max_backoff_seconds: v.optional(nonNegSeconds(), 300),
      reset_after_seconds: v.optional(nonNegSeconds(), 60),
    }), {}),
    api: v.optional(obj({
      cors_origins: v.optional(v.array(nonEmpty('an origin like http://localhost:3000')), []),
      /** One key with every scope (named "api_key" in events); ORCHESTRATOR_API_KEY sets it too. */
      api_key: v.optional(v.nullable(nonEmpty('a non-empty API key string or null')), null),
      /** Named keys with scopes. */
      keys: v.pipe(
        v.optional(v.array(apiKeyEntry(baseDir, env), expected('a list of {name, key | key_file | key_env, scopes}')), []),
        v.rawCheck(({ dataset, addIssue }) => { if (dataset.typed) uniqueKeys(dataset.value, addIssue); }),
      ),
      rate_limit: v.optional(nonNegInt('a number of requests per minute (0 disables)'), 100),
    }), {}),
    database: v.optional(obj({
      /** Defaults to <data_dir>/registry.db. */
      path: v.optional(nonEmpty('a path')),
    }), {}),
    supervision: v.optional(obj({
      ...supervisorEntries,
      groups: v.optional(v.record(serviceId(), obj(supervisorEntries)), {}),
    }), {}),
    logs: v.optional(obj({
      /** Rotate a service's stdout or stderr file once it reaches this size. */
      max_size: v.optional(size(), 10 * 1024 * 1024),
      /** Gzipped archives kept per stream. */
      keep: v.optional(nonNegInt(), 5),
      /** Disk a service's logs may use in all (live files and archives of both streams). */
      max_total_size: v.optional(size(), 100 * 1024 * 1024),
    }), {}),
    history: v.optional(obj({
      /** Events and resource samples older than this are pruned. */
      keep_days: v.optional(posSeconds('a positive number of days'), 7),
    }), {}),
    /** Where events are sent (alerts/): webhooks and Slack incoming webhooks. Names are checked unique in load.ts. */
    alerts: v.optional(v.array(alertSink(), expected('a list of alert sinks')), []),
    /** The MCP server at /mcp (streamable HTTP): sessions bound to the key that opened them. */
    mcp: v.optional(obj({
      enabled: v.optional(bool(), true),
      /** Open sessions at most; a new one beyond is refused (503) until one ends or expires. */
      max_sessions: v.optional(posInt(), 32),
      /** A session with no request and no open stream for this long is ended. */
      session_idle_seconds: v.optional(posSeconds(), 1800),
    }), {}),
  });
}

type RawOrchestratorConfig = v.InferOutput<ReturnType<typeof orchestratorConfigSchema>>;
export type OrchestratorConfig = RawOrchestratorConfig & {
  /** Absolute path of the file this came from (undefined when built from defaults). */
  file?: string;
  /** Folder relative paths resolve against. */
  baseDir: string;
  database: { path: string };
};
/** One level of `supervision` as written: the top level or one of `supervision.groups`. */
export type SupervisorEntries = v.InferOutput<v.ObjectSchema<typeof supervisorEntries, undefined>>;
/** A group's effective settings (see groupSettings in actors/supervisor.ts); intensity null: no group-wide limit. */
export type SupervisorSettings = Omit<SupervisorEntries, 'intensity'> & { intensity: number | null };

// ---------------------------------------------------------------------------------------------
// services/*.yaml and POST /api/services

export const RESTART_TYPES = ['permanent', 'transient', 'temporary'] as const;
/** What a stalled service (no heartbeat, no output) gets. */
export const STALL_ACTIONS = ['restart', 'alert'] as const;
export type RestartType = (typeof RESTART_TYPES)[number];

/**
 * What a scheduled job does when its tick comes while its previous run is still going: forbid skips
 * the tick (event run_skipped), replace stops the running one (its stop signal) and starts anew.
 * allow is refused at load: a service has one process at a time, so runs cannot overlap.
 */
export const CONCURRENCY = ['forbid', 'allow', 'replace'] as const;
export type Concurrency = (typeof CONCURRENCY)[number];

/** A cron expression croner accepts, with its time zone (checked here, at load, never at a tick). */
export function cronProblem(cron: string, timezone: string | undefined): string | null {
  try {
    new Cron(cron, { paused: true, ...(timezone ? { timezone } : {}) }).nextRun();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** A service with a schedule is a job: runs to completion, started by the schedule (see fleet/jobs.ts). */
const scheduleSchema = () => v.pipe(obj({
  /** Five or six fields (croner), e.g. "*\/15 * * * *"; or interval_seconds, not both. */
  cron: v.optional(nonEmpty('a cron expression')),
  /** IANA time zone of the cron expression (default: the orchestrator's). */
  timezone: v.optional(nonEmpty('an IANA time zone, e.g. Europe/Berlin')),
  interval_seconds: v.optional(posSeconds()),
  /** Run once as soon as the orchestrator (or the service's definition) starts, then on schedule. */
  run_on_start: v.optional(bool(), false),
  /** After an orchestrator restart that missed runs: one catch-up run now (missed runs are reported either way, never replayed). */
  catch_up: v.optional(bool(), false),
  /** A run longer than this is stopped (its stop signal), exit reason timeout. */
  timeout_seconds: v.optional(v.nullable(posSeconds()), null),
  concurrency: v.optional(v.picklist(CONCURRENCY, expected('forbid, allow or replace')), 'forbid'),
}), v.forward(
  v.partialCheck([['cron'], ['interval_seconds']], (s) => (s.cron === undefined) !== (s.interval_seconds === undefined), 'give exactly one of cron or interval_seconds'),
  ['cron'],
), v.forward(
  v.partialCheck([['cron'], ['timezone']], (s) => s.cron === undefined || cronProblem(s.cron, s.timezone) === null,
    (issue) => { const s = issue.input as { cron: string; timezone?: string }; return `invalid cron expression: ${cronProblem(s.cron, s.timezone)}`; }),
  ['cron'],
), v.forward(
  v.partialCheck([['cron'], ['timezone']], (s) => s.timezone === undefined || s.cron !== undefined, 'timezone applies to cron only'),
  ['timezone'],
), v.forward(
  v.partialCheck([['concurrency']], (s) => s.concurrency !== 'allow',
    'allow is not possible: a service runs one process at a time, so runs cannot overlap (use forbid to skip a tick, or replace to restart the run)'),
  ['concurrency'],
));

export interface ServiceDefaults {
  monitoring: OrchestratorConfig['monitoring'];
  recovery: OrchestratorConfig['recovery'];
}

/** A service schema whose defaults come from the orchestrator config; relative paths resolve against baseDir. */
export function serviceSchema(defaults: ServiceDefaults, baseDir: string) {
  const { monitoring, recovery } = defaults;
  return v.pipe(obj({
    id: serviceId(),
    name: v.optional(nonEmpty('a non-empty name')),
    type: v.optional(nonEmpty('a non-empty type'), 'service'),
    /** Required unless external: the command line, split shell-style and run without a shell. */
    executable: v.optional(v.pipe(
      nonEmpty('a command line'),
      v.check((s) => {
        try { return splitCommandLine(s).length > 0; } catch { return false; }
      }, (issue) => {
        try { splitCommandLine(String(issue.input)); } catch (e) { return `cannot split command line: ${(e as Error).message}`; }
        return `expected a command line, got ${issue.received}`;
      }),
    )),
    /**
     * Registered by the service itself (SDK) and not started by the orchestrator: health-checked,
     * shown and recorded, never restarted; start/stop need an executable.
     */
    external: v.optional(bool(), false),
    health_endpoint: v.optional(v.nullable(httpUrl()), null),
    api_endpoint: v.optional(v.nullable(httpUrl()), null),
    auto_start: v.optional(bool(), true),
    restart: v.optional(v.picklist(RESTART_TYPES, expected('permanent, transient or temporary')), 'permanent'),
    restart_policy: v.optional(obj({
      max_retries: v.optional(nonNegInt(), recovery.max_retries),
      backoff_seconds: v.optional(nonNegSeconds(), recovery.backoff_seconds),
      max_backoff_seconds: v.optional(nonNegSeconds(), recovery.max_backoff_seconds),
      reset_after_seconds: v.optional(nonNegSeconds(), recovery.reset_after_seconds),
    }), {}),
    resources: v.optional(obj({
      max_memory: v.optional(v.nullable(size()), null),
      max_cpu: v.optional(v.nullable(percent()), null),
    }), {}),
    environment: v.optional(v.record(
      v.pipe(str('an environment variable name'), v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, expected('an environment variable name'))),
      v.pipe(v.union([v.string(), v.number(), v.boolean()], expected('a string, number or boolean')), v.transform(String)),
      expected('a mapping of NAME: value'),
    ), {}),
    /**
     * dotenv files read at each start, in order (util.parseEnv), relative to the service file's
     * folder (an API-registered service: the orchestrator's config folder). Their variables come
     * before `environment`; a missing file fails that start (exit reason env_file).
     */
    env_file: v.optional(v.array(
      v.pipe(nonEmpty('a file path'), v.transform((p) => (isAbsolute(p) ? p : resolve(baseDir, p)))),
      expected('a list of file paths'),
    ), []),
    /**
     * NAME: where its value comes from, resolved at each start and never shown: {file} (the file's
     * contents, trimmed), {env} (the orchestrator's environment variable) or {command} (run by
     * /bin/sh in working_dir; its stdout, trimmed; at most 10 s). A failure fails that start (exit reason secret).
     */
    secrets: v.optional(v.record(envName(), secretSource(baseDir), expected('a mapping of NAME: {file: path} | {env: VAR} | {command: "..."}')), {}),
    working_dir: v.pipe(v.optional(nonEmpty('a folder path'), '.'), v.transform((p) => (isAbsolute(p) ? p : resolve(baseDir, p)))),
    stop: v.optional(obj({
      signal: v.optional(signal(), 'SIGTERM'),
      timeout_seconds: v.optional(nonNegSeconds(), 10),
    }), {}),
    health: v.optional(obj({
      interval_seconds: v.optional(posSeconds(), monitoring.interval),
      timeout_seconds: v.optional(posSeconds(), monitoring.timeout),
      initial_delay_seconds: v.optional(nonNegSeconds(), 0),
      success_threshold: v.optional(posInt(), 1),
      failure_threshold: v.optional(posInt(), 3),
      /** Failing → ready: false, no restart; dependents wait for ready. None: ready = healthy. */
      readiness_endpoint: v.optional(v.nullable(httpUrl()), null),
      /** A fresh run may take this long to pass its first liveness probe before failures count. */
      startup_timeout_seconds: v.optional(v.nullable(posSeconds()), null),
    }), {}),
    /** The service reports it is working (POST /api/services/{id}/heartbeat); none for this long → action. */
    heartbeat: v.optional(v.nullable(obj({
      timeout_seconds: posSeconds(),
      /** A heartbeat counts only if its `progress` value changed. */
      require_progress: v.optional(bool(), false),
      /** restart, or alert: health becomes "stalled", an event, no restart. */
      action: v.optional(v.picklist(STALL_ACTIONS, expected('restart or alert')), 'restart'),
    })), null),
    /** No stdout/stderr bytes for this long → action. */
    silence: v.optional(v.nullable(obj({
      timeout_seconds: posSeconds(),
      action: v.optional(v.picklist(STALL_ACTIONS, expected('restart or alert')), 'alert'),
    })), null),
    /** Rate-limited is not crashed: such an exit waits the named time and spends no retry. */
    throttle: v.optional(obj({
      /** Exit codes that mean "throttled" (75 = EX_TEMPFAIL). */
      exit_codes: v.optional(v.array(v.pipe(v.number(expected('an exit code')), v.integer(expected('an exit code')), v.minValue(0, expected('an exit code 0-255')), v.maxValue(255, expected('an exit code 0-255'))), expected('a list of exit codes')), [75]),
      /** The wait when the service named no time. */
      default_seconds: v.optional(posSeconds(), 60),
      /** A longer wait → failed, reason quota. */
      max_seconds: v.optional(posSeconds(), 3600),
    }), {}),
    /** Planned stop/restart of a service that reports in-flight work: not ready, wait for inflight 0, then the stop signal. */
    drain: v.optional(obj({
      timeout_seconds: v.optional(nonNegSeconds(), 120),
    }), {}),
    depends_on: v.optional(v.array(serviceId(), expected('a list of service ids')), []),
    /** Supervision group (see supervision.groups); services without one share the group "default". */
    group: v.optional(serviceId(), 'default'),
    /** A job: started by its schedule, runs to completion (see scheduleSchema). */
    schedule: v.optional(v.nullable(scheduleSchema()), null),
    /**
     * Copies of this service, run as instances <id>#0 … <id>#N-1 (fleet/replicas.ts), each with
     * REPLICA_INDEX and REPLICA_COUNT. Absent: one process named <id>, as before. 0 is allowed (scaled to zero).
     */
    replicas: v.optional(nonNegInt('a number of replicas (0 or more)')),
    /** Instance n (or the service itself) gets SERVICE_PORT = port + n, unless `environment` sets SERVICE_PORT. */
    port: v.optional(v.nullable(port()), null),
    /** GPUs per instance: CUDA_VISIBLE_DEVICES round-robin over `devices` (auto: `nvidia-smi -L`, none if absent). */
    gpus: v.optional(v.nullable(obj({
      per_replica: v.optional(posInt(), 1),
      devices: v.optional(v.union([v.literal('auto'), v.array(nonNegInt('a GPU index'), expected('a list of GPU indexes'))], expected('auto or a list of GPU indexes')), 'auto'),
    })), null),
    /** A rolling restart (PUT …/restart?rolling=true, or a reload that changes a replicated service). */
    rollout: v.optional(obj({
      /** Instances restarted at once. */
      max_parallel: v.optional(posInt(), 1),
      /** How long a restarted instance must stay healthy (and ready) before the next one. */
      min_healthy_seconds: v.optional(nonNegSeconds(), 10),
      /** An instance not healthy within this long halts the rollout (no further instance is touched). */
      healthy_deadline_seconds: v.optional(posSeconds(), 300),
    }), {}),
    /** A container image: used only by `orchestrator export kubernetes` (src/export/). */
    image: v.optional(v.nullable(nonEmpty('an image reference like ghcr.io/acme/agent:1.2')), null),
  }), v.forward(
    v.partialCheck([['external'], ['executable']], (s) => s.external === true || !!s.executable, 'required field is missing (only external services may omit it)'),
    ['executable'],
  ), v.forward(
    v.partialCheck([['replicas'], ['schedule']], (s) => s.replicas === undefined || !s.schedule, 'a scheduled job runs one process: replicas and schedule do not go together'),
    ['replicas'],
  ), v.forward(
    v.partialCheck([['replicas'], ['external']], (s) => s.replicas === undefined || !s.external, 'an external service is not started here: it cannot have replicas'),
    ['replicas'],
  ));
}

/** Where one secret's value comes from: exactly one of file, env and command. */
function secretSource(baseDir: string) {
  return v.pipe(obj({
    file: v.optional(v.pipe(nonEmpty('a file path'), v.transform((p) => (isAbsolute(p) ? p : resolve(baseDir, p))))),
    env: v.optional(envName()),
    command: v.optional(nonEmpty('a command')),
    /** The API shows each secret's value as "***": a spec read back and sent again is accepted (and the "***" dropped). */
    value: v.optional(v.literal('***', 'a secret\'s value is never written in a spec: give file, env or command (the API shows "***", which may be sent back)')),
  }), v.check((s) => [s.file, s.env, s.command].filter((x) => x !== undefined).length === 1, 'give exactly one of file, env and command'),
  v.transform(({ value: _shown, ...source }) => source));
}
export type SecretSource = v.InferOutput<ReturnType<typeof secretSource>>;

type RawServiceSpec = v.InferOutput<ReturnType<typeof serviceSchema>>;
export type ServiceSource = 'file' | 'api';
export type ServiceSpec = Omit<RawServiceSpec, 'name' | 'stop'> & {
  name: string;
  stop: { signal: NodeJS.Signals; timeout_seconds: number };
  source: ServiceSource;
  /** The file a file-defined service came from. */
  file?: string;
};
