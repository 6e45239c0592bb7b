/**
 * One uWebSockets.js app on orchestrator.host:port serving /api/*, /health, /metrics, /ws and the
 * dashboard. Every request runs the same pipeline: read what uWS gives synchronously, Host check,
 * CORS, API key, rate limit, Origin and media type for mutations, a size-limited body, then the
 * route handler; its result or error is written corked, and never after an abort.
 */
import type { Logger } from 'pino';
import uWS, { type HttpRequest, type HttpResponse, type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';
import type { OrchestratorConfig } from '../config/schema.js';
import { AppError, badRequest } from '../errors.js';
import {
  allowedHostNames, hostName, isLoopback, keyMatches, originAllowed, presentedKey, RateLimiter,
} from './auth.js';
import { Reply } from './respond.js';

export const MAX_BODY_BYTES = 1024 * 1024;
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;

export interface Request {
  method: string;
  path: string;
  query: URLSearchParams;
  params: Record<string, string>;
  headers: {
    host: string; origin: string; contentType: string; accept: string; acceptEncoding: string;
    apiKey: string; authorization: string; ifNoneMatch: string; protocol: string;
  };
  ip: string;
  /** Parsed JSON body (undefined when there is none). */
  body: unknown;
}

export type Result =
  | { status: number; json: unknown; headers?: Array<[string, string]> }
  | { status: number; text: string | Buffer; contentType: string; headers?: Array<[string, string]> };

export interface Route {
  method: 'get' | 'post' | 'put' | 'patch' | 'del';
  pattern: string;
  handler: (req: Request) => Promise<Result> | Result;
  /** Open to everyone even with an API key set (GET /health, the dashboard files). Default false. */
  public?: boolean;
  /** Exempt from the rate limit (default: everything outside /api and /metrics is exempt). */
  unlimited?: boolean;
}

export interface Security {
  config: OrchestratorConfig;
  limiter: RateLimiter;
  hosts: Set<string>;
}

export function createSecurity(config: OrchestratorConfig): Security {
  return { config, limiter: new RateLimiter(config.api.rate_limit), hosts: allowedHostNames(config) };
}

/** Refuse a non-loopback bind without an API key: the API can start and stop processes. */
export function checkBindSafety(config: OrchestratorConfig): void {
  const host = config.orchestrator.host;
  if (!isLoopback(host) && !config.api.api_key) {
    throw new Error(
      `refusing to listen on ${host}:${config.orchestrator.port} without an API key: anyone who can reach it could run commands. ` +
      'Set api.api_key in the config file (or ORCHESTRATOR_API_KEY in the environment), or bind orchestrator.host to 127.0.0.1.',
    );
  }
}

const METHODS_WITH_BODY = new Set(['post', 'put', 'patch']);

export function readRequest(res: HttpResponse, req: HttpRequest, paramNames: string[]): Omit<Request, 'body'> {
  const params: Record<string, string> = {};
  paramNames.forEach((name, i) => { params[name] = decodeParam(req.getParameter(i) ?? ''); });
  return {
    method: req.getMethod(),
    path: req.getUrl(),
    query: new URLSearchParams(req.getQuery() ?? ''),
    params,
    headers: {
      host: req.getHeader('host'),
      origin: req.getHeader('origin'),
      contentType: req.getHeader('content-type'),
      accept: req.getHeader('accept'),
      acceptEncoding: req.getHeader('accept-encoding'),
      apiKey: req.getHeader('x-api-key'),
      authorization: req.getHeader('authorization'),
      ifNoneMatch: req.getHeader('if-none-match'),
      protocol: req.getHeader('sec-websocket-protocol'),
    },
    ip: Buffer.from(res.getRemoteAddressAsText()).toString(),
  };
}

/**
 * The checks every request passes before its handler. Returns the error to answer with, and sets
 * CORS headers on the reply for allowed origins.
 */
export function guard(sec: Security, r: Omit<Request, 'body'>, reply: Reply | null, opts: { isPublic: boolean; limited: boolean; mutating: boolean }): AppError | null {
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
  if (!opts.isPublic && config.api.api_key && !keyMatches(presentedKey(r.headers, r.path === '/ws' ? r.query : undefined), config.api.api_key)) {
    return new AppError('unauthorized', 'missing or wrong API key (send X-API-Key or Authorization: Bearer)', 401);
  }
  if (opts.mutating && !originOk) {
    return new AppError('forbidden', `Origin ${origin} is not allowed (api.cors_origins)`, 403);
  }
  return null;
}

export class HttpServer {
  readonly app: TemplatedApp;
  private listenSocket: us_listen_socket | null = null;
  private readonly patterns: Array<{ method: string; regex: RegExp }> = [];

  constructor(readonly sec: Security, private readonly log: Logger) {
    this.app = uWS.App();
  }

  route(route: Route): this {
    const paramNames = [...route.pattern.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1]!);
    const regex = patternRegex(route.pattern);
    this.patterns.push({ method: route.method === 'del' ? 'delete' : route.method, regex });
    const isApi = route.pattern.startsWith('/api') || route.pattern === '/metrics';
    const mutating = route.method !== 'get';
    const register = (method: Route['method'] | 'head') => this.app[method](route.pattern, (res, req) => {
      const reply = new Reply(res, method === 'head');
      try {
        this.handle(route, paramNames, mutating, isApi, res, req, reply);
      } catch (err) {
        // A bug must cost one 500, not a request left hanging (uWS would never answer it).
        this.log.error({ err, path: req.getUrl() }, 'request handler threw');
        this.fail(reply, err);
      }
    });
    register(route.method);
    // HEAD answers what GET would, without the body (uptime checks use it on /health).
    if (route.method === 'get') {
      register('head');
      this.patterns.push({ method: 'head', regex });
    }
    return this;
  }

  private handle(route: Route, paramNames: string[], mutating: boolean, isApi: boolean, res: HttpResponse, req: HttpRequest, reply: Reply): void {
    const r = readRequest(res, req, paramNames);
    const denied = guard(this.sec, r, reply, { isPublic: !!route.public, limited: isApi && !route.unlimited, mutating });
    if (denied) return this.fail(reply, denied);
    if (!METHODS_WITH_BODY.has(route.method)) {
      this.run(route, { ...r, body: undefined }, reply);
      return;
    }
    const length = Number(req.getHeader('content-length') || '0');
    if (length > MAX_BODY_BYTES) return this.fail(reply, new AppError('too_large', `request body over ${MAX_BODY_BYTES} bytes`, 413), true);
    readBody(res, reply, MAX_BODY_BYTES, (body, tooLarge) => {
      if (tooLarge) return this.fail(reply, new AppError('too_large', `request body over ${MAX_BODY_BYTES} bytes`, 413), true);
      if (body.length === 0) return this.run(route, { ...r, body: undefined }, reply);
      if (!/^application\/([a-z.+-]*\+)?json\b/i.test(r.headers.contentType)) {
        return this.fail(reply, new AppError('unsupported_media_type', `request body must be application/json (got ${r.headers.contentType || 'no Content-Type'})`, 415));
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch (e) {
        return this.fail(reply, badRequest(`body is not valid JSON: ${(e as Error).message}`));
      }
      this.run(route, { ...r, body: parsed }, reply);
    });
  }

  /** Catch-alls: 405 with Allow for a known path and wrong method, 404 for the rest of /api. */
  fallbacks(): this {
    this.app.any('/*', (res, req) => {
      const reply = new Reply(res);
      const path = req.getUrl();
      const method = req.getMethod();
      const r = readRequest(res, req, []);
      if (method === 'options') return this.preflight(reply, r);
      // CORS headers on errors too, so a dashboard on another origin can read why.
      if (r.headers.origin && originAllowed(r.headers.origin, r.headers.host, this.sec.config.api.cors_origins)) {
        reply.extraHeaders.push(['access-control-allow-origin', r.headers.origin], ['vary', 'Origin']);
      }
      const allow = this.patterns.filter((p) => p.regex.test(path)).map((p) => p.method.toUpperCase());
      if (allow.length) {
        return reply.error(new AppError('method_not_allowed', `${method.toUpperCase()} is not allowed on ${path}`, 405), [['allow', [...new Set(allow)].join(', ')]]);
      }
      reply.error(new AppError('not_found', `no route for ${method.toUpperCase()} ${path}`, 404));
    });
    return this;
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      // Exclusive: uSockets would otherwise share the port (SO_REUSEPORT) with whoever holds it.
      const listen = this.app.listen as unknown as (h: string, p: number, options: number, cb: (s: us_listen_socket | false) => void) => void;
      listen.call(this.app, host, port, LIBUS_LISTEN_EXCLUSIVE_PORT, (socket) => {
        if (!socket) { reject(new Error(`cannot listen on ${host}:${port} (address in use or not available)`)); return; }
        this.listenSocket = socket;
        resolve(uWS.us_socket_local_port(socket as unknown as uWS.us_socket));
      });
    });
  }

  close(): void {
    if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
    try { (this.app as unknown as { close?: () => void }).close?.(); } catch { /* older uWS without App.close */ }
  }

  private preflight(reply: Reply, r: Omit<Request, 'body'>): void {
    const denied = guard(this.sec, r, reply, { isPublic: true, limited: false, mutating: false });
    if (denied) return this.fail(reply, denied);
    if (!r.headers.origin || !originAllowed(r.headers.origin, r.headers.host, this.sec.config.api.cors_origins)) {
      return reply.error(new AppError('forbidden', `Origin ${r.headers.origin || '(none)'} is not allowed (api.cors_origins)`, 403));
    }
    reply.send(204, '', 'text/plain', [
      ['access-control-allow-methods', 'GET, POST, PUT, PATCH, DELETE, OPTIONS'],
      ['access-control-allow-headers', 'content-type, x-api-key, authorization'],
      ['access-control-max-age', '600'],
    ]);
  }

  private run(route: Route, req: Request, reply: Reply): void {
    let result: Promise<Result>;
    try {
      result = Promise.resolve(route.handler(req));
    } catch (e) {
      result = Promise.reject(e);
    }
    result.then((out) => {
      if ('json' in out) reply.json(out.status, out.json, out.headers);
      else reply.send(out.status, out.text, out.contentType, out.headers);
      if (route.method !== 'get') this.log.info({ method: req.method, path: req.path, status: out.status, ip: req.ip }, 'request');
    }, (err: unknown) => {
      if (!(err instanceof AppError)) this.log.error({ err, method: req.method, path: req.path }, 'request failed');
      this.fail(reply, err);
    });
  }

  private fail(reply: Reply, err: unknown, closeConnection = false): void {
    const headers: Array<[string, string]> = [];
    const retry = (err as { retryAfter?: number }).retryAfter;
    if (retry) headers.push(['retry-after', String(retry)]);
    if (closeConnection) headers.push(['connection', 'close']);
    reply.error(err, headers);
  }
}

/** Collect a request body up to `limit` bytes; uWS hands chunks it will reuse, so each is copied. */
function readBody(res: HttpResponse, reply: Reply, limit: number, done: (body: Buffer, tooLarge: boolean) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  res.onData((chunk, isLast) => {
    if (finished || reply.aborted) return;
    size += chunk.byteLength;
    if (size > limit) {
      finished = true;
      done(Buffer.alloc(0), true);
      return;
    }
    chunks.push(Buffer.from(chunk.slice(0)));
    if (isLast) {
      finished = true;
      done(Buffer.concat(chunks), false);
    }
  });
}

/** Percent-decode a path segment; broken encoding stays as it came (and then fails the id pattern). */
function decodeParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || /^\[[0-9a-f:.]+\]$/i.test(host);
}

function patternRegex(pattern: string): RegExp {
  const escaped = pattern.split('/').map((seg) => (seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/');
  return new RegExp(`^${escaped}$`);
}
