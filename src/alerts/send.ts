/**
 * One attempt to hand a message to a sink: a POST of the stored body, signed when the sink has a
 * secret, cut at the sink's timeout. A 2xx answer is delivered; anything else is an error in one
 * line with the sink's URL and secret scrubbed out of it.
 */
import type { Agent } from 'undici';
import { request } from 'undici';
import { DELIVERY_HEADER, sign, SIGNATURE_HEADER } from './message.js';
import { scrub, type Sink } from './sinks.js';

export interface Outcome {
  status: number | null;
  /** Null: delivered. */
  error: string | null;
  /** The receiver's Retry-After, in ms. */
  retryAfterMs: number | null;
}

/** Null when `stop` cut the attempt (shutting down): it does not count, the message stays pending. */
export async function post(agent: Agent, sink: Sink, msg: { id: string; body: string; eventType: string }, stop: AbortSignal): Promise<Outcome | null> {
  if (sink.problem || !sink.url) return { status: null, error: sink.problem ?? 'no URL', retryAfterMs: null };
  const timeout = AbortSignal.timeout(sink.config.timeout_seconds * 1000);
  const headers: Record<string, string> = {
    'content-type': 'application/json', 'user-agent': 'agent-orchestrator-alerts', [DELIVERY_HEADER]: msg.id, 'x-orchestrator-event': msg.eventType,
  };
  if (sink.secret) headers[SIGNATURE_HEADER] = sign(sink.secret, msg.body);
  let status: number | null = null;
  let retryAfterMs: number | null = null;
  try {
    const signal = AbortSignal.any([stop, timeout]);
    const res = await request(sink.url, { method: 'POST', headers, body: msg.body, signal, dispatcher: agent });
    status = res.statusCode;
    const ra = Number(res.headers['retry-after']);
    if (Number.isFinite(ra) && ra > 0) retryAfterMs = ra * 1000;
    await res.body.dump({ limit: 64 * 1024, signal });
    return { status, error: status >= 200 && status <= 299 ? null : `HTTP ${status}`, retryAfterMs };
  } catch (err) {
    if (stop.aborted) return null;
    // Answered 2xx and only the rest of the answer was lost: delivered.
    if (status !== null && status >= 200 && status <= 299) return { status, error: null, retryAfterMs };
    const error = timeout.aborted ? `timed out after ${sink.config.timeout_seconds}s` : describe(err);
    return { status, error: scrub(error, sink), retryAfterMs };
  }
}

/** A network error in one line: undici's code and message (ECONNREFUSED, UND_ERR_SOCKET, …). */
function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? e.code;
  const message = e.cause?.message ?? e.message ?? String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
