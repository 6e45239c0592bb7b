/**
 * The HTTP security checks (DESIGN.md §4): API keys and their scopes in constant time, Host
 * against DNS rebinding, Origin for CORS, /ws and mutations, and a per-client token-bucket rate
 * limit.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { SCOPES, type OrchestratorConfig, type Scope } from '../config/schema.js';

export type { Scope };

/** Who a request acts as: the key it presented (its name goes into the events of what it changed). */
export interface Principal {
  name: string;
  /** Expanded: a key with admin has operate and read too. */
  scopes: ReadonlySet<Scope>;
}

/** Each scope includes the ones before it: admin ⊇ operate ⊇ read. */
export function expandScopes(scopes: Iterable<Scope>): ReadonlySet<Scope> {
  const top = Math.max(...[...scopes].map((s) => SCOPES.indexOf(s)));
  return new Set(SCOPES.slice(0, top + 1));
}

/** Every request when no key is configured (a loopback-only orchestrator): all scopes. */
export const ANONYMOUS: Principal = { name: 'anonymous', scopes: new Set(SCOPES) };
/** A request without a valid key on a public route (GET /health, the dashboard files). */
export const NOBODY: Principal = { name: 'anonymous', scopes: new Set() };

/** The name api.api_key (or ORCHESTRATOR_API_KEY) acts under: one key with every scope. */
export const API_KEY_NAME = 'api_key';

/**
 * The configured keys. A presented key is hashed once and compared with every key's hash in
 * constant time, without stopping at a match, so neither timing nor the position of a key in the
 * list tells anything about the secrets.
 */
export class Keyring {
  private readonly entries: Array<{ digest: Buffer; principal: Principal }>;

  constructor(config: Pick<OrchestratorConfig, 'api'>) {
    const keys = [
      ...(config.api.api_key ? [{ name: API_KEY_NAME, key: config.api.api_key, scopes: ['admin'] as Scope[] }] : []),
      ...config.api.keys,
    ];
    this.entries = keys.map((k) => ({ digest: sha256(k.key), principal: { name: k.name, scopes: expandScopes(k.scopes) } }));
  }

  /** No key configured: the API is open (and bound to loopback only, checkBindSafety). */
  get open(): boolean {
    return this.entries.length === 0;
  }

  /** The principal of a presented key, or null for none or a wrong one. */
  resolve(presented: string | undefined): Principal | null {
    if (!presented) return null;
    const digest = sha256(presented);
    let found: Principal | null = null;
    for (const e of this.entries) if (timingSafeEqual(digest, e.digest) && !found) found = e.principal;
    return found;
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** The key a request presents: X-API-Key, Authorization: Bearer, or (for /ws) a query parameter or subprotocol. */
export function presentedKey(h: { apiKey: string; authorization: string; protocol?: string }, query?: URLSearchParams): string | undefined {
  if (h.apiKey) return h.apiKey;
  const m = /^Bearer\s+(.+)$/i.exec(h.authorization);
  if (m) return m[1]!.trim();
  const q = query?.get('api_key') ?? query?.get('token');
  if (q) return q;
  const proto = h.protocol?.split(',').map((p) => p.trim()).find((p) => p.startsWith('api-key.'));
  return proto ? decodeURIComponent(proto.slice('api-key.'.length)) : undefined;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

/** Host names (without port) a request may address: the bind address, localhost, and configured names. */
export function allowedHostNames(config: OrchestratorConfig): Set<string> {
  const names = new Set(['localhost', '127.0.0.1', '[::1]', '::1', ...config.orchestrator.allowed_hosts.map((h) => h.toLowerCase())]);
  const bind = config.orchestrator.host.toLowerCase();
  if (bind !== '0.0.0.0' && bind !== '::') names.add(bind.includes(':') ? `[${bind}]` : bind);
  return names;
}

/** Strip the port from a Host header value ("[::1]:8000" → "[::1]", "a.b:80" → "a.b"). */
export function hostName(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  return colon > 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

/**
 * An Origin may talk to us when it is listed in api.cors_origins or is this very server (the
 * dashboard we serve ourselves). Requests without Origin (curl, the CLI) are not browser-driven.
 */
export function originAllowed(origin: string, hostHeader: string, corsOrigins: string[]): boolean {
  if (corsOrigins.includes('*') || corsOrigins.includes(origin)) return true;
  try {
    return new URL(origin).host.toLowerCase() === hostHeader.trim().toLowerCase();
  } catch {
    return false;
  }
}

/** Token bucket per client address: `perMinute` requests, refilled continuously. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private lastSweep = 0;

  constructor(private readonly perMinute: number, private readonly now: () => number = () => performance.now()) {}

  /** 0 when allowed, else the seconds to wait before retrying. */
  take(client: string): number {
    if (this.perMinute <= 0) return 0;
    const now = this.now();
    const rate = this.perMinute / 60_000;
    const b = this.buckets.get(client) ?? { tokens: this.perMinute, at: now };
    b.tokens = Math.min(this.perMinute, b.tokens + (now - b.at) * rate);
    b.at = now;
    this.buckets.set(client, b);
    this.sweep(now);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / rate / 1000));
  }

  /** Forget buckets that are full again, so the map does not grow with every address ever seen. */
  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [k, b] of this.buckets) if (b.tokens + (now - b.at) * (this.perMinute / 60_000) >= this.perMinute) this.buckets.delete(k);
  }
}
