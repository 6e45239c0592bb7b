/**
 * /mcp: the MCP server over streamable HTTP (the SDK's WebStandardStreamableHTTPServerTransport),
 * routed through HttpServer so the same Host, Origin, API key and rate-limit checks apply as to
 * the API. Stateful: `initialize` opens a session bound to the principal that sent it; a request
 * of that session from another principal is refused, DELETE ends it, an idle one expires, and
 * there are at most `mcp.max_sessions`. Services changing state reach subscribers as
 * notifications/resources/updated on the session's stream.
 */
import { randomUUID } from 'node:crypto';
import type { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { Logger } from 'pino';
import type { ServiceView } from '../actors/protocol.js';
import { serviceDefaults } from '../config/load.js';
import { serviceSchema } from '../config/schema.js';
import type { HttpPorts } from '../http/ports.js';
import type { Request, Result, Route } from '../http/server.js';
import { localBackend } from './local.js';
import type { Principal } from '../http/auth.js';
import type { McpServer } from './server.js';

/**
 * The MCP SDK (and the zod it brings) is loaded with the first session, not at start: an
 * orchestrator nobody opens an MCP session with does not carry its several MB of heap.
 */
let sdk: Promise<[typeof import('@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js'), typeof import('./server.js')]> | undefined;
const loadSdk = () => (sdk ??= Promise.all([import('@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js'), import('./server.js')]));

/** Below uWS's 10 s HTTP idle timeout: an SSE stream with nothing to say still says something. */
const KEEP_ALIVE_MS = 5_000;
const READ_HEADERS = ['mcp-session-id', 'mcp-protocol-version', 'last-event-id'] as const;

interface Session {
  id: string;
  principal: Principal;
  transport: WebStandardStreamableHTTPServerTransport;
  mcp: McpServer;
  lastSeen: number;
  /** Requests in flight and streams open: a session with any is not idle. */
  busy: number;
}

const jsonRpcError = (status: number, code: number, message: string, headers: Array<[string, string]> = []): Result =>
  ({ status, json: { jsonrpc: '2.0', error: { code, message }, id: null }, headers });

export class McpHttp {
  private readonly sessions = new Map<string, Session>();
  /** Sessions being initialised (not yet in `sessions`), counted against the cap. */
  private opening = 0;
  private readonly sweeper: NodeJS.Timeout;
  private readonly lastState = new Map<string, string>();
  private readonly onViews = (views: ServiceView[], removed: string[]) => this.viewsChanged(views, removed);
  private readonly schema: ReturnType<typeof serviceSchema>;
  private readonly idleMs: number;

  constructor(private readonly o: HttpPorts, private readonly log: Logger) {
    this.schema = serviceSchema(serviceDefaults(o.config), o.config.baseDir);
    this.idleMs = o.config.mcp.session_idle_seconds * 1000;
    this.sweeper = setInterval(() => this.sweep(), Math.min(60_000, Math.max(250, this.idleMs / 4)));
    this.sweeper.unref();
    o.feed.views.on('views', this.onViews);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  routes(): Route[] {
    const handler = (req: Request) => this.handle(req);
    // Opening a session needs read; each tool then needs its own scope (server.ts).
    const common = { pattern: '/mcp', handler, scope: 'read' as const, checkOrigin: true, readHeaders: READ_HEADERS, quiet: true };
    return [{ method: 'post', ...common }, { method: 'get', ...common }, { method: 'del', ...common }];
  }

  close(): void {
    clearInterval(this.sweeper);
    this.o.feed.views.off('views', this.onViews);
    for (const s of [...this.sessions.values()]) this.end(s, 'orchestrator shutting down');
  }

  private async handle(req: Request): Promise<Result> {
    const principal = req.principal;
    const sid = req.extraHeaders['mcp-session-id'];
    let session: Session | undefined;
    if (sid) {
      session = this.sessions.get(sid);
      if (!session) return jsonRpcError(404, -32001, 'MCP session not found (ended or expired after being idle): initialize a new one');
      if (session.principal.name !== principal.name) {
        this.log.warn({ session: sid, owner: session.principal.name, principal: principal.name }, 'MCP session used with another key: refused');
        return jsonRpcError(403, -32000, 'this MCP session belongs to another API key');
      }
    } else {
      if (req.method !== 'post' || !isInitialize(req.body)) {
        return jsonRpcError(400, -32000, 'no Mcp-Session-Id: open a session with an initialize request first');
      }
      if (this.sessions.size + this.opening >= this.o.config.mcp.max_sessions) {
        return jsonRpcError(503, -32000, `too many MCP sessions (mcp.max_sessions = ${this.o.config.mcp.max_sessions}): end one with DELETE /mcp or retry once an idle one expired`, [['retry-after', '60']]);
      }
      return this.open(req, principal);
    }
    return this.forward(session, req);
  }

  private async open(req: Request, principal: Principal): Promise<Result> {
    this.opening++;
    let session: Session | undefined;
    try {
      const [{ WebStandardStreamableHTTPServerTransport: Transport }, { createMcpServer }] = await loadSdk();
      const transport = new Transport({
        sessionIdGenerator: () => randomUUID(),
        keepAliveMs: KEEP_ALIVE_MS,
        onsessioninitialized: (id) => {
          session!.id = id;
          this.sessions.set(id, session!);
          this.log.info({ session: id, principal: principal.name }, 'MCP session opened');
        },
        onsessionclosed: (id) => {
          const s = this.sessions.get(id);
          if (s) this.end(s, 'ended by the client');
        },
      });
      const mcp = createMcpServer({
        backend: localBackend(this.o),
        principal: async () => principal,
        serviceSchema: this.schema,
        log: this.log,
        subscriptions: true,
      });
      session = { id: '', principal, transport, mcp, lastSeen: Date.now(), busy: 0 };
      await mcp.server.connect(transport);
      return await this.forward(session, req);
    } finally {
      this.opening--;
      // An initialize that failed opened nothing: its server goes now.
      if (session && !session.id) void session.mcp.server.close().catch(() => undefined);
    }
  }

  private async forward(s: Session, req: Request): Promise<Result> {
    s.busy++;
    s.lastSeen = Date.now();
    let release = () => {
      release = () => undefined;
      s.busy--;
      s.lastSeen = Date.now();
    };
    try {
      const response = await s.transport.handleRequest(webRequest(req), { parsedBody: req.body });
      const headers: Array<[string, string]> = [];
      response.headers.forEach((value, name) => { if (name !== 'content-type' && name !== 'content-length') headers.push([name, value]); });
      const contentType = response.headers.get('content-type') ?? 'application/json';
      if (response.body && contentType.startsWith('text/event-stream')) {
        const stream = tracked(response.body, () => release());
        return { status: response.status, stream, contentType, headers };
      }
      const body = await response.text();
      release();
      return { status: response.status, text: body, contentType, headers };
    } catch (err) {
      release();
      throw err;
    }
  }

  private end(s: Session, why: string): void {
    if (!this.sessions.delete(s.id)) return;
    this.log.info({ session: s.id, principal: s.principal.name, why }, 'MCP session ended');
    void s.mcp.server.close().catch(() => undefined);
  }

  private sweep(): void {
    const now = Date.now();
    for (const s of [...this.sessions.values()]) {
      if (s.busy === 0 && now - s.lastSeen > this.idleMs) this.end(s, 'idle');
    }
  }

  /** A service's state or health changed (or it went): tell the sessions subscribed to it. */
  private viewsChanged(views: ServiceView[], removed: string[]): void {
    const changed: string[] = [];
    for (const view of views) {
      const key = `${view.state}/${view.health}`;
      if (this.lastState.get(view.id) === key) continue;
      this.lastState.set(view.id, key);
      changed.push(view.id);
    }
    for (const id of removed) {
      this.lastState.delete(id);
      changed.push(id);
    }
    if (!changed.length) return;
    for (const s of this.sessions.values()) s.mcp.changed(changed);
  }
}

function isInitialize(body: unknown): boolean {
  const first = Array.isArray(body) ? body[0] : body;
  return typeof first === 'object' && first !== null && (first as { method?: unknown }).method === 'initialize';
}

/** The parts of our request the SDK's transport reads, as a web Request (the body is given parsed). */
function webRequest(req: Request): globalThis.Request {
  const headers = new Headers();
  if (req.headers.accept) headers.set('accept', req.headers.accept);
  if (req.headers.contentType) headers.set('content-type', req.headers.contentType);
  for (const name of READ_HEADERS) if (req.extraHeaders[name]) headers.set(name, req.extraHeaders[name]);
  return new globalThis.Request(`http://${req.headers.host || 'localhost'}/mcp`, { method: req.method === 'del' ? 'DELETE' : req.method.toUpperCase(), headers });
}

/** `body`, telling `done` once when it ends or the client goes away. */
function tracked(body: ReadableStream<Uint8Array>, done: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done: finished } = await reader.read();
        if (finished) { controller.close(); done(); return; }
        controller.enqueue(value);
      } catch (err) {
        done();
        controller.error(err);
      }
    },
    cancel(reason) {
      done();
      return reader.cancel(reason);
    },
  });
}

