/**
 * GET /api/openapi.json: the API described as OpenAPI 3.1. The paths are written here, beside
 * routes.ts (test/http/observability.test.ts checks they agree); every body schema is generated
 * from the valibot schemas (openapi-components.ts), and test/http/openapi-responses.test.ts calls
 * every route and validates its answers against this document.
 */
import { UNIT_ID_PATTERN } from '../config/instances.js';
import type { ServiceDefaults } from '../config/schema.js';
import { componentSchemas, ref } from './openapi-components.js';

const jsonBody = (schema: object) => ({ content: { 'application/json': { schema } } });
const ok = (description: string, schema: string | object) => ({ description, ...jsonBody(typeof schema === 'string' ? ref(schema) : schema) });
const error = (description: string) => ({ description, ...jsonBody(ref('Error')) });
/** A service id, or an instance of a replicated service <id>#n. */
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: UNIT_ID_PATTERN.source } };
const common = {
  '401': error('Missing or wrong API key'),
  '403': error('The key lacks the scope this route needs (read, operate or admin)'),
  '429': error('Rate limit exceeded (see Retry-After)'),
};
/** Routes that take a JSON body. */
const bodyErrors = { '413': error('Body over 1 MB'), '415': error('Not application/json') };
/** A service's own calls: its run token (or the API key) as a bearer token; not rate limited. */
const agentSecurity = [{ bearer: [] }, { apiKey: [] }, {}];
const agentErrors = {
  '400': error('Invalid id or body; field names it'), '401': error('Missing or wrong token (with API keys configured)'),
  '403': error('A run token of another service, or a key without the operate scope'), '404': error('Unknown service'), ...bodyErrors,
};
const withId = { '400': error('Invalid id or input'), '404': error('Unknown service'), ...common };
const busy = { '503': error('Actor host restarting') };
const control = (verb: string) => ({
  put: {
    summary: `${verb[0]!.toUpperCase()}${verb.slice(1)} a service (idempotent): a replicated service's every instance, or one instance <id>#n`,
    operationId: `${verb}Service`,
    parameters: [idParam, ...(verb === 'restart' ? [{
      name: 'rolling', in: 'query', required: false, schema: { type: 'boolean' },
      description: 'A replicated service: one instance at a time (rollout.max_parallel), each healthy for rollout.min_healthy_seconds before the next; 409 while one runs',
    }] : [])],
    responses: {
      '202': ok('Accepted; the state right after the command (a replicated service: its detail, with instances)', { anyOf: [ref('Service'), ref('ServiceDetail')] }),
      '409': error('External or adopted service, or a rolling restart already under way'), ...withId, ...busy,
    },
  },
});

