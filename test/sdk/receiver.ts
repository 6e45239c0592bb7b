/**
 * A stand-in orchestrator for the SDK tests: a real node:http server on loopback that records each
 * request (method, path, auth headers, JSON body) and answers as the test says.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { TestLike } from '../helpers/harness.js';

export interface Seen { method: string; path: string; authorization: string | undefined; apiKey: string | undefined; contentType: string | undefined; body: unknown }
export interface Answer { status: number; body?: unknown; headers?: Record<string, string> }

/** A stand-in orchestrator: records each request and answers with `reply` (which may hold it). */
export async function receiver(t: TestLike, reply: (seen: Seen, n: number) => Answer | Promise<Answer> = () => ({ status: 200, body: { drain: false } })) {
  const seen: Seen[] = [];
  let waiters: Array<() => void> = [];
  let active = 0;
  let maxActive = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    active++;
    maxActive = Math.max(maxActive, active);
    let raw = '';
    req.setEncoding('utf8').on('data', (d: string) => { raw += d; }).on('end', () => {
      const s: Seen = {
        method: req.method!, path: req.url!, authorization: req.headers.authorization,
        apiKey: req.headers['x-api-key'] as string | undefined, contentType: req.headers['content-type'],
        body: raw ? JSON.parse(raw) : undefined,
      };
      seen.push(s);
      for (const w of waiters) w();
      void Promise.resolve(reply(s, seen.length)).then((a) => {
        active--;
        const text = a.body === undefined ? '' : JSON.stringify(a.body);
        res.writeHead(a.status, { ...(text ? { 'content-type': 'application/json' } : {}), ...a.headers }).end(text);
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  /** Resolves once what arrived so far satisfies `ok` (checked on every request). */
  const until = (ok: (seen: Seen[]) => boolean) => new Promise<void>((resolve) => {
    const check = () => { if (ok(seen)) { waiters = waiters.filter((w) => w !== check); resolve(); } };
    waiters.push(check);
    check();
  });
  /** Resolves once n requests have arrived. */
  const count = (n: number) => until((s) => s.length >= n);
  return { url, seen, count, until, maxActive: () => maxActive };
}
