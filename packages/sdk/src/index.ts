/**
 * The TypeScript SDK: a service registers itself with the orchestrator ("Service Registration
 * (optional): auto-register with orchestrator" in the product document) and serves the /health
 * payload the orchestrator probes.
 *
 *   import { ServiceAgent } from '@agent-orchestrator/sdk';   // or: const { ServiceAgent } = require(...)
 *   const agent = new ServiceAgent('my-service', 'http://localhost:8000', { apiEndpoint: 'http://localhost:8001' });
 *   await agent.serveHealth(8001);   // GET /health → { status: 'healthy', service, timestamp }
 *   await agent.register();
 *   process.on('SIGTERM', async () => { await agent.deregister(); process.exit(0); });
 *
 * A self-registered service is "external": the orchestrator health-checks it, shows it and records
 * its history, but did not start it and will not stop or restart it (unless it registered an
 * executable). Registering again (after a restart of the service) updates the registration.
 *
 * A service the orchestrator started needs no configuration at all: ORCHESTRATOR_URL,
 * ORCHESTRATOR_SERVICE_ID and ORCHESTRATOR_TOKEN are in its environment.
 *
 *   const agent = new ServiceAgent();
 *   const stop = agent.startHeartbeat({ intervalSeconds: 5, state: () => ({ inflight: jobs.size }) });
 *   if (agent.draining) { ... take no new work ... }
 *   await agent.throttled(30);   // on an upstream 429: the next exit waits 30 s and is no crash
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

// The package is published on its own (packages/sdk, no dependencies), so the wire types it names
// are written out here rather than imported from the server's src/api/types.ts;
// test/sdk/package.test.ts checks at compile time that the server's types still fit them.

/** POST /api/services/{id}/heartbeat body (each field optional). */
export interface HeartbeatBody { progress?: number; inflight?: number; status?: string }
/** POST /api/services/{id}/heartbeat answer: drain is true while the service should finish in-flight work and take no more. */
export interface HeartbeatAnswer { drain: boolean }

/** A service's lifecycle state, as the API shows it. */
export type ServiceState = 'stopped' | 'starting' | 'running' | 'draining' | 'stopping' | 'exited' | 'backoff' | 'throttled' | 'failed';
/** A service's health, as the API shows it. */
export type ServiceHealth = 'unknown' | 'healthy' | 'unhealthy' | 'stalled';

export interface ServiceAgentOptions {
  /** Where the orchestrator probes the service, e.g. http://localhost:8001/health. serveHealth() fills it in. */
  healthEndpoint?: string;
  /** The service's own API, shown in the dashboard. */
  apiEndpoint?: string;
  /** Display name (defaults to the id). */
  name?: string;
  /** Free-form kind, e.g. "ai-agent" (the orchestrator's default is "service"). */
  type?: string;
  /** A command line the orchestrator may use to start the service again; without one, start/stop are refused. */
  executable?: string;
  /** The orchestrator's API key; defaults to ORCHESTRATOR_API_KEY. */
  apiKey?: string;
  /**
   * The run's token for heartbeat() and throttled(), sent as Authorization: Bearer; defaults to
   * ORCHESTRATOR_TOKEN (set by the orchestrator for every child). Without one they send the API key.
   */
  token?: string;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  /** Further service-file fields sent with the registration (health: {...}, depends_on, group, ...). */
  extra?: Record<string, unknown>;
  /** Decides what /health answers: false (or a throw) → 503 "unhealthy". Default: always healthy. */
  healthCheck?: () => boolean | Promise<boolean>;
}

export interface HealthPayload {
  status: 'healthy' | 'unhealthy';
  service: string;
  timestamp: string;
}

/**
 * The orchestrator's view of a service (GET /api/services/{id}): the fields a service reads about
 * itself. The API answers more (usage, replicas, runs…): see the REST reference in the README.
 */