/** The document; `defaults` and `baseDir` are the ones POST /api/services validates with (defaults are shown). */
export function openApiDocument(version: string, defaults: ServiceDefaults, baseDir: string): Record<string, unknown> {
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
      schemas: componentSchemas(defaults, baseDir),
    },
    security: [{ apiKey: [] }, { bearer: [] }],
    paths: {
      '/health': { get: { summary: 'Orchestrator health (no API key needed)', operationId: 'health', security: [], responses: { '200': ok('ok or degraded (problems say why)', 'Health'), '503': ok('unavailable: the actor host is down', 'Health') } } },
      '/api/services': {
        get: { summary: 'List all services', operationId: 'listServices', parameters: [{ name: 'state', in: 'query', schema: { type: 'string' } }], responses: { '200': ok('services', 'ServiceList'), '400': error('Invalid query'), ...common } },
        post: { summary: 'Register a new service', operationId: 'registerService', requestBody: { required: true, ...jsonBody(ref('ServiceSpec')) }, responses: { '201': ok('registered', 'ServiceDetail'), '200': ok('an external service registering itself again', 'ServiceDetail'), '400': error('Validation error; field names the path'), '409': error('Duplicate id'), ...bodyErrors, ...common, ...busy } },
      },
      '/api/services/{id}': {
        get: { summary: 'Service details: spec, state, health, usage, last exit, recent events', operationId: 'getService', parameters: [idParam], responses: { '200': ok('service', 'ServiceDetail'), ...withId } },
        patch: { summary: 'Change an API-registered service (JSON merge patch); restarts only if needed', operationId: 'updateService', parameters: [idParam], requestBody: { required: true, ...jsonBody(ref('ServicePatch')) }, responses: { '200': ok('updated; restarted says whether it was restarted', 'UpdatedService'), '409': error('Defined by a file'), ...bodyErrors, ...withId, ...busy } },
        delete: { summary: 'Stop and remove an API-registered service', operationId: 'removeService', parameters: [idParam], responses: { '200': ok('removed', 'Removed'), '409': error('Defined by a file, or required by another service'), ...withId, ...busy } },
      },
      '/api/services/{id}/start': control('start'),
      '/api/services/{id}/stop': control('stop'),
      '/api/services/{id}/restart': control('restart'),
      '/api/services/{id}/heartbeat': {
        post: {
          summary: 'The service says it is working (its run token ORCHESTRATOR_TOKEN, or the API key, as Authorization: Bearer). ' +
            'drain: true while a planned stop waits for its in-flight work (finish it, take no more, report inflight 0).',
          operationId: 'heartbeat', parameters: [idParam], security: agentSecurity,
          requestBody: { required: false, ...jsonBody(ref('HeartbeatBody')) },
          responses: { '200': ok('recorded', 'HeartbeatAnswer'), ...agentErrors },
        },
      },
      '/api/services/{id}/throttle': {
        post: {
          summary: 'The service is rate-limited: its next exit is throttled (waits retry_after_seconds, spends no retry), not a crash; longer than throttle.max_seconds: failed (quota)',
          operationId: 'throttle', parameters: [idParam], security: agentSecurity,
          requestBody: { required: true, ...jsonBody(ref('ThrottleBody')) },
          responses: { '202': ok('accepted', 'ThrottleAnswer'), ...agentErrors },
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
          responses: { '200': { description: 'log lines', content: { 'text/plain': { schema: { type: 'string' } }, 'application/x-ndjson': { schema: ref('LogLine'), description: 'one LogLine per line' } } }, '503': error('Reading took too long'), ...withId },
        },
      },
      '/api/services/{id}/metrics': {
        get: {
          summary: 'CPU and memory history in per-minute buckets (average and maximum)', operationId: 'serviceMetrics',
          parameters: [idParam, { name: 'since', in: 'query', schema: { type: 'string', format: 'date-time' }, description: 'default: an hour ago' }],
          responses: { '200': ok('per-minute points', 'MetricsPage'), ...withId },
        },
      },
      '/api/services/{id}/runs': {
        get: {
          summary: 'Runs of a service, newest first: start, end, exit code or signal, duration, log offsets', operationId: 'serviceRuns',
          parameters: [idParam, { name: 'limit', in: 'query', schema: { type: 'integer', default: 20, maximum: 500 } }, { name: 'before', in: 'query', schema: { type: 'integer' }, description: 'Only runs with a smaller id (next_before of the previous page)' }],
          responses: { '200': ok('runs, newest first', 'RunsPage'), ...withId },
        },
      },
      '/api/services/{id}/events': {
        get: { summary: 'Event history of a service', operationId: 'serviceEvents', parameters: [idParam, { name: 'since', in: 'query', schema: { type: 'integer' } }, { name: 'limit', in: 'query', schema: { type: 'integer', default: 100 } }], responses: { '200': ok('events, oldest first', 'EventsPage'), ...withId } },
      },
      '/api/events': {
        get: { summary: 'All events after a sequence number', operationId: 'events', parameters: [{ name: 'since', in: 'query', schema: { type: 'integer', default: 0 } }, { name: 'limit', in: 'query', schema: { type: 'integer', default: 100 } }, { name: 'service', in: 'query', schema: { type: 'string' } }, { name: 'type', in: 'query', schema: { type: 'string' } }, { name: 'actor', in: 'query', schema: { type: 'string' }, description: 'The API key name a change was made by' }], responses: { '200': ok('events, oldest first', 'EventsPage'), '400': error('Invalid query'), ...common } },
      },
      '/api/reload': { post: { summary: 'Re-read services/ and apply the differences', operationId: 'reload', responses: { '200': ok('what changed, and the problems of the files that were not applied', 'ReloadResult'), ...common, ...busy } } },
      '/metrics': { get: { summary: 'Prometheus metrics', operationId: 'metrics', responses: { '200': { description: 'text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } }, ...common } } },
      '/api/whoami': { get: { summary: 'The presented key: its name and scopes', operationId: 'whoami', responses: { '200': ok('the key', 'Whoami'), ...common } } },
      '/api/alerts': {
        get: {
          summary: 'Alert sinks (URLs cut to scheme and host) and the latest deliveries with their attempts', operationId: 'alerts',
          parameters: [{ name: 'sink', in: 'query', schema: { type: 'string' } }, { name: 'delivery', in: 'query', schema: { type: 'string' } }, { name: 'limit', in: 'query', schema: { type: 'integer', default: 50, maximum: 200 } }],
          responses: { '200': ok('sinks and deliveries', 'AlertsView'), '400': error('Invalid query'), '404': error('Unknown sink'), ...common },
        },
      },
      '/api/alerts/{name}/test': {
        post: {
          summary: 'Send a test message to an alert sink', operationId: 'testAlert',
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' } }],
          responses: { '202': ok('queued', 'AlertTest'), '400': error('Invalid sink name'), '404': error('Unknown sink'), ...common },
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
          responses: { '200': { description: 'the export', content: { 'application/json': { schema: ref('ExportResult') }, 'application/x-tar': { schema: { type: 'string', contentMediaType: 'application/x-tar' } } } }, '400': error('Invalid query'), '404': error('Unknown target or service'), ...common },
        },
      },
      '/api/openapi.json': { get: { summary: 'This document', operationId: 'openapi', responses: { '200': ok('OpenAPI 3.1', { type: 'object', required: ['openapi', 'info', 'paths'] }), ...common } } },
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
