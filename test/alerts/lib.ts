/**
 * A real alert receiver for the tests: node:http on 127.0.0.1 that records every request (headers
 * and raw body) and answers as its mode says: ok (200), fail (500), slow (answers only after
 * `slowMs`, past the sink's timeout), hang (never answers until closed). `down` is its port with
 * nothing listening.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { freePort, until } from '../helpers/process.mjs';

export type Mode = 'ok' | 'fail' | 'slow' | 'hang';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  mode: Mode;
  /** The answer was sent (a slow answer after the sender gave up still counts as sent). */
  answered: number | null;
}

export class Receiver {
  readonly received: Received[] = [];
  mode: Mode = 'ok';
  slowMs = 1500;
  private server: Server | null = null;
  private readonly held = new Set<ServerResponse>();

  private constructor(readonly port: number) {}

  static async create(): Promise<Receiver> {
    return new Receiver(await freePort());
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async up(mode: Mode = this.mode): Promise<void> {
    this.mode = mode;
    if (this.server) return;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r: Received = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), mode: this.mode, answered: null };
        this.received.push(r);
        const answer = (status: number) => { if (!res.destroyed) { r.answered = status; res.writeHead(status, { 'content-type': 'text/plain' }).end(String(status)); } this.held.delete(res); };
        this.held.add(res);
        if (r.mode === 'ok') answer(200);
        else if (r.mode === 'fail') answer(500);
        else if (r.mode === 'slow') setTimeout(() => answer(200), this.slowMs).unref();
        // hang: answered by close()
      });
    });
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(this.port, '127.0.0.1', () => resolve()); });
    this.server = server;
  }

  /** Close the port (down). */
  async down(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    for (const res of this.held) res.destroy();
    this.held.clear();
    s.closeAllConnections();
    await new Promise((r) => s.close(() => r(undefined)));
  }

  /** Requests that were answered 2xx, by delivery id. */
  delivered(): Map<string, Received[]> {
    const out = new Map<string, Received[]>();
    for (const r of this.received) {
      if (r.answered === null || r.answered >= 300) continue;
      const id = String(r.headers['x-orchestrator-delivery']);
      out.set(id, [...(out.get(id) ?? []), r]);
    }
    return out;
  }
}

/** A receiver's check of X-Orchestrator-Signature, as the README shows it. */
export function signatureValid(secret: string, body: string, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export async function getJson(url: string): Promise<any> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

/** Events of the orchestrator at `base` (all of them, oldest first). */
export async function allEvents(base: string): Promise<any[]> {
  const out: any[] = [];
  let since = 0;
  for (;;) {
    const page = await getJson(`${base}/api/events?since=${since}&limit=1000`);
    out.push(...page.events);
    if (page.events.length < 1000) return out;
    since = page.events.at(-1).seq;
  }
}

export { until };
