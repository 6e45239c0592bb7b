/** GET /api/openapi.json: the API described as OpenAPI 3.1. Kept beside routes.ts; a test checks they agree. */

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonBody = (schema: object) => ({ content: { 'application/json': { schema } } });
const error = (description: string) => ({ description, ...jsonBody(ref('Error')) });
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' } };
const common = {
  '401': error('Missing or wrong API key'),
  '403': error('The key lacks the scope this route needs (read, operate or admin)'),
  '429': error('Rate limit exceeded (see Retry-After)'),
};
/** A service's own calls: its run token (or the API key) as a bearer token; not rate limited. */
const agentSecurity = [{ bearer: [] }, { apiKey: [] }, {}];
const agentErrors = {
  '400': error('Invalid id or body; field names it'), '401': error('Missing or wrong token (with API keys configured)'),
  '403': error('A run token of another service, or a key without the operate scope'), '404': error('Unknown service'),
};
const withId = { '400': error('Invalid id or input'), '404': error('Unknown service'), ...common };
const control = (verb: string) => ({
  put: {
    summary: `${verb[0]!.toUpperCase()}${verb.slice(1)} a service (idempotent): a replicated service's every instance, or one instance <id>#n`,
    operationId: `${verb}Service`,
    parameters: [idParam, ...(verb === 'restart' ? [{
      name: 'rolling', in: 'query', required: false, schema: { type: 'boolean' },
      description: 'A replicated service: one instance at a time (rollout.max_parallel), each healthy for rollout.min_healthy_seconds before the next; 409 while one runs',
    }] : [])],
    responses: { '202': { description: 'Accepted; the state right after the command', ...jsonBody(ref('Service')) }, ...withId, '503': error('Actor host restarting') },
  },
});

