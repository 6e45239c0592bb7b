/** The REST API: the seed's endpoints plus history, reload, metrics and the OpenAPI document. */
import { formatProblem, serviceDefaults, type Problem } from '../config/load.js';
import { badRequest, notFound } from '../errors.js';
import type { FleetSummary } from '../fleet/views.js';
import type { LogQuery } from '../logs/query.js';
import type { Stream } from '../os/logs.js';
import type { EventFilter } from '../store/events.js';
import { version } from '../version.js';
import { renderMetrics, startLoopMonitor } from './metrics.js';
import { openApiDocument } from './openapi.js';
import { presentEvent, presentRun, presentService, presentSpec } from './present.js';
import type { RunsPage, ServiceDetail } from '../api/types.js';
import type { EngineName } from './engine/types.js';
import type { HttpPorts } from './ports.js';
import { serviceId, type Request, type Result, type Route } from './server.js';
import { agentRoutes } from './agent.js';
import { alertRoutes } from './alerts.js';
import { exportRoutes } from './export.js';

const MAX_LOG_LINES = 10_000;
const MAX_EVENTS = 1_000;
const MAX_METRIC_POINTS = 10_080; // a week of minutes
const DETAIL_EVENTS = 10;
const MAX_RUNS = 500;

/**
 * GET /health. Load balancers and uptime checks poll it hard, so its serialized answer is reused
 * while nothing in it changes: within one millisecond (its `timestamp`) and for the same fleet
 * summary, problems, conditions and actor-host state. What a client reads is the same either way.
 */
function healthHandler(o: HttpPorts, engine: EngineName): () => Result {
  const startedAt = new Date(o.status.startedAt).toISOString();
  let last: { ms: number; summary: FleetSummary; problems: Problem[]; conditions: string; hostUp: boolean; result: Result } | null = null;
  return () => {
    const ms = Date.now();
    const summary = o.fleet.summary();
    const conditions = o.history.conditions();
    const conditionsKey = conditions.join('\n');
    const hostUp = o.status.hostReady();
    if (last && last.ms === ms && last.summary === summary && last.problems === o.fleet.problems && last.conditions === conditionsKey && last.hostUp === hostUp) {
      return last.result;
    }
    const problems = o.fleet.problems.length ? [...o.fleet.problems.map(formatProblem), ...conditions] : conditions;
    const body = {
      status: !hostUp ? 'unavailable' : problems.length ? 'degraded' : 'ok',
      version: version(),
      pid: process.pid,
      engine,
      started_at: startedAt,
      uptime_seconds: Math.round(o.status.uptimeSeconds() * 10) / 10,
      services: summary,
      problems,
      timestamp: new Date(ms).toISOString(),
    };
    const result: Result = { status: hostUp ? 200 : 503, text: JSON.stringify(body), contentType: 'application/json; charset=utf-8' };
    last = { ms, summary, problems: o.fleet.problems, conditions: conditionsKey, hostUp, result };
    return result;
  };
}