export interface RegisteredService {
  id: string;
  name: string;
  type: string;
  /** Registered by the service itself and not started by the orchestrator. */
  external: boolean;
  group: string;
  state: ServiceState;
  health: ServiceHealth;
  want: 'up' | 'down';
  reason: string;
  pid: number | null;
  started_at: string | null;
  restarts: number;
  api_endpoint: string | null;
  health_check: {
    endpoint: string | null;
    last: { ok: boolean; latency_ms: number; status: number | null; error: string | null; at: string | null } | null;
    consecutive_failures: number;
  };
  /** Ready for traffic and for dependents: running, live, and its readiness probe (if any) passes. */
  ready: boolean;
  /** Time of this run's last heartbeat; null before the first. */
  heartbeat_at: string | null;
  /** As the service last reported them in a heartbeat; null until it does. */
  progress: number | null;
  inflight: number | null;
  status_text: string | null;
  /** While state is throttled: when the wait ends. */
  throttled_until: string | null;
  /** The service's definition as the orchestrator holds it. */
  spec: Record<string, unknown>;
  /** Its latest events, oldest first. */
  events: Array<{ seq: number; at: string; service: string | null; type: string; data: Record<string, unknown> }>;
}

/** A refusal from the orchestrator (HTTP status and error code) or no answer at all (status 0). */
export class OrchestratorError extends Error {
  constructor(message: string, readonly status: number, readonly code: string) {
    super(message);
    this.name = 'OrchestratorError';
  }
}

/** What a heartbeat reports (each optional): a progress counter, work in flight, a line of status. */
export type HeartbeatState = HeartbeatBody;

export interface HeartbeatLoopOptions {
  /** Seconds between heartbeats (default 10); keep it well below the service's heartbeat.timeout_seconds. */
  intervalSeconds?: number;
  /** Called before each heartbeat for what it reports; a throw skips that heartbeat's fields. */
  state?: () => HeartbeatState | Promise<HeartbeatState>;
  /** Called once when the orchestrator starts answering drain: true (finish in-flight work, take no more). */
  onDrain?: () => void;
  /** Called with each failed heartbeat; default: one line on stderr per new kind of failure. */
  onError?: (err: Error) => void;
}

export interface HealthServer {
  port: number;
  url: string;
  server: Server;
  close(): Promise<void>;
}

export class ServiceAgent {
  readonly serviceId: string;
  readonly orchestratorUrl: string;
  private readonly opts: ServiceAgentOptions;
  private drain = false;
  private stopLoop: (() => void) | null = null;

  /** serviceId defaults to ORCHESTRATOR_SERVICE_ID, orchestratorUrl to ORCHESTRATOR_URL, else http://localhost:8000. */
  constructor(
    serviceId: string | undefined = process.env.ORCHESTRATOR_SERVICE_ID,
    orchestratorUrl: string | undefined = process.env.ORCHESTRATOR_URL,
    options: ServiceAgentOptions = {},
  ) {
    if (!serviceId) throw new TypeError('ServiceAgent needs a service id (or ORCHESTRATOR_SERVICE_ID in the environment)');
    this.serviceId = serviceId;
    this.orchestratorUrl = (orchestratorUrl || 'http://localhost:8000').replace(/\/+$/, '');
    this.opts = { ...options };
  }

  get healthEndpoint(): string | undefined {
    return this.opts.healthEndpoint;
  }

  /** The registration body: POST /api/services with external: true. */
  definition(): Record<string, unknown> {
    const o = this.opts;
    return {
      ...o.extra,
      id: this.serviceId,
      external: true,
      ...(o.name ? { name: o.name } : {}),
      ...(o.type ? { type: o.type } : {}),
      ...(o.healthEndpoint ? { health_endpoint: o.healthEndpoint } : {}),
      ...(o.apiEndpoint ? { api_endpoint: o.apiEndpoint } : {}),
      ...(o.executable ? { executable: o.executable } : {}),
    };
  }

