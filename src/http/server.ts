/**
 * One HTTP server on orchestrator.host:port serving /api/*, /health, /metrics, /ws and the
 * dashboard, over an engine (engine/: native uWebSockets.js or Node's http + ws). Routing lives here,
 * and every request passes the checks once (checks.ts: size limits, Host, CORS, rate limit, API key
 * and scope, Origin for mutations), then media type and a size-limited body, then the route
 * handler; its result or error is written once, and never after an abort.
 */
import type { Logger } from 'pino';
import { UNIT_ID_PATTERN } from '../config/instances.js';
import { AppError, badRequest } from '../errors.js';
import { NOBODY, originAllowed, type Principal, type Scope } from './auth.js';
import { guard, sizeProblem, type Security } from './checks.js';
import type { Engine, RawRequest, RawResponse } from './engine/types.js';

export { checkBindSafety, createSecurity, guard, sizeProblem, type Security } from './checks.js';
import { Reply } from './respond.js';

export const MAX_BODY_BYTES = 1024 * 1024;

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
  /** The values of the route's `readHeaders` ('' when absent), by lower-case name. */
  extraHeaders: Record<string, string>;
  /** Who is asking: set by the checks before the handler runs (see guard). */
  principal: Principal;
}

export type Result =
  | { status: number; json: unknown; headers?: Array<[string, string]> }
  | { status: number; text: string | Buffer; contentType: string; headers?: Array<[string, string]> }
  /**
   * A body written as it comes (server-sent events): the head at once, each chunk when the stream
   * gives it, the end when it ends; the stream is cancelled if the client goes away first.
   */
  | { status: number; stream: ReadableStream<Uint8Array>; contentType: string; headers?: Array<[string, string]> };

export interface Route {
  method: 'get' | 'post' | 'put' | 'patch' | 'del';
  pattern: string;
  handler: (req: Request) => Promise<Result> | Result;
  /** Open to everyone even with API keys set (GET /health, the dashboard files). Default false. */
  public?: boolean;
  /**
   * The scope a key needs (auth.ts): read for GET, admin for anything else unless a route says
   * otherwise (start, stop, restart and reload need operate).
   */
  scope?: Scope;
  /** Exempt from the rate limit (default: everything outside /api and /metrics is exempt). */
  unlimited?: boolean;
  /**
   * The handler checks who may call, not the API key check here: a service's own calls, which its
   * run token authorises too (agent.ts). Default false.
   */
  selfAuth?: boolean;
  /** A mutation not written to the orchestrator log per request (heartbeats: a thousand a second). Default false. */
  quiet?: boolean;
  /**
   * Origin checked on every method, GET too, as on /ws: for /mcp, whose GET holds a stream of
   * what happens. Default: only on mutations.
   */
  checkOrigin?: boolean;
  /** More request headers the handler reads (lower-case names), in `Request.extraHeaders`. */
  readHeaders?: readonly string[];
}

const METHODS_WITH_BODY = new Set(['post', 'put', 'patch']);

/**
 * The parts of a request the routes and checks use, read at once (uWS allows nothing later). The
 * query is parsed on first use: most requests never look at it.
 */
class ParsedRequest implements Request {
  body: unknown = undefined;
  extraHeaders: Record<string, string> = {};
  principal: Principal = NOBODY;
  private parsedQuery: URLSearchParams | null = null;

  constructor(
    readonly method: string,
    readonly path: string,
    private readonly rawQuery: string,
    readonly params: Record<string, string>,
    readonly headers: Request['headers'],
    readonly ip: string,
  ) {}

  get query(): URLSearchParams {
    return (this.parsedQuery ??= new URLSearchParams(this.rawQuery));
  }
}

export function readRequest(raw: RawRequest, params: Record<string, string> = {}, readHeaders: readonly string[] = []): Request {
  const r = new ParsedRequest(raw.method, raw.path, raw.query, params, {
    host: raw.header('host'),
    origin: raw.header('origin'),
    contentType: raw.header('content-type'),
    accept: raw.header('accept'),
    acceptEncoding: raw.header('accept-encoding'),
    apiKey: raw.header('x-api-key'),
    authorization: raw.header('authorization'),
    ifNoneMatch: raw.header('if-none-match'),
    protocol: raw.header('sec-websocket-protocol'),
  }, raw.ip);
  for (const name of readHeaders) r.extraHeaders[name] = raw.header(name);
  return r;
}

