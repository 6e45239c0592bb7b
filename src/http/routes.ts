/** The REST API: the seed's endpoints plus history, reload, metrics and the OpenAPI document. */
import { ID_PATTERN } from '../config/schema.js';
import { AppError, badRequest, notFound } from '../errors.js';
import type { Orchestrator } from '../orchestrator.js';
import { serviceLogPath, type Stream } from '../os/logs.js';
import { version } from '../version.js';
import { renderMetrics, startLoopMonitor } from './metrics.js';
import { openApiDocument } from './openapi.js';
import { presentEvent, presentService, presentSpec } from './present.js';
import type { Request, Result, Route } from './server.js';

const MAX_LOG_LINES = 10_000;
const MAX_EVENTS = 1_000;
const DETAIL_EVENTS = 10;

export function apiRoutes(o: Orchestrator): Route[] {
  startLoopMonitor();
  const json = (status: number, body: unknown): Result => ({ status, json: body });
  const detail = (id: string) => {
    const entry = o.get(id);
    return {
      ...presentService(entry),
      spec: presentSpec(entry.spec),
      events: o.registry.events.latest(id, DETAIL_EVENTS).map(presentEvent),
    };
  };

  return [
    {
      method: 'get', pattern: '/health', public: true, unlimited: true,
      handler: () => {
        const services = o.list();
        const byState: Record<string, number> = {};
        for (const { view } of services) byState[view.state] = (byState[view.state] ?? 0) + 1;
        const problems = [...o.problems.map((p) => `${p.file ? `${p.file}: ` : ''}${p.field ? `${p.field}: ` : ''}${p.message}`), ...o.conditions()];
        const hostUp = o.hostReady();
        return json(hostUp ? 200 : 503, {
          status: !hostUp ? 'unavailable' : problems.length ? 'degraded' : 'ok',
          version: version(),
          pid: process.pid,
          started_at: new Date(o.startedAt).toISOString(),
          uptime_seconds: Math.round(o.uptimeSeconds() * 10) / 10,
          services: {
            total: services.length,
            by_state: byState,
            healthy: services.filter(({ view }) => view.health === 'healthy').length,
            unhealthy: services.filter(({ view }) => view.health === 'unhealthy').length,
          },
          problems,
          timestamp: new Date().toISOString(),
        });
      },
    },
    {
      method: 'get', pattern: '/api/services',
      handler: (req) => {
        const state = req.query.get('state');
        const services = o.list().filter(({ view }) => !state || view.state === state).map(presentService);
        return json(200, { services, count: services.length });
      },
    },
    { method: 'get', pattern: '/api/services/:id', handler: (req) => json(200, detail(serviceId(req))) },
    {
      method: 'post', pattern: '/api/services',
      handler: async (req) => {
        if (req.body === undefined) throw badRequest('a JSON body with the service definition is required');
        const entry = await o.register(req.body);
        return json(entry.created ? 201 : 200, detail(entry.spec.id));
      },
    },
    ...(['start', 'stop', 'restart'] as const).map((command): Route => ({
      method: 'put', pattern: `/api/services/:id/${command}`,
      handler: async (req) => {
        const entry = await o.command(serviceId(req), command, `${command} requested over the API`);
        return json(202, presentService(entry));
      },
    })),
    {
      method: 'patch', pattern: '/api/services/:id',
      handler: async (req) => {
        if (!req.body || typeof req.body !== 'object' || Array.isArray(req.body)) throw badRequest('a JSON object with the fields to change is required');
        const result = await o.update(serviceId(req), req.body as Record<string, unknown>, true);
        return json(200, { ...detail(result.spec.id), restarted: result.restarted });
      },
    },
    {
      method: 'del', pattern: '/api/services/:id',
      handler: async (req) => {
        const id = serviceId(req);
        await o.remove(id);
        return json(200, { id, removed: true });
      },
    },
    {
      method: 'get', pattern: '/api/services/:id/logs',
      handler: async (req) => {
        const id = serviceId(req);
        if (!o.has(id)) throw notFound(`service "${id}"`);
        const lines = intParam(req, 'lines', 100, 1, MAX_LOG_LINES);
        const which = req.query.get('stream') ?? 'both';
        if (!['stdout', 'stderr', 'both'].includes(which)) throw badRequest('stream must be stdout, stderr or both', 'stream');
        const streams: Stream[] = which === 'both' ? ['stdout', 'stderr'] : [which as Stream];
        const tails = await Promise.all(streams.map(async (stream) => ({
          stream, ...(await o.pool.tail({ file: serviceLogPath(o.config.orchestrator.log_dir, id, stream), lines })),
        })));
        const asJson = /application\/(x-ndjson|json)/.test(req.headers.accept);
        if (asJson) {
          const body = tails.flatMap((t) => t.lines.map((line) => JSON.stringify({ stream: t.stream, line }))).join('\n');
          return { status: 200, text: body ? `${body}\n` : '', contentType: 'application/x-ndjson; charset=utf-8' };
        }
        const text = tails.flatMap((t) => (streams.length > 1 ? t.lines.map((l) => `[${t.stream}] ${l}`) : t.lines)).join('\n');
        return { status: 200, text: text ? `${text}\n` : '', contentType: 'text/plain; charset=utf-8' };
      },
    },
    {
      method: 'get', pattern: '/api/services/:id/events',
      handler: (req) => {
        const id = serviceId(req);
        const limit = intParam(req, 'limit', 100, 1, MAX_EVENTS);
        const since = req.query.has('since') ? intParam(req, 'since', 0, 0, Number.MAX_SAFE_INTEGER) : undefined;
        const events = since === undefined ? o.registry.events.latest(id, limit).reverse() : o.registry.events.after(since, limit, id);
        if (!o.has(id) && events.length === 0) throw notFound(`service "${id}"`);
        return json(200, { events: events.map(presentEvent), last_seq: o.registry.events.lastSeq() });
      },
    },
    {
      method: 'get', pattern: '/api/events',
      handler: (req) => {
        const limit = intParam(req, 'limit', 100, 1, MAX_EVENTS);
        const since = intParam(req, 'since', 0, 0, Number.MAX_SAFE_INTEGER);
        const events = o.registry.events.after(since, limit);
        return json(200, { events: events.map(presentEvent), last_seq: o.registry.events.lastSeq() });
      },
    },
    {
      method: 'post', pattern: '/api/reload',
      handler: async () => {
        const r = await o.reload();
        return json(200, { ...r, problems: r.problems.map((p) => ({ file: p.file, line: p.line, field: p.field, message: p.message })) });
      },
    },
    {
      method: 'get', pattern: '/metrics',
      handler: () => ({ status: 200, text: renderMetrics(o), contentType: 'text/plain; version=0.0.4; charset=utf-8' }),
    },
    { method: 'get', pattern: '/api/openapi.json', handler: () => json(200, openApiDocument(version())) },
  ];
}

/** The :id path segment, checked against the strict id pattern (nothing can escape a folder). */
export function serviceId(req: Request): string {
  const id = req.params.id ?? '';
  if (!ID_PATTERN.test(id)) throw new AppError('bad_request', `invalid service id "${id.slice(0, 80)}"`, 400, 'id');
  return id;
}

function intParam(req: Request, name: string, def: number, min: number, max: number): number {
  const raw = req.query.get(name);
  if (raw === null || raw === '') return def;
  if (!/^\d+$/.test(raw)) throw badRequest(`${name} must be a non-negative integer`, name);
  const n = Number(raw);
  if (n < min) throw badRequest(`${name} must be at least ${min}`, name);
  return Math.min(n, max);
}