  /**
   * Register (or update the registration of) this service. With retryForMs, an orchestrator that
   * is not reachable or not ready yet (503) is retried for that long; refusals (400, 401, 409) are not.
   */
  async register(opts: { retryForMs?: number } = {}): Promise<RegisteredService> {
    const deadline = Date.now() + (opts.retryForMs ?? 0);
    for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
      try {
        return await this.request<RegisteredService>('POST', '/api/services', this.definition());
      } catch (e) {
        // Not reachable yet (0), or up but still starting its supervision tree (503): worth waiting for.
        const transient = e instanceof OrchestratorError && (e.status === 0 || e.status === 503);
        if (!transient || Date.now() + delay > deadline) throw e;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Remove the registration. True when it was removed, false when there was none. */
  async deregister(): Promise<boolean> {
    try {
      await this.request('DELETE', this.path());
      return true;
    } catch (e) {
      if (e instanceof OrchestratorError && e.status === 404) return false;
      throw e;
    }
  }

  /** The orchestrator's current view of this service. */
  status(): Promise<RegisteredService> {
    return this.request<RegisteredService>('GET', this.path());
  }

  /** True once the last heartbeat was answered drain: true: finish in-flight work and take no more. */
  get draining(): boolean {
    return this.drain;
  }

  /**
   * POST /api/services/{id}/heartbeat: this run is alive (and, with the fields, how far it got).
   * Resolves to the answer, { drain }, which also sets `draining`.
   */
  async heartbeat(state: HeartbeatState = {}): Promise<HeartbeatAnswer> {
    const body = heartbeatBody(state);
    const answer = await this.request<HeartbeatAnswer | undefined>('POST', `${this.path()}/heartbeat`, body, 'token');
    this.drain = answer?.drain === true;
    return { drain: this.drain };
  }

  /**
   * Heartbeat now and then every intervalSeconds in the background, one call at a time (the next
   * is timed from the end of the last). Failures go to onError, never thrown; the timer does not
   * keep the process alive. Returns the function that stops it; starting again stops the last loop.
   */
  startHeartbeat(opts: HeartbeatLoopOptions = {}): () => void {
    const interval = opts.intervalSeconds ?? 10;
    if (!Number.isFinite(interval) || interval <= 0) throw new TypeError(`intervalSeconds: expected a positive number, got ${String(interval)}`);
    this.stopLoop?.();
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let lastError = '';
    const report = opts.onError ?? ((e: Error) => {
      if (e.message !== lastError) process.stderr.write(`orchestrator heartbeat failed: ${e.message}\n`);
    });
    const tick = async () => {
      const wasDraining = this.drain;
      try {
        let state: HeartbeatState = {};
        try { state = (await opts.state?.()) ?? {}; } catch { state = {}; }
        await this.heartbeat(state);
        lastError = '';
        if (this.drain && !wasDraining && !stopped) opts.onDrain?.();
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        try { report(err); } catch { /* a failing reporter must not end the loop */ }
        lastError = err.message;
      }
      if (!stopped) timer = setTimeout(() => void tick(), interval * 1000).unref();
    };
    const stop = () => {
      stopped = true;
      clearTimeout(timer);
      if (this.stopLoop === stop) this.stopLoop = null;
    };
    this.stopLoop = stop;
    void tick();
    return stop;
  }

  /** Stop the background heartbeat, if one runs. */
  stopHeartbeat(): void {
    this.stopLoop?.();
  }

  /**
   * POST /api/services/{id}/throttle: the service is rate-limited upstream (an HTTP 429, a quota).
   * Its next exit is "throttled", not a crash: it starts again after retryAfterSeconds, without
   * spending a retry. Exit (or keep running) after this resolves.
   */
  async throttled(retryAfterSeconds: number): Promise<void> {
    if (typeof retryAfterSeconds !== 'number' || !Number.isFinite(retryAfterSeconds) || retryAfterSeconds < 0) {
      throw new TypeError(`retry_after_seconds: expected a non-negative number, got ${JSON.stringify(retryAfterSeconds) ?? String(retryAfterSeconds)}`);
    }
    await this.request('POST', `${this.path()}/throttle`, { retry_after_seconds: retryAfterSeconds }, 'token');
  }

  /** The seed's /health body: { status: "healthy", service, timestamp }. */
  async healthPayload(): Promise<{ ok: boolean; body: HealthPayload }> {
    let ok = true;
    try {
      ok = this.opts.healthCheck ? await this.opts.healthCheck() : true;
    } catch {
      ok = false;
    }
    return { ok, body: { status: ok ? 'healthy' : 'unhealthy', service: this.serviceId, timestamp: new Date().toISOString() } };
  }

  /**
   * For an existing node:http server: answers GET /health (or the path of healthEndpoint) and
   * returns true, or returns false and leaves the request alone.
   */
  handleHealth(req: IncomingMessage, res: ServerResponse): boolean {
    const path = (req.url ?? '/').split('?')[0];
    const wanted = this.opts.healthEndpoint ? new URL(this.opts.healthEndpoint).pathname : '/health';
    if (path !== wanted && path !== '/health') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return true;
    }
    void this.healthPayload().then(({ ok, body }) => {
      const text = JSON.stringify(body);
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : text);
    });
    return true;
  }

