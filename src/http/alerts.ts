/**
 * GET /api/alerts: the alert sinks (URLs cut to scheme and host, secrets never) and the latest
 * deliveries with every attempt; POST /api/alerts/{name}/test: a test message to one sink (202; its
 * delivery id is in the answer, so a client can follow it in GET /api/alerts?delivery=ID).
 */
import { ID_PATTERN } from '../config/schema.js';
import { AppError, badRequest, notFound } from '../errors.js';
import type { HttpPorts } from './ports.js';
import type { Route } from './server.js';

const DEFAULT_DELIVERIES = 50;
const MAX_DELIVERIES = 200;

export function alertRoutes(o: HttpPorts): Route[] {
  return [
    {
      method: 'get', pattern: '/api/alerts', scope: 'read',
      handler: (req) => {
        const raw = req.query.get('limit');
        if (raw !== null && !/^\d+$/.test(raw)) throw badRequest('limit must be a non-negative integer', 'limit');
        const limit = raw === null ? DEFAULT_DELIVERIES : Math.min(Math.max(Number(raw), 1), MAX_DELIVERIES);
        const sink = req.query.get('sink') ?? undefined;
        const delivery = req.query.get('delivery') ?? undefined;
        if (sink !== undefined && !o.alerts.has(sink)) throw notFound(`alert sink "${sink.slice(0, 80)}"`);
        return { status: 200, json: o.alerts.view({ sink, delivery, limit }) };
      },
    },
    {
      method: 'post', pattern: '/api/alerts/:name/test', scope: 'operate',
      handler: (req) => {
        const name = req.params.name ?? '';
        if (!ID_PATTERN.test(name)) throw new AppError('bad_request', `invalid alert sink name "${name.slice(0, 80)}"`, 400, 'name');
        const delivery = o.alerts.test(name);
        if (!delivery) throw notFound(`alert sink "${name}"`);
        return { status: 202, json: { delivery } };
      },
    },
  ];
}