export function apiRoutes(o: HttpPorts, engine: EngineName): Route[] {
  startLoopMonitor();
  const json = (status: number, body: unknown): Result => ({ status, json: body });
  const detail = (id: string): ServiceDetail => {
    const entry = o.fleet.get(id);
    const base = { ...presentService(entry), spec: presentSpec(entry.spec), events: o.events.latest(id, DETAIL_EVENTS, o.fleet.isGroup(id)).map(presentEvent) };
    if (!o.fleet.isGroup(id)) return base;
    // A replicated service: its own view is made of its instances' (fleet/views.ts aggregateView).
    const group = o.fleet.group(id);
    return { ...base, gpus: null, replicas: group.spec.replicas ?? 0, instances: group.instances.map(presentService), rollout: o.fleet.rollout(id) };
  };

  let openApi: Record<string, unknown> | undefined; // built at the first request: the config does not change while it runs
  return [
    { method: 'get', pattern: '/health', public: true, unlimited: true, handler: healthHandler(o, engine) },
    {
      method: 'get', pattern: '/api/services',
      handler: (req) => {
        const state = req.query.get('state');
        const services = o.fleet.list().filter(({ view }) => !state || view.state === state).map(presentService);
        return json(200, { services, count: services.length });
      },
    },
    { method: 'get', pattern: '/api/services/:id', handler: (req) => json(200, detail(serviceId(req))) },
    ...agentRoutes(o),
    {
      method: 'post', pattern: '/api/services',
      handler: async (req) => {
        if (req.body === undefined) throw badRequest('a JSON body with the service definition is required');
        const entry = await o.fleet.register(req.body, req.principal.name);
        return json(entry.created ? 201 : 200, detail(entry.spec.id));
      },
    },
    ...(['start', 'stop', 'restart'] as const).map((command): Route => ({
      method: 'put', pattern: `/api/services/:id/${command}`, scope: 'operate',
      handler: async (req) => {
        const id = serviceId(req);
        const reason = `${command} requested over the API`;
        // A replicated service: every instance at once, or (restart?rolling=true) one at a time.
        if (o.fleet.isGroup(id)) {
          if (command === 'restart' && boolParam(req, 'rolling')) o.fleet.rollingRestart(id, req.principal.name);
          else await o.fleet.commandGroup(id, command, reason, req.principal.name);
          return json(202, detail(id));
        }
        return json(202, presentService(await o.fleet.command(id, command, reason, req.principal.name)));
      },
    })),
    {
      method: 'patch', pattern: '/api/services/:id',
      handler: async (req) => {
        if (!req.body || typeof req.body !== 'object' || Array.isArray(req.body)) throw badRequest('a JSON object with the fields to change is required');
        const result = await o.fleet.update(serviceId(req), req.body as Record<string, unknown>, true, req.principal.name);
        return json(200, { ...detail(result.spec.id), restarted: result.restarted });
      },
    },
    {
      method: 'del', pattern: '/api/services/:id',
      handler: async (req) => {
        const id = serviceId(req);
        await o.fleet.remove(id, { actor: req.principal.name });
        return json(200, { id, removed: true });
      },
    },
    {
      method: 'get', pattern: '/api/services/:id/logs',
      handler: async (req) => {
        const id = serviceId(req);
        if (!o.fleet.has(id)) throw notFound(`service "${id}"`);
        const q = logQuery(req);
        const answer = await o.logs.query(id, q);
        const headers: Array<[string, string]> = [];
        if (answer.truncated) headers.push(['x-log-truncated', 'true']);
        if (answer.timedOut) headers.push(['x-log-timed-out', 'true']);
        if (/application\/(x-ndjson|json)/.test(req.headers.accept)) {
          const body = answer.lines.map((l) => JSON.stringify({ stream: l.stream, line: l.line, at: new Date(l.at).toISOString(), offset: l.offset, ...(l.instance ? { instance: l.instance } : {}) })).join('\n');
          return { status: 200, text: body ? `${body}\n` : '', contentType: 'application/x-ndjson; charset=utf-8', headers };
        }
        // A replicated service's lines name their instance, like `docker compose logs`.
        const text = answer.lines.map((l) => `${l.instance ? `${l.instance} | ` : ''}${q.streams.length > 1 ? `[${l.stream}] ` : ''}${l.line}`).join('\n');
        return { status: 200, text: text ? `${text}\n` : '', contentType: 'text/plain; charset=utf-8', headers };
      },
    },
    {
      method: 'get', pattern: '/api/services/:id/metrics',
      handler: (req) => {
        const id = serviceId(req);
        if (!o.fleet.has(id)) throw notFound(`service "${id}"`);
        const since = timeParam(req, 'since', Date.now() - 3_600_000);
        const points = o.history.samplesSince(id, since, MAX_METRIC_POINTS).map((b) => ({
          at: new Date(b.bucket).toISOString(), cpu_percent: round1(b.cpu_avg), cpu_max: round1(b.cpu_max),
          rss_bytes: Math.round(b.rss_avg), rss_max: b.rss_max, samples: b.n,
        }));
        return json(200, { service: id, bucket_seconds: 60, points });
      },
    },
    {
      method: 'get', pattern: '/api/services/:id/runs',
      handler: (req) => {
        const id = serviceId(req);
        const limit = intParam(req, 'limit', 20, 1, MAX_RUNS);
        const before = intParam(req, 'before', Number.MAX_SAFE_INTEGER, 1, Number.MAX_SAFE_INTEGER);
        const rows = o.runs.before(id, before, limit);
        if (!o.fleet.has(id) && rows.length === 0) throw notFound(`service "${id}"`);
        const page: RunsPage = { service: id, runs: rows.map(presentRun), total: o.runs.total(id), next_before: rows.length === limit ? rows[rows.length - 1]!.id : null };
        return json(200, page);
      },
    },
    {
      method: 'get', pattern: '/api/services/:id/events',
      handler: (req) => {
        const id = serviceId(req);
        const limit = intParam(req, 'limit', 100, 1, MAX_EVENTS);
        const since = req.query.has('since') ? intParam(req, 'since', 0, 0, Number.MAX_SAFE_INTEGER) : undefined;
        const group = o.fleet.isGroup(id);
        const events = since === undefined ? o.events.latest(id, limit, group).reverse() : o.events.after(since, limit, id, group);
        if (!o.fleet.has(id) && events.length === 0) throw notFound(`service "${id}"`);
        return json(200, { events: events.map(presentEvent), last_seq: o.events.lastSeq() });
      },
    },
    {
      method: 'get', pattern: '/api/events',
      handler: (req) => {
        const limit = intParam(req, 'limit', 100, 1, MAX_EVENTS);
        const since = intParam(req, 'since', 0, 0, Number.MAX_SAFE_INTEGER);
        const filter: EventFilter = {};
        for (const field of ['service', 'type', 'actor'] as const) {
          const value = req.query.get(field);
          if (value !== null && value !== '') filter[field] = value;
        }
        if (filter.service !== undefined && o.fleet.isGroup(filter.service)) filter.instances = true;
        const events = Object.keys(filter).length ? o.events.matching(since, limit, filter) : o.events.after(since, limit);
        return json(200, { events: events.map(presentEvent), last_seq: o.events.lastSeq() });
      },
    },
    {
      method: 'post', pattern: '/api/reload', scope: 'operate',
      handler: async (req) => {
        const r = await o.fleet.reload(req.principal.name);
        return json(200, { ...r, problems: r.problems.map((p) => ({ file: p.file, line: p.line, col: p.col, field: p.field, message: p.message })) });
      },
    },
    {
      method: 'get', pattern: '/metrics',
      handler: () => ({ status: 200, text: renderMetrics(o), contentType: 'text/plain; version=0.0.4; charset=utf-8' }),
    },
    {
      // Who the presented key is and what it may do (the MCP server lists its tools by this).
      method: 'get', pattern: '/api/whoami',
      handler: (req) => json(200, { name: req.principal.name, scopes: [...req.principal.scopes] }),
    },
    ...alertRoutes(o),
    ...exportRoutes(o),
    { method: 'get', pattern: '/api/openapi.json', handler: () => json(200, openApi ??= openApiDocument(version(), serviceDefaults(o.config), o.config.baseDir)) },
    // Load generation for bench/ws-fanout.mjs; absent unless the orchestrator runs with ORCHESTRATOR_BENCH=1.
    ...(process.env.ORCHESTRATOR_BENCH === '1' ? [{
      method: 'post' as const, pattern: '/api/_bench/events',
      handler: (req: Request) => {
        const body = (req.body ?? {}) as { rate?: number; seconds?: number };
        o.status.benchEvents(Number(body.rate ?? 1000), Number(body.seconds ?? 10));
        return json(202, { started: true });
      },
    }] : []),
  ];
}