  /** A node:http request listener answering /health, 404 for anything else. */
  healthHandler(): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => {
      if (!this.handleHealth(req, res)) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    };
  }

  /**
   * Serve /health on its own port (0 picks a free one). Without a healthEndpoint option, the
   * registration then names this one.
   */
  serveHealth(port = 0, host = '127.0.0.1'): Promise<HealthServer> {
    const server = createServer(this.healthHandler());
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        const actual = (server.address() as { port: number }).port;
        const url = `http://${host.includes(':') ? `[${host}]` : host}:${actual}/health`;
        this.opts.healthEndpoint ??= url;
        resolve({ port: actual, url, server, close: () => new Promise<void>((done) => server.close(() => done())) });
      });
    });
  }

  private path(): string {
    return `/api/services/${encodeURIComponent(this.serviceId)}`;
  }

  /** auth 'token': the run's token as Bearer when there is one (it authorises only this service's own calls), else the API key. */
  private async request<T>(method: string, path: string, body?: unknown, auth: 'key' | 'token' = 'key'): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = auth === 'token' ? this.opts.token ?? process.env.ORCHESTRATOR_TOKEN : undefined;
    const key = this.opts.apiKey ?? process.env.ORCHESTRATOR_API_KEY;
    if (token) headers.authorization = `Bearer ${token}`;
    else if (key) headers['x-api-key'] = key;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.orchestratorUrl}${path}`, {
        method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new OrchestratorError(`cannot reach the orchestrator at ${this.orchestratorUrl}: ${cause?.code ?? cause?.message ?? (e as Error).message}`, 0, 'unreachable');
    }
    const text = await res.text();
    let parsed: unknown;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = undefined; }
    if (!res.ok) {
      const err = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new OrchestratorError(`${method} ${path}: ${err?.message ?? `HTTP ${res.status}`}`, res.status, err?.code ?? `http_${res.status}`);
    }
    return parsed as T;
  }
}

/** The heartbeat body, checked here so a mistake names its field instead of coming back as a 400. */
function heartbeatBody(state: HeartbeatState): HeartbeatBody {
  const body: HeartbeatBody = {};
  const { progress, inflight, status } = state;
  if (progress !== undefined && progress !== null) {
    if (typeof progress !== 'number' || !Number.isFinite(progress)) throw new TypeError(`progress: expected a number, got ${JSON.stringify(progress)}`);
    body.progress = progress;
  }
  if (inflight !== undefined && inflight !== null) {
    if (!Number.isInteger(inflight) || inflight < 0) throw new TypeError(`inflight: expected a non-negative integer, got ${JSON.stringify(inflight)}`);
    body.inflight = inflight;
  }
  if (status !== undefined && status !== null) {
    if (typeof status !== 'string') throw new TypeError(`status: expected a string, got ${JSON.stringify(status)}`);
    body.status = status;
  }
  return body;
}