export function openApiDocument(version: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Agent orchestrator API',
      version,
      description: 'Supervises AI agent services: lifecycle, health, backoff, limits, logs and history. ' +
        'With API keys configured (api.api_key, api.keys), every /api, /metrics and /ws request needs X-API-Key or Authorization: Bearer, ' +
        'and a key\'s scopes decide what it may do: read (GET routes, /ws, logs), operate (start, stop, restart, reload), ' +
        'admin (register, update, remove); each includes the ones before it. ' +
        'A supervised service\'s own heartbeat and throttle calls take its run token (ORCHESTRATOR_TOKEN) as well, with or without an API key. ' +
        'Request bodies must be application/json and at most 1 MB.',
    },
    components: {
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        bearer: { type: 'http', scheme: 'bearer' },
      },
      schemas: {
        Error: {
          type: 'object', required: ['error'],
          properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } } } },
        },
        ServiceSpec: {
          type: 'object', required: ['id', 'executable'], additionalProperties: false,
          properties: {
            id: { type: 'string' }, name: { type: 'string' }, type: { type: 'string' },
            executable: { type: 'string', description: 'Command line, split shell-style, run without a shell' },
            health_endpoint: { type: ['string', 'null'], format: 'uri' }, api_endpoint: { type: ['string', 'null'], format: 'uri' },
            auto_start: { type: 'boolean' }, working_dir: { type: 'string' },
            restart: { enum: ['permanent', 'transient', 'temporary'] },
            restart_policy: { type: 'object', properties: { max_retries: { type: 'integer' }, backoff_seconds: { type: 'number' }, max_backoff_seconds: { type: 'number' }, reset_after_seconds: { type: 'number' } } },
            resources: { type: 'object', properties: { max_memory: { type: ['string', 'number', 'null'], examples: ['512MB'] }, max_cpu: { type: ['string', 'number', 'null'], examples: ['25%'] } } },
            environment: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
            env_file: { type: 'array', items: { type: 'string' }, description: 'dotenv files read at each start, in order, before environment; relative to the service file (API: the config folder)' },
            secrets: {
              type: 'object',
              description: 'NAME: exactly one of {file}, {env}, {command}; resolved at each start. Shown with value "***", never the value',
              additionalProperties: {
                type: 'object',
                properties: { value: { const: '***', readOnly: true }, file: { type: 'string' }, env: { type: 'string' }, command: { type: 'string' } },
              },
            },
            stop: { type: 'object', properties: { signal: { type: 'string' }, timeout_seconds: { type: 'number' } } },
            health: {
              type: 'object',
              properties: {
                interval_seconds: { type: 'number' }, timeout_seconds: { type: 'number' }, initial_delay_seconds: { type: 'number' }, success_threshold: { type: 'integer' }, failure_threshold: { type: 'integer' },
                readiness_endpoint: { type: ['string', 'null'], format: 'uri', description: 'Failing: ready false, no restart; dependents wait for ready' },
                startup_timeout_seconds: { type: ['number', 'null'], description: 'A fresh run may take this long to pass its first liveness probe' },
              },
            },
            heartbeat: { type: ['object', 'null'], properties: { timeout_seconds: { type: 'number' }, require_progress: { type: 'boolean' }, action: { enum: ['restart', 'alert'] } } },
            silence: { type: ['object', 'null'], properties: { timeout_seconds: { type: 'number' }, action: { enum: ['restart', 'alert'] } } },
            throttle: { type: 'object', properties: { exit_codes: { type: 'array', items: { type: 'integer' } }, default_seconds: { type: 'number' }, max_seconds: { type: 'number' } } },
            drain: { type: 'object', properties: { timeout_seconds: { type: 'number' } } },
            depends_on: { type: 'array', items: { type: 'string' } },
            group: { type: 'string' },
            schedule: {
              type: ['object', 'null'], description: 'A job: started by its schedule, runs to completion. Exactly one of cron and interval_seconds.',
              properties: {
                cron: { type: 'string', examples: ['*/15 * * * *'] }, timezone: { type: 'string', examples: ['Europe/Berlin'] }, interval_seconds: { type: 'number' },
                run_on_start: { type: 'boolean' }, catch_up: { type: 'boolean', description: 'One run at boot when runs were missed while the orchestrator was down' },
                timeout_seconds: { type: ['number', 'null'] }, concurrency: { enum: ['forbid', 'replace'], description: 'allow is refused: one process per service' },
              },
            },
            replicas: { type: 'integer', minimum: 0, description: 'Run as instances <id>#0 … <id>#N-1, each with REPLICA_INDEX and REPLICA_COUNT' },
            port: { type: ['integer', 'null'], description: 'Instance n gets SERVICE_PORT = port + n' },
            gpus: { type: ['object', 'null'], properties: { per_replica: { type: 'integer' }, devices: { oneOf: [{ const: 'auto' }, { type: 'array', items: { type: 'integer' } }] } } },
            rollout: { type: 'object', properties: { max_parallel: { type: 'integer' }, min_healthy_seconds: { type: 'number' }, healthy_deadline_seconds: { type: 'number' } } },
            image: { type: ['string', 'null'], description: 'For orchestrator export kubernetes only' },
          },
        },
        Service: {
          type: 'object',
          properties: {
            id: { type: 'string' }, name: { type: 'string' }, type: { type: 'string' }, source: { enum: ['file', 'api'] }, group: { type: 'string' },
            state: { enum: ['stopped', 'starting', 'running', 'draining', 'stopping', 'exited', 'backoff', 'throttled', 'failed'] },
            health: { enum: ['unknown', 'healthy', 'unhealthy', 'stalled'] }, want: { enum: ['up', 'down'] }, reason: { type: 'string' },
            pid: { type: ['integer', 'null'] }, adopted: { type: 'boolean' }, started_at: { type: ['string', 'null'], format: 'date-time' },
            uptime_seconds: { type: ['number', 'null'] }, restarts: { type: 'integer' }, attempts: { type: 'integer' },
            last_exit: { type: ['object', 'null'] }, health_check: { type: 'object' }, usage: { type: ['object', 'null'] },
            waiting_for: { type: 'array', items: { type: 'string' } }, next_start_at: { type: ['string', 'null'] },
            ready: { type: 'boolean' }, heartbeat_at: { type: ['string', 'null'], format: 'date-time' }, heartbeat_age_seconds: { type: ['number', 'null'] },
            progress: { type: ['number', 'null'] }, inflight: { type: ['integer', 'null'] }, status_text: { type: ['string', 'null'] },
            throttled_until: { type: ['string', 'null'], format: 'date-time' },
            next_run_at: { type: ['string', 'null'], format: 'date-time', description: 'A scheduled job: its next tick' },
            replica: { type: ['object', 'null'], description: 'An instance of a replicated service', properties: { service: { type: 'string' }, index: { type: 'integer' }, count: { type: 'integer' } } },
            port: { type: ['integer', 'null'] }, gpus: { type: ['array', 'null'], items: { type: 'integer' } },
            gpu_memory_bytes: { type: ['integer', 'null'], description: 'GPU memory of its processes (nvidia-smi); null when not measured' },
            spec: ref('ServiceSpec'), events: { type: 'array', items: ref('Event') },
            replicas: { type: 'integer', description: 'GET of a replicated service: instances wanted' },
            instances: { type: 'array', items: ref('Service'), description: 'GET of a replicated service: each instance' },
            rollout: { type: ['object', 'null'], description: 'GET of a replicated service: its latest rolling restart (state running | finished | halted, done, current, failed)' },
          },
        },
        Run: {
          type: 'object',
          properties: {
            id: { type: 'integer', description: 'Row id; ?before= pages on' }, run_id: { type: 'string' }, pid: { type: 'integer' },
            started_at: { type: 'string', format: 'date-time' }, ended_at: { type: ['string', 'null'], format: 'date-time' }, duration_seconds: { type: ['number', 'null'] },
            exit_code: { type: ['integer', 'null'] }, signal: { type: ['string', 'null'] }, reason: { type: ['string', 'null'] },
            logs: { type: 'object', description: 'Byte offsets in the live stdout/stderr files at start and end' },
          },
        },
        Event: {
          type: 'object',
          properties: { seq: { type: 'integer' }, at: { type: 'string', format: 'date-time' }, service: { type: ['string', 'null'] }, type: { type: 'string' }, data: { type: 'object' } },
        },
      },
    },
    security: [{ apiKey: [] }, { bearer: [] }],
    paths: {
      '/health': { get: { summary: 'Orchestrator health (no API key needed)', operationId: 'health', security: [], responses: { '200': { description: 'ok or degraded' }, '503': { description: 'actor host down' } } } },
      '/api/services': {
        get: { summary: 'List all services', operationId: 'listServices', parameters: [{ name: 'state', in: 'query', schema: { type: 'string' } }], responses: { '200': { description: 'services', ...jsonBody({ type: 'object', properties: { services: { type: 'array', items: ref('Service') }, count: { type: 'integer' } } }) }, ...common } },
        post: { summary: 'Register a new service', operationId: 'registerService', requestBody: { required: true, ...jsonBody(ref('ServiceSpec')) }, responses: { '201': { description: 'registered', ...jsonBody(ref('Service')) }, '400': error('Validation error; field names the path'), '409': error('Duplicate id'), '413': error('Body over 1 MB'), '415': error('Not application/json'), ...common } },
      },
      '/api/services/{id}': {
        get: { summary: 'Service details: spec, state, health, usage, last exit, recent events', operationId: 'getService', parameters: [idParam], responses: { '200': { description: 'service', ...jsonBody(ref('Service')) }, ...withId } },
        patch: { summary: 'Change an API-registered service (JSON merge patch); restarts only if needed', operationId: 'updateService', parameters: [idParam], requestBody: { required: true, ...jsonBody({ type: 'object' }) }, responses: { '200': { description: 'updated' }, '409': error('Defined by a file'), ...withId } },
        delete: { summary: 'Stop and remove an API-registered service', operationId: 'removeService', parameters: [idParam], responses: { '200': { description: 'removed' }, '409': error('Defined by a file, or required by another service'), ...withId } },
      },
      '/api/services/{id}/start': control('start'),
      '/api/services/{id}/stop': control('stop'),
      '/api/services/{id}/restart': control('restart'),
      '/api/services/{id}/heartbeat': {
        post: {
          summary: 'The service says it is working (its run token ORCHESTRATOR_TOKEN, or the API key, as Authorization: Bearer). ' +
            'drain: true while a planned stop waits for its in-flight work (finish it, take no more, report inflight 0).',
          operationId: 'heartbeat', parameters: [idParam], security: agentSecurity,
          requestBody: { required: false, ...jsonBody({ type: 'object', properties: { progress: { type: 'number' }, inflight: { type: 'integer', minimum: 0 }, status: { type: 'string', maxLength: 500, description: 'longer is cut' } } }) },
          responses: { '200': { description: 'recorded', ...jsonBody({ type: 'object', required: ['drain'], properties: { drain: { type: 'boolean' } } }) }, ...agentErrors },
        },
      },
      '/api/services/{id}/throttle': {
        post: {
          summary: 'The service is rate-limited: its next exit is throttled (waits retry_after_seconds, spends no retry), not a crash; longer than throttle.max_seconds: failed (quota)',
          operationId: 'throttle', parameters: [idParam], security: agentSecurity,
          requestBody: { required: true, ...jsonBody({ type: 'object', required: ['retry_after_seconds'], properties: { retry_after_seconds: { type: 'number', exclusiveMinimum: 0 } } }) },
          responses: { '202': { description: 'accepted', ...jsonBody({ type: 'object', properties: { accepted: { type: 'boolean' }, retry_after_seconds: { type: 'number' } } }) }, ...agentErrors },
        },
      },
      '/api/services/{id}/logs': {
        get: {
          summary: 'Log lines: the last N per stream (default), the lines written since a time (?since), or a search (?q text, ?regex), newest first, across rotated archives. ' +
            'text/plain, or JSON lines {stream, line, at, offset} with Accept: application/x-ndjson. X-Log-Truncated / X-Log-Timed-Out say when a cap was hit.',
          operationId: 'serviceLogs',
          parameters: [
            idParam,
            { name: 'lines', in: 'query', schema: { type: 'integer', default: 100, maximum: 10000 } },
            { name: 'stream', in: 'query', schema: { enum: ['stdout', 'stderr', 'both'], default: 'both' } },
            { name: 'since', in: 'query', schema: { type: 'string', format: 'date-time' }, description: 'ISO 8601 time or epoch ms' },
            { name: 'q', in: 'query', schema: { type: 'string' }, description: 'case-insensitive text to find' },
            { name: 'regex', in: 'query', schema: { type: 'string' }, description: 'JavaScript regular expression to find' },
          ],
          responses: { '200': { description: 'log lines', content: { 'text/plain': {}, 'application/x-ndjson': {} } }, '503': error('Reading took too long'), ...withId },
        },
      },
      '/api/services/{id}/metrics': {
        get: {
          summary: 'CPU and memory history in per-minute buckets (average and maximum)', operationId: 'serviceMetrics',
          parameters: [idParam, { name: 'since', in: 'query', schema: { type: 'string', format: 'date-time' }, description: 'default: an hour ago' }],
          responses: { '200': { description: '{service, bucket_seconds, points: [{at, cpu_percent, cpu_max, rss_bytes, rss_max, samples}]}' }, ...withId },
        },
      },
      '/api/services/{id}/runs': {
        get: {
          summary: 'Runs of a service, newest first: start, end, exit code or signal, duration, log offsets', operationId: 'serviceRuns',
          parameters: [idParam, { name: 'limit', in: 'query', schema: { type: 'integer', default: 20, maximum: 500 } }, { name: 'before', in: 'query', schema: { type: 'integer' }, description: 'Only runs with a smaller id (next_before of the previous page)' }],
          responses: { '200': { description: 'runs', ...jsonBody({ type: 'object', properties: { service: { type: 'string' }, runs: { type: 'array', items: ref('Run') }, total: { type: 'integer' }, next_before: { type: ['integer', 'null'] } } }) }, ...withId },
        },
      },
      '/api/services/{id}/events': {
        get: { summary: 'Event history of a service', operationId: 'serviceEvents', parameters: [idParam, { name: 'since', in: 'query', schema: { type: 'integer' } }, { name: 'limit', in: 'query', schema: { type: 'integer', default: 100 } }], responses: { '200': { description: 'events' }, ...withId } },
      },
      '/api/events': {
        get: { summary: 'All events after a sequence number', operationId: 'events', parameters: [{ name: 'since', in: 'query', schema: { type: 'integer', default: 0 } }, { name: 'limit', in: 'query', schema: { type: 'integer', default: 100 } }, { name: 'service', in: 'query', schema: { type: 'string' } }, { name: 'type', in: 'query', schema: { type: 'string' } }, { name: 'actor', in: 'query', schema: { type: 'string' }, description: 'The API key name a change was made by' }], responses: { '200': { description: 'events' }, ...common } },
      },
      '/api/reload': { post: { summary: 'Re-read services/ and apply the differences', operationId: 'reload', responses: { '200': { description: 'added, removed, changed, restarted, problems' }, ...common } } },
      '/metrics': { get: { summary: 'Prometheus metrics', operationId: 'metrics', responses: { '200': { description: 'text exposition format', content: { 'text/plain': {} } }, ...common } } },
      '/api/whoami': { get: { summary: 'The presented key: its name and scopes', operationId: 'whoami', responses: { '200': { description: '{name, scopes}' }, ...common } } },
      '/api/alerts': {
        get: {
          summary: 'Alert sinks (URLs cut to scheme and host) and the latest deliveries with their attempts', operationId: 'alerts',
          parameters: [{ name: 'sink', in: 'query', schema: { type: 'string' } }, { name: 'delivery', in: 'query', schema: { type: 'string' } }, { name: 'limit', in: 'query', schema: { type: 'integer', default: 50, maximum: 200 } }],
          responses: { '200': { description: '{sinks, pending, in_flight, deliveries: [{id, sink, status, attempts: [{n, at, status, error}], next_attempt_at, …}]}' }, '404': error('Unknown sink'), ...common },
        },
      },
      '/api/alerts/{name}/test': {
        post: {
          summary: 'Send a test message to an alert sink', operationId: 'testAlert',
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' } }],
          responses: { '202': { description: '{delivery}: queued; follow it with GET /api/alerts?delivery=ID' }, '404': error('Unknown sink'), ...common },
        },
      },
      '/api/export/{target}': {
        get: {
          summary: 'The fleet as systemd units or Kubernetes manifests, with the report of what maps exactly, approximately or not at all. ' +
            'JSON {target, files: {name: content}, report, services}; a tar of the files and EXPORT-REPORT.md with ?format=tar or Accept: application/x-tar',
          operationId: 'export',
          parameters: [
            { name: 'target', in: 'path', required: true, schema: { enum: ['systemd', 'kubernetes'] } },
            { name: 'ids', in: 'query', schema: { type: 'string' }, description: 'comma-separated service ids (default: all)' },
            { name: 'image', in: 'query', schema: { type: 'string' }, description: 'kubernetes: the image of services whose spec names none' },
            { name: 'self', in: 'query', schema: { type: 'boolean' }, description: 'systemd: also orchestrator.service' },
            { name: 'systemd_version', in: 'query', schema: { type: 'integer', default: 252 }, description: 'systemd: the oldest release the units must work on' },
            { name: 'format', in: 'query', schema: { enum: ['json', 'tar'], default: 'json' } },
          ],
          responses: { '200': { description: 'the export', content: { 'application/json': {}, 'application/x-tar': {} } }, '404': error('Unknown target or service'), ...common },
        },
      },
      '/api/openapi.json': { get: { summary: 'This document', operationId: 'openapi', responses: { '200': { description: 'OpenAPI 3.1' } } } },
      '/ws': {
        get: {
          summary: 'WebSocket feed: snapshot on connect, then numbered events; ?since=SEQ resumes without gaps. ' +
            'Client messages: {"type":"subscribe"|"unsubscribe","topics":["services"|"service/<id>"|"logs/<id>"]}.',
          operationId: 'feed', parameters: [{ name: 'since', in: 'query', schema: { type: 'integer' } }, { name: 'api_key', in: 'query', schema: { type: 'string' } }],
          responses: { '101': { description: 'Switching protocols' }, '401': error('Missing or wrong API key'), '403': error('Foreign Origin') },
        },
      },
    },
  };
}
