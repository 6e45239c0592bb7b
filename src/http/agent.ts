/**
 * The calls a supervised service makes about itself: POST /api/services/{id}/heartbeat (it is
 * working; the answer says whether to drain) and /throttle (its next exit is rate-limited, not a
 * crash). Each is authorised by the run's own token (ORCHESTRATOR_TOKEN, os/tokens.ts) or by the
 * API key, and becomes one message to the service's actor, batched with the kernel's facts: no
 * registry write, no call into the worker, so a thousand services heartbeating every second cost
 * the main thread little more than the HTTP itself.
 *
 * Authorisation, in order: a token of this service's live run (the message carries its run id);
 * an API key with the operate scope; a token of another service's live run is refused (403) with or
 * without an API key; a key without operate is refused (403); anything else is refused (401) when
 * API keys are configured, and accepted (no run id) when the API is open, as every other route is
 * then.
 */
import type { HeartbeatAnswer } from '../api/types.js';
import { AppError, badRequest, notFound } from '../errors.js';
import { presentedKey } from './auth.js';
import type { HttpPorts } from './ports.js';
import { serviceId, type Request, type Result, type Route } from './server.js';

/** A longer status line is cut to this many characters (a status is a line, not a log). */
export const MAX_STATUS_CHARS = 500;

export function agentRoutes(o: HttpPorts): Route[] {
  return [
    {
      // Exempt from the per-address rate limit: every local service calls from 127.0.0.1.
      // Nor logged per request: a thousand services heartbeating every second would flood the log.
      method: 'post', pattern: '/api/services/:id/heartbeat', selfAuth: true, unlimited: true, quiet: true,
      handler: (req): Result => {
        const { id, runId } = authorise(o, req);
        const body = heartbeatBody(req.body);
        o.agents.tell(id, { type: 'heartbeat', ...(runId ? { runId } : {}), ...body });
        const answer: HeartbeatAnswer = { drain: o.fleet.get(id).view.state === 'draining' };
        return { status: 200, json: answer };
      },
    },
    {
      method: 'post', pattern: '/api/services/:id/throttle', selfAuth: true, unlimited: true,
      handler: (req): Result => {
        const { id, runId } = authorise(o, req);
        const seconds = throttleSeconds(req.body);
        const retryAfterMs = Math.min(Math.round(seconds * 1000), Number.MAX_SAFE_INTEGER);
        o.agents.tell(id, { type: 'throttle', ...(runId ? { runId } : {}), retryAfterMs });
        return { status: 202, json: { accepted: true, retry_after_seconds: seconds } };
      },
    },
  ];
}

/** Who may make this call about service :id, and the run it speaks for (a run token's). */
function authorise(o: HttpPorts, req: Request): { id: string; runId?: string } {
  const id = serviceId(req);
  const presented = presentedKey(req.headers);
  let runId: string | undefined;
  if (presented) {
    const owner = o.agents.tokenOwner(id, presented);
    if (owner.kind === 'own') runId = owner.runId;
    else if (owner.kind === 'other') throw new AppError('forbidden', `this run token belongs to another service: it authorises only that service's own calls, not "${id}"'s`, 403);
  }
  // Not its own run's token: the key the server's checks resolved (req.principal) must have operate.
  if (!runId && !req.principal.scopes.has('operate')) {
    if (req.principal.scopes.size === 0) throw unauthorised();
    throw new AppError('forbidden', `the key "${req.principal.name}" may not do this: it needs the operate scope`, 403);
  }
  if (!o.fleet.has(id)) throw notFound(`service "${id}"`);
  return runId ? { id, runId } : { id };
}

const unauthorised = () => new AppError('unauthorized', 'missing or wrong credentials: send the run\'s ORCHESTRATOR_TOKEN or the API key as Authorization: Bearer (or the API key as X-API-Key)', 401);

/** {progress?, inflight?, status?}: each optional (null counts as absent), other fields ignored. */
function heartbeatBody(body: unknown): { progress?: number; inflight?: number; status?: string } {
  if (body === undefined) return {};
  const b = object(body, 'a JSON object {"progress"?, "inflight"?, "status"?}');
  const out: { progress?: number; inflight?: number; status?: string } = {};
  if (b.progress !== undefined && b.progress !== null) {
    if (typeof b.progress !== 'number' || !Number.isFinite(b.progress)) throw badRequest('progress must be a finite number', 'progress');
    out.progress = b.progress;
  }
  if (b.inflight !== undefined && b.inflight !== null) {
    if (typeof b.inflight !== 'number' || !Number.isSafeInteger(b.inflight) || b.inflight < 0) throw badRequest('inflight must be an integer of 0 or more', 'inflight');
    out.inflight = b.inflight;
  }
  if (b.status !== undefined && b.status !== null) {
    if (typeof b.status !== 'string') throw badRequest('status must be a string', 'status');
    out.status = cut(b.status, MAX_STATUS_CHARS);
  }
  return out;
}

/** {retry_after_seconds}: a positive number of seconds. */
function throttleSeconds(body: unknown): number {
  if (body === undefined) throw badRequest('retry_after_seconds is required (a JSON body {"retry_after_seconds": number})', 'retry_after_seconds');
  const b = object(body, 'a JSON object {"retry_after_seconds": number}');
  const s = b.retry_after_seconds;
  if (s === undefined || s === null) throw badRequest('retry_after_seconds is required', 'retry_after_seconds');
  if (typeof s !== 'number' || !Number.isFinite(s) || s <= 0) throw badRequest('retry_after_seconds must be a positive number of seconds', 'retry_after_seconds');
  return s;
}

function object(body: unknown, what: string): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest(`the body must be ${what}`);
  return body as Record<string, unknown>;
}

/** At most `max` UTF-16 units, never half a surrogate pair. */
function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  const code = s.charCodeAt(max - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}
