/**
 * The checks every request passes before its route's handler (DESIGN.md §4), in the order
 * server.ts applies them: size limits, Host against DNS rebinding, CORS, the rate limit, the API
 * key and its scope, Origin for mutations. /ws upgrades (ws.ts) pass the same ones.
 */
import { type OrchestratorConfig } from '../config/schema.js';
import { AppError } from '../errors.js';
import {
  allowedHostNames, ANONYMOUS, hostName, isLoopback, Keyring, NOBODY, originAllowed, presentedKey, RateLimiter,
  type Scope,
} from './auth.js';
import { LIMITS, type RawRequest } from './engine/types.js';
import type { Reply } from './respond.js';
import type { Request } from './server.js';

export interface Security {
  config: OrchestratorConfig;
  limiter: RateLimiter;
  hosts: Set<string>;
  keys: Keyring;
}

export function createSecurity(config: OrchestratorConfig): Security {
  return { config, limiter: new RateLimiter(config.api.rate_limit), hosts: allowedHostNames(config), keys: new Keyring(config) };
}

/** Refuse a non-loopback bind without an API key: the API can start and stop processes. */
export function checkBindSafety(config: OrchestratorConfig): void {
  const host = config.orchestrator.host;
  if (!isLoopback(host) && !config.api.api_key && config.api.keys.length === 0) {
    throw new Error(
      `refusing to listen on ${host}:${config.orchestrator.port} without an API key: anyone who can reach it could run commands. ` +
      'Set api.api_key or api.keys in the config file (or ORCHESTRATOR_API_KEY in the environment), or bind orchestrator.host to 127.0.0.1.',
    );
  }
}

/** 414 for a request target over LIMITS.maxUrlBytes, 431 for header lines over LIMITS.maxHeaderBytes. */
export function sizeProblem(raw: RawRequest): AppError | null {
  if (raw.path.length + raw.query.length + 1 > LIMITS.maxUrlBytes) {
    return new AppError('uri_too_long', `request target over ${LIMITS.maxUrlBytes} bytes`, 414);
  }
  if (raw.headerBytes > LIMITS.maxHeaderBytes) {
    return new AppError('headers_too_large', `request headers over ${LIMITS.maxHeaderBytes} bytes in total`, 431);
  }
  return null;
}

/**
 * The checks every request passes before its handler. Returns the error to answer with; sets
 * `r.principal` (who the key says it is) and CORS headers on the reply for allowed origins.
 * `scope` is what the route needs; null: the route is public or checks who calls itself.
 */
export function guard(sec: Security, r: Request, reply: Reply | null, opts: { scope: Scope | null; limited: boolean; mutating: boolean }): AppError | null {
  const { config } = sec;
  const host = hostName(r.headers.host || 'localhost');
  // DNS rebinding needs a name; an IP literal can only be addressed by a page of that very address.
  if (!sec.hosts.has(host) && !isIpLiteral(host)) {
    return new AppError('forbidden', `Host "${r.headers.host}" is not served here: only the bind address, localhost and orchestrator.allowed_hosts are (a guard against DNS rebinding); add the name to orchestrator.allowed_hosts to allow it`, 421);
  }
  const origin = r.headers.origin;
  const originOk = !origin || originAllowed(origin, r.headers.host, config.api.cors_origins);
  if (origin && originOk && reply) {
    reply.extraHeaders.push(['access-control-allow-origin', origin], ['vary', 'Origin']);
  }
  if (opts.limited) {
    const wait = sec.limiter.take(r.ip);
    if (wait > 0) {
      const err = new AppError('rate_limited', `rate limit of ${config.api.rate_limit} requests per minute exceeded; retry in ${wait}s`, 429);
      (err as AppError & { retryAfter?: number }).retryAfter = wait;
      return err;
    }
  }
  const denied = authenticate(sec.keys, r, opts.scope);
  if (denied) return denied;
  if (opts.mutating && !originOk) {
    return new AppError('forbidden', `Origin ${origin} is not allowed (api.cors_origins)`, 403);
  }
  return null;
}

/** Set r.principal from the key presented; a 401 or 403 when the route needs a scope it lacks. */
function authenticate(keys: Keyring, r: Request, scope: Scope | null): AppError | null {
  if (keys.open) {
    r.principal = ANONYMOUS;
    return null;
  }
  const principal = keys.resolve(presentedKey(r.headers, r.path === '/ws' ? r.query : undefined));
  r.principal = principal ?? NOBODY;
  if (scope === null) return null;
  if (!principal) return new AppError('unauthorized', 'missing or wrong API key (send X-API-Key or Authorization: Bearer)', 401);
  if (!principal.scopes.has(scope)) {
    return new AppError('forbidden', `the key "${principal.name}" may not do this: ${r.method.toUpperCase()} ${r.path} needs the ${scope} scope, and it has ${[...principal.scopes].join(', ')}`, 403);
  }
  return null;
}

function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || /^\[[0-9a-f:.]+\]$/i.test(host);
}