/** ?lines, ?stream, ?since (ISO time or epoch ms), ?q (text) or ?regex (pattern). */
function logQuery(req: Request): LogQuery {
  const lines = intParam(req, 'lines', 100, 1, MAX_LOG_LINES);
  const which = req.query.get('stream') ?? 'both';
  if (!['stdout', 'stderr', 'both'].includes(which)) throw badRequest('stream must be stdout, stderr or both', 'stream');
  const streams: Stream[] = which === 'both' ? ['stdout', 'stderr'] : [which as Stream];
  const q: LogQuery = { streams, lines };
  if (req.query.get('since')) q.since = timeParam(req, 'since', 0);
  const text = req.query.get('q');
  const regex = req.query.get('regex');
  if (text !== null && regex !== null) throw badRequest('give q (text) or regex, not both', 'regex');
  if (text !== null) {
    if (text === '') throw badRequest('q must not be empty', 'q');
    q.text = text;
  }
  if (regex !== null) {
    try {
      new RegExp(regex);
    } catch (e) {
      throw badRequest(`regex is not a valid regular expression: ${(e as Error).message}`, 'regex');
    }
    q.regex = regex;
  }
  return q;
}

/** A time given as ISO 8601 or epoch milliseconds. */
function timeParam(req: Request, name: string, def: number): number {
  const raw = req.query.get(name);
  if (raw === null || raw === '') return def;
  const t = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(t)) throw badRequest(`${name} must be an ISO 8601 time (e.g. 2026-11-23T10:00:00Z) or epoch milliseconds`, name);
  return t;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/** ?name=true|false|1|0 (absent: false). */
function boolParam(req: Request, name: string): boolean {
  const raw = req.query.get(name);
  if (raw === null || raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw badRequest(`${name} must be true or false`, name);
}

function intParam(req: Request, name: string, def: number, min: number, max: number): number {
  const raw = req.query.get(name);
  if (raw === null || raw === '') return def;
  if (!/^\d+$/.test(raw)) throw badRequest(`${name} must be a non-negative integer`, name);
  const n = Number(raw);
  if (n < min) throw badRequest(`${name} must be at least ${min}`, name);
  return Math.min(n, max);
}
