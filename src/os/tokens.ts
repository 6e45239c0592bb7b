/**
 * Run tokens: every run gets a fresh secret in ORCHESTRATOR_TOKEN, with which the service makes
 * its own calls (POST /api/services/{id}/heartbeat and /throttle) with or without api.api_key. A
 * token authorises only its own service's calls, and only while its run lives. Only the token's
 * SHA-256 is kept: here for the live runs, and in the pid ledger, so a run a restarted orchestrator
 * re-adopts keeps the token it was started with (adopt.ts).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** The environment variable a service finds its run token in. */
export const TOKEN_ENV = 'ORCHESTRATOR_TOKEN';

/** 32 random bytes, base64url: 43 characters, safe in a header and a shell. */
const TOKEN_BYTES = 32;

/** A new token for a run about to start, and the hash that is all the orchestrator keeps of it. */
export function newRunToken(): { token: string; hash: string } {
  const token = randomBytes(TOKEN_BYTES).toString('base64url');
  return { token, hash: hashToken(token).toString('hex') };
}

function hashToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** Whose token a request presented: this service's live run (with its run id), another service's, or no live run's. */
export type TokenOwner = { kind: 'own'; runId: string } | { kind: 'other' } | { kind: 'none' };

/** The tokens of the live runs, by service and by hash. */
export class RunTokens {
  private readonly byService = new Map<string, { runId: string; hash: Buffer; hex: string }>();
  private readonly byHash = new Map<string, string>();

  /** A run of `id` holds the token with this hash (hex) from now until it ends (drop). */
  set(id: string, runId: string, hashHex: string): void {
    this.drop(id);
    this.byService.set(id, { runId, hash: Buffer.from(hashHex, 'hex'), hex: hashHex });
    this.byHash.set(hashHex, id);
  }

  /** The run of `id` ended (or, with runId, that run if it is still the one held). */
  drop(id: string, runId?: string): void {
    const held = this.byService.get(id);
    if (!held || (runId !== undefined && held.runId !== runId)) return;
    this.byService.delete(id);
    if (this.byHash.get(held.hex) === id) this.byHash.delete(held.hex);
  }

  /** Whose token this is, as far as service `id` is concerned; the own-run comparison is constant-time. */
  owner(id: string, token: string): TokenOwner {
    const hash = hashToken(token);
    const own = this.byService.get(id);
    if (own && timingSafeEqual(hash, own.hash)) return { kind: 'own', runId: own.runId };
    return this.byHash.has(hash.toString('hex')) ? { kind: 'other' } : { kind: 'none' };
  }

  get size(): number {
    return this.byService.size;
  }
}