/** The :id path segment — a service id or an instance id `<id>#n` (sent as %23) — checked against the strict pattern (nothing can escape a folder). */
export function serviceId(req: Request): string {
  const id = req.params.id ?? '';
  if (!UNIT_ID_PATTERN.test(id)) throw new AppError('bad_request', `invalid service id "${id.slice(0, 80)}"`, 400, 'id');
  return id;
}

interface Entry {
  route: Route;
  regex: RegExp | null;
  paramNames: string[];
  isApi: boolean;
  mutating: boolean;
  /** What a key needs here; null: public, or the handler checks (selfAuth). */
  scope: Scope | null;
}

export class HttpServer {
  /** Routes without parameters, by path then method (HEAD shares GET's entry). */
  private readonly exact = new Map<string, Map<string, Entry>>();
  private readonly patterned: Array<{ method: string; entry: Entry }> = [];

  constructor(readonly engine: Engine, readonly sec: Security, private readonly log: Logger) {
    engine.onRequest((raw, res) => this.dispatch(raw, res));
  }

  route(route: Route): this {
    const paramNames = [...route.pattern.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1]!);
    const isApi = route.pattern.startsWith('/api') || route.pattern === '/metrics' || route.pattern === '/mcp';
    const scope = route.public || route.selfAuth ? null : route.scope ?? (route.method !== 'get' ? 'admin' : 'read');
    const mutating = route.method !== 'get' || !!route.checkOrigin;
    const entry: Entry = { route, regex: null, paramNames, isApi, mutating, scope };
    const method = route.method === 'del' ? 'delete' : route.method;
    // HEAD answers what GET would, without the body (uptime checks use it on /health).
    const methods = method === 'get' ? ['get', 'head'] : [method];
    if (paramNames.length === 0 && !route.pattern.includes('*')) {
      let byMethod = this.exact.get(route.pattern);
      if (!byMethod) this.exact.set(route.pattern, byMethod = new Map());
      for (const m of methods) byMethod.set(m, entry);
    } else {
      entry.regex = patternRegex(route.pattern);
      for (const m of methods) this.patterned.push({ method: m, entry });
    }
    return this;
  }

  listen(host: string, port: number): Promise<number> {
    return this.engine.listen(host, port);
  }

  close(): void {
    this.engine.close();
  }

  private dispatch(raw: RawRequest, res: RawResponse): void {
    const reply = new Reply(res, raw.method === 'head');
    try {
      const tooBig = sizeProblem(raw);
      if (tooBig) return this.fail(reply, tooBig, true);
      const found = this.match(raw.method, raw.path);
      if (!found) return this.fallback(raw, reply);
      const params: Record<string, string> = {};
      found.entry.paramNames.forEach((name, i) => { params[name] = decodeParam(found.values[i] ?? ''); });
      this.handle(found.entry, readRequest(raw, params, found.entry.route.readHeaders), raw, res, reply);
    } catch (err) {
      // A bug must cost one 500, not a request left hanging.
      this.log.error({ err, path: raw.path }, 'request handler threw');
      this.fail(reply, err);
    }
  }

  private match(method: string, path: string): { entry: Entry; values: string[] } | null {
    const exact = this.exact.get(path)?.get(method);
    if (exact) return { entry: exact, values: [] };
    for (const p of this.patterned) {
      if (p.method !== method) continue;
      const m = p.entry.regex!.exec(path);
      if (m) return { entry: p.entry, values: m.slice(1) };
    }
    return null;
  }

  private handle(entry: Entry, r: Request, raw: RawRequest, res: RawResponse, reply: Reply): void {
    const { route } = entry;
    const denied = guard(this.sec, r, reply, { scope: entry.scope, limited: entry.isApi && !route.unlimited, mutating: entry.mutating });
    if (denied) return this.fail(reply, denied);
    if (!METHODS_WITH_BODY.has(route.method)) return this.run(route, r, reply);
    const length = Number(raw.header('content-length') || '0');
    if (length > MAX_BODY_BYTES) return this.fail(reply, new AppError('too_large', `request body over ${MAX_BODY_BYTES} bytes`, 413), true);
    reply.watch();
    readBody(res, reply, MAX_BODY_BYTES, (body, tooLarge) => {
      if (tooLarge) return this.fail(reply, new AppError('too_large', `request body over ${MAX_BODY_BYTES} bytes`, 413), true);
      if (body.length === 0) return this.run(route, r, reply);
      if (!/^application\/([a-z.+-]*\+)?json\b/i.test(r.headers.contentType)) {
        return this.fail(reply, new AppError('unsupported_media_type', `request body must be application/json (got ${r.headers.contentType || 'no Content-Type'})`, 415));
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch (e) {
        return this.fail(reply, badRequest(`body is not valid JSON: ${(e as Error).message}`));
      }
      r.body = parsed;
      this.run(route, r, reply);
    });
  }

  /** No route: a CORS preflight, 405 with Allow for a known path and wrong method, or 404. */
  private fallback(raw: RawRequest, reply: Reply): void {
    const r = readRequest(raw);
    const { path, method } = r;
    if (method === 'options') return this.preflight(reply, r);
    // CORS headers on errors too, so a dashboard on another origin can read why.
    if (r.headers.origin && originAllowed(r.headers.origin, r.headers.host, this.sec.config.api.cors_origins)) {
      reply.extraHeaders.push(['access-control-allow-origin', r.headers.origin], ['vary', 'Origin']);
    }
    const allow = new Set<string>();
    for (const [m] of this.exact.get(path) ?? []) allow.add(m.toUpperCase());
    for (const p of this.patterned) if (p.entry.regex!.test(path)) allow.add(p.method.toUpperCase());
    if (allow.size) {
      return reply.error(new AppError('method_not_allowed', `${method.toUpperCase()} is not allowed on ${path}`, 405), [['allow', [...allow].join(', ')]]);
    }
    reply.error(new AppError('not_found', `no route for ${method.toUpperCase()} ${path}`, 404));
  }

  private preflight(reply: Reply, r: Request): void {
    const denied = guard(this.sec, r, reply, { scope: null, limited: false, mutating: false });
    if (denied) return this.fail(reply, denied);
    if (!r.headers.origin || !originAllowed(r.headers.origin, r.headers.host, this.sec.config.api.cors_origins)) {
      return reply.error(new AppError('forbidden', `Origin ${r.headers.origin || '(none)'} is not allowed (api.cors_origins)`, 403));
    }
    reply.send(204, '', 'text/plain', [
      ['access-control-allow-methods', 'GET, POST, PUT, PATCH, DELETE, OPTIONS'],
      ['access-control-allow-headers', 'content-type, x-api-key, authorization, mcp-session-id, mcp-protocol-version, last-event-id'],
      ['access-control-expose-headers', 'mcp-session-id'],
      ['access-control-max-age', '600'],
    ]);
  }

  /**
   * Run the handler and write its result: at once when it answers synchronously (most GETs), else
   * when its promise settles — and then only if the client is still there.
   */
  private run(route: Route, req: Request, reply: Reply): void {
    let out: Promise<Result> | Result;
    try {
      out = route.handler(req);
    } catch (err) {
      return this.failed(route, req, reply, err);
    }
    if (!isPromise(out)) return this.answer(route, req, reply, out);
    reply.watch();
    out.then((result) => this.answer(route, req, reply, result), (err: unknown) => this.failed(route, req, reply, err));
  }

  private answer(route: Route, req: Request, reply: Reply, out: Result): void {
    if ('json' in out) reply.json(out.status, out.json, out.headers);
    else if ('stream' in out) reply.stream(out.status, out.stream, out.contentType, out.headers);
    else reply.send(out.status, out.text, out.contentType, out.headers);
    if (route.method !== 'get' && !route.quiet) this.log.info({ method: req.method, path: req.path, status: out.status, ip: req.ip }, 'request');
  }

  private failed(route: Route, req: Request, reply: Reply, err: unknown): void {
    if (!(err instanceof AppError)) this.log.error({ err, method: req.method, path: req.path }, 'request failed');
    this.fail(reply, err);
  }

  private fail(reply: Reply, err: unknown, closeConnection = false): void {
    const headers: Array<[string, string]> = [];
    const retry = (err as { retryAfter?: number }).retryAfter;
    if (retry) headers.push(['retry-after', String(retry)]);
    if (closeConnection) headers.push(['connection', 'close']);
    reply.error(err, headers);
  }
}

/** Collect a request body up to `limit` bytes; an engine may reuse a chunk's memory, so each is copied. */
function readBody(res: RawResponse, reply: Reply, limit: number, done: (body: Buffer, tooLarge: boolean) => void): void {
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
    chunks.push(Buffer.from(chunk));
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

function isPromise<T>(value: Promise<T> | T): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function patternRegex(pattern: string): RegExp {
  const escaped = pattern.split('/').map((seg) => (seg.startsWith(':') ? '([^/]+)' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/');
  return new RegExp(`^${escaped}$`);
}
