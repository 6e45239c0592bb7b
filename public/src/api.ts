/**
 * REST client: one base URL (same origin, or config.json's apiBase), the API key from localStorage,
 * errors as ApiError with the server's code, message and field.
 */
import type { Problem } from './types.js';

const KEY_STORAGE = 'agent-orchestrator.api-key';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly problems: Problem[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

interface ErrorBody {
  error?: { code?: string; message?: string; field?: string; problems?: Problem[] };
}

export class Api {
  private key: string | null;
  /** Called whenever the server answers 401: the dashboard asks for a key. */
  onUnauthorized: () => void = () => {};

  constructor(readonly base: string) {
    this.key = readKey();
  }

  get apiKey(): string | null {
    return this.key;
  }

  setKey(key: string | null): void {
    this.key = key || null;
    try {
      if (this.key) localStorage.setItem(KEY_STORAGE, this.key);
      else localStorage.removeItem(KEY_STORAGE);
    } catch { /* storage disabled: keep the key for this page only */ }
  }

  /** The feed's URL: ws(s):// of the API base. */
  wsUrl(since: number | null): string {
    const u = new URL(`${this.base}/ws`);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    if (since !== null) u.searchParams.set('since', String(since));
    return u.toString();
  }

  /** WebSocket subprotocols: the feed's own, plus the key when there is one (no key in the URL). */
  wsProtocols(): string[] {
    if (!this.key) return ['orchestrator.v1'];
    const token = encodeURIComponent(this.key).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    return ['orchestrator.v1', `api-key.${token}`];
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  put<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  async request<T>(method: string, path: string, body?: unknown, accept = 'application/json'): Promise<T> {
    const res = await this.fetch(method, path, body, accept);
    if (accept.includes('ndjson')) return (await res.text()) as T;
    return (await res.json()) as T;
  }

  private async fetch(method: string, path: string, body: unknown, accept: string): Promise<Response> {
    const headers: Record<string, string> = { accept };
    if (this.key) headers['x-api-key'] = this.key;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
    } catch (e) {
      throw new ApiError(0, 'network', `cannot reach the orchestrator (${(e as Error).message})`);
    }
    if (res.ok) return res;
    let err: ErrorBody['error'] = {};
    try { err = ((await res.json()) as ErrorBody).error ?? {}; } catch { /* not JSON */ }
    if (res.status === 401) this.onUnauthorized();
    throw new ApiError(res.status, err.code ?? `http_${res.status}`, err.message ?? `${res.status} ${res.statusText}`, err.field, err.problems ?? []);
  }
}

function readKey(): string | null {
  try { return localStorage.getItem(KEY_STORAGE); } catch { return null; }
}

/** Where the API lives: config.json's apiBase when the dashboard is served elsewhere, else this origin. */
export async function discoverApiBase(): Promise<string> {
  try {
    const res = await fetch('./config.json', { cache: 'no-store' });
    if (res.ok) {
      const cfg = (await res.json()) as { apiBase?: unknown };
      if (typeof cfg.apiBase === 'string' && /^https?:\/\//.test(cfg.apiBase)) return cfg.apiBase.replace(/\/+$/, '');
    }
  } catch { /* no config.json: same origin */ }
  return location.origin;
}
