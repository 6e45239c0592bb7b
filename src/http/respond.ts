/**
 * Writing responses safely over either engine: one write per response (or one stream of them),
 * nothing after it was aborted or ended, and every error has one JSON shape: {"error": {"code", "message", "field"?}}.
 */
import { AppError } from '../errors.js';
import type { RawResponse } from './engine/types.js';

export const STATUS_TEXT: Record<number, string> = {
  200: '200 OK', 201: '201 Created', 202: '202 Accepted', 204: '204 No Content', 304: '304 Not Modified',
  400: '400 Bad Request', 401: '401 Unauthorized', 403: '403 Forbidden', 404: '404 Not Found',
  405: '405 Method Not Allowed', 406: '406 Not Acceptable', 409: '409 Conflict', 413: '413 Payload Too Large',
  414: '414 URI Too Long', 415: '415 Unsupported Media Type', 421: '421 Misdirected Request', 429: '429 Too Many Requests',
  431: '431 Request Header Fields Too Large',
  500: '500 Internal Server Error', 503: '503 Service Unavailable', 504: '504 Gateway Timeout',
};

/** A response in flight: knows whether it may still be written. */
export class Reply {
  aborted = false;
  done = false;
  /** Headers every response to this request carries (CORS). */
  readonly extraHeaders: Array<[string, string]> = [];

  private watched = false;

  constructor(readonly res: RawResponse, readonly head = false) {}

  /**
   * Notice the client going away. Call before leaving the request handler whenever the answer is
   * not written synchronously (a body to read, a handler's promise): uWS requires it, and then
   * nothing is written to a gone client.
   */
  watch(): void {
    if (this.watched) return;
    this.watched = true;
    this.res.onAborted(() => { this.aborted = true; });
  }

  get open(): boolean {
    return !this.aborted && !this.done;
  }

  send(status: number, body: string | Buffer | Uint8Array, contentType: string, headers: Array<[string, string]> = []): void {
    if (!this.open) return;
    this.done = true;
    const noBody = status === 204 || status === 304;
    const all: Array<[string, string]> = noBody ? [] : [['content-type', contentType]];
    all.push(['x-content-type-options', 'nosniff'], ...this.extraHeaders, ...headers);
    if (noBody) this.res.respond(status, all, null);
    else if (this.head) this.res.respond(status, all, null, typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
    else this.res.respond(status, all, body);
  }

  /**
   * Write `body` as it comes, with backpressure: the next chunk is read only once the engine took
   * the last one. The client going away cancels the stream (its producer learns it is gone).
   */
  stream(status: number, body: ReadableStream<Uint8Array>, contentType: string, headers: Array<[string, string]> = []): void {
    const all: Array<[string, string]> = [['content-type', contentType], ['x-content-type-options', 'nosniff'], ...this.extraHeaders, ...headers];
    if (this.head && this.open) {
      this.done = true;
      this.res.respond(status, all, null);
      void body.cancel().catch(() => undefined);
      return;
    }
    const out = this.open ? this.res.stream(status, all) : null;
    if (!out) { void body.cancel().catch(() => undefined); return; }
    this.done = true;
    const reader = body.getReader();
    let finished = false;
    this.res.onAborted(() => {
      finished = true;
      void reader.cancel().catch(() => undefined);
    });
    const pump = async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (finished) return;
        if (done) { finished = true; out.end(); return; }
        if (!out.write(value)) await new Promise<void>((resolve) => out.onWritable(resolve));
      }
    };
    pump().catch(() => {
      // The producer failed: end what the client has; it sees the stream close.
      if (!finished) { finished = true; out.end(); }
    });
  }

  json(status: number, value: unknown, headers: Array<[string, string]> = []): void {
    this.send(status, JSON.stringify(value), 'application/json; charset=utf-8', headers);
  }

  error(err: unknown, headers: Array<[string, string]> = []): void {
    const e = err instanceof AppError ? err : new AppError('internal', 'internal error', 500);
    const body: { code: string; message: string; field?: string; problems?: unknown } = { code: e.code, message: e.message };
    if (e.field) body.field = e.field;
    if (e.problems && e.problems.length > 1) body.problems = e.problems.map((p) => ({ field: p.field, message: p.message }));
    this.json(e.status, { error: body }, headers);
  }
}
