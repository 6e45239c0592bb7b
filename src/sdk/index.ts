/**
 * The TypeScript SDK: a service registers itself with the orchestrator ("Service Registration
 * (optional): auto-register with orchestrator" in the product document) and serves the /health
 * payload the orchestrator probes.
 *
 *   import { ServiceAgent } from 'agent-orchestrator/sdk';
 *   const agent = new ServiceAgent('my-service', 'http://localhost:8000', { apiEndpoint: 'http://localhost:8001' });
 *   await agent.serveHealth(8001);   // GET /health → { status: 'healthy', service, timestamp }
 *   await agent.register();
 *   process.on('SIGTERM', async () => { await agent.deregister(); process.exit(0); });
 *
 * A self-registered service is "external": the orchestrator health-checks it, shows it and records
 * its history, but did not start it and will not stop or restart it (unless it registered an
 * executable). Registering again (after a restart of the service) updates the registration.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ServiceDetail } from '../api/types.js';

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

/** The orchestrator's view of a service (GET /api/services/{id}): the API's own wire type. */
export type RegisteredService = ServiceDetail;

/** A refusal from the orchestrator (HTTP status and error code) or no answer at all (status 0). */
export class OrchestratorError extends Error {
  constructor(message: string, readonly status: number, readonly code: string) {
    super(message);
    this.name = 'OrchestratorError';
  }
}

export interface HealthServer {
  port: number;
  url: string;
  server: Server;
  close(): Promise<void>;
}

export class ServiceAgent {
  readonly orchestratorUrl: string;
  private readonly opts: ServiceAgentOptions;

  constructor(
    readonly serviceId: string,
    orchestratorUrl: string = process.env.ORCHESTRATOR_URL ?? 'http://localhost:8000',
    options: ServiceAgentOptions = {},
  ) {
    if (!serviceId) throw new TypeError('ServiceAgent needs a service id');
    this.orchestratorUrl = orchestratorUrl.replace(/\/+$/, '');
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
      await this.request('DELETE', `/api/services/${encodeURIComponent(this.serviceId)}`);
      return true;
    } catch (e) {
      if (e instanceof OrchestratorError && e.status === 404) return false;
      throw e;
    }
  }

  /** The orchestrator's current view of this service. */
  status(): Promise<RegisteredService> {
    return this.request<RegisteredService>('GET', `/api/services/${encodeURIComponent(this.serviceId)}`);
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

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const key = this.opts.apiKey ?? process.env.ORCHESTRATOR_API_KEY;
    if (key) headers['x-api-key'] = key;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.orchestratorUrl}${path}`, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
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
