#!/usr/bin/env node
// WebSocket fan-out: 1,000 clients on /ws while the orchestrator's actor host (or REST commands)
// drive registry events through the real orchestrator, once per HTTP engine (uws, node). Reports
// events/s delivered to every client and the latency from an event's creation to its receipt.
//
//   npm run build && node bench/ws-fanout.mjs
//   BENCH_CLIENTS=1000 BENCH_DURATION=10 BENCH_RATES=1000,5000 BENCH_SOURCE=actor BENCH_ENGINES=uws,node
//   BENCH_SOURCE=rest BENCH_CLIENTS=500 BENCH_RATE=200 BENCH_SERVICES=40   (events from REST commands)
//
// BENCH_SOURCE=actor (the default): the orchestrator runs with ORCHESTRATOR_BENCH=1 and its actor
// host emits events at a steady rate, stamped with their creation time in the worker; they take
// the path every event takes (registry, then the feed). Latency = receipt − creation.
//
// Latency is taken on `updated` events (PATCH of an API-registered service): those are stamped on
// the orchestrator's main thread, whose clock this process shares to the millisecond. State events
// are stamped by the actor worker, whose clock is derived from /proc/uptime (10 ms resolution),
// so they count towards throughput but not latency.
//
// Clients are minimal WebSocket readers on raw TCP in this process (like autocannon for HTTP), so
// the load generator costs as little as possible; on 2 cores they still share the machine with
// the orchestrator, and their CPU use is reported beside the orchestrator's. The handshake is
// checked by the RFC (status 101, Upgrade/Connection, Sec-WebSocket-Accept; header names in any
// case and order), so it holds for uWS and for the ws package alike.
//
// Engines run one after the other, each on its own orchestrator (ORCHESTRATOR_HTTP_ENGINE); where
// no native uWS binary loads, uws is skipped with the reason.
import { connect } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { atExit, benchEngines, fail, finish, machine, printTable, startOrchestrator } from './lib/orchestrator.mjs';

const SOURCE = process.env.BENCH_SOURCE ?? 'actor';
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? (SOURCE === 'actor' ? 1000 : 500));
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const RATE = Number(process.env.BENCH_RATE ?? 200);
const RATES = (process.env.BENCH_RATES ?? '1000,5000').split(',').map(Number);
const SERVICES = Number(process.env.BENCH_SERVICES ?? 40);
const PATCHABLE = 20;
const ENGINES = benchEngines();
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

const nowMs = () => performance.timeOrigin + performance.now();

const READ_BUFFER = Buffer.alloc(256 * 1024);

/** One feed subscriber: handshake by hand, then unmasked server frames parsed from the bytes. */
class Client {
  constructor(port) {
    this.port = port;
    // Unparsed bytes: chunks are only joined once a whole frame is there (joining on every chunk
    // is quadratic in the frame size, and a big frame would make the load generator the bottleneck).
    this.chunks = [];
    this.pending = 0;
    this.need = 2;
    this.expect = null; // next seq this client must see
    this.events = 0;
    this.gaps = 0;
    this.lastSeq = 0;
    this.frames = 0;
    this.closed = null;
  }

  open(sink) {
    this.sink = sink;
    return new Promise((resolve, reject) => {
      let handshaken = false;
      // Reads land in one buffer shared by every client (callbacks run one at a time): no
      // allocation per read. Bytes kept past a callback are copied (keep()).
      const s = connect({
        port: this.port,
        host: '127.0.0.1',
        onread: {
          buffer: READ_BUFFER,
          callback: (n, buf) => {
            const chunk = buf.subarray(0, n);
            if (handshaken && this.pending === 0 && n >= this.need) { this.parse(chunk); return; }
            this.chunks.push(Buffer.from(chunk));
            this.pending += n;
            if (!handshaken) {
              const head = this.take();
              const end = head.indexOf('\r\n\r\n');
              if (end < 0) { this.keep(head); return; }
              const problem = checkHandshake(head.subarray(0, end).toString('latin1'), accept);
              if (problem) { s.destroy(); reject(new Error(problem)); return; }
              handshaken = true;
              // Frames may follow the head in the same read (the feed's hello does).
              this.keep(head.subarray(end + 4));
              resolve(this);
            }
            if (this.pending >= this.need) this.parse(this.take());
          },
        },
      });
      const key = randomBytes(16).toString('base64');
      const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
      this.socket = s;
      s.setNoDelay(true);
      s.once('error', reject);
      s.once('connect', () => s.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${this.port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`));
      s.on('close', () => { if (!this.closed) this.closed = { code: 1006 }; });
      s.on('error', () => {});
    });
  }

  /** Every unparsed byte as one buffer. */
  take() {
    const b = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.pending);
    this.chunks = [];
    this.pending = 0;
    return b;
  }

  /** Keep the unparsed tail (a copy: it may sit in the shared read buffer). */
  keep(b) {
    if (b.length) { this.chunks.push(Buffer.from(b)); this.pending = b.length; }
  }

  /** Handle every whole frame in b; keep the rest and note how many bytes the next frame needs. */
  parse(b) {
    this.need = 2;
    for (;;) {
      if (b.length < 2) break;
      const op = b[0] & 0x0f;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) { if (b.length < 4) { this.need = 4; break; } len = b.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (b.length < 10) { this.need = 10; break; } len = Number(b.readBigUInt64BE(2)); off = 10; }
      if (b.length < off + len) { this.need = off + len; break; }
      const payload = b.subarray(off, off + len);
      b = b.subarray(off + len);
      if (op === 1) this.onText(payload);
      else if (op === 8) this.closed = { code: payload.length >= 2 ? payload.readUInt16BE(0) : 1005, reason: payload.subarray(2).toString() };
      else if (op === 9) this.pong(payload);
    }
    this.keep(b);
  }

  onText(payload) {
    // The clients must keep up with millions of events a second on a shared machine, so frames are
    // not parsed. A batch ({"type":"events","from":A,"to":B,…}) is checked from its head alone;
    // latency is sampled on its last event; a single event has its seq read from the bytes.
    const head = payload.subarray(0, 16);
    const received = nowMs();
    let first;
    let last;
    if (head.equals(EVENTS_PREFIX)) {
      first = numberAt(payload, payload.indexOf(FROM_KEY) + FROM_KEY.length);
      last = numberAt(payload, payload.indexOf(TO_KEY) + TO_KEY.length);
    } else if (payload.subarray(0, 15).equals(EVENT_PREFIX)) {
      first = last = numberAt(payload, payload.indexOf(SEQ_KEY) + SEQ_KEY.length);
    } else {
      if (this.expect === null && head.toString().startsWith('{"type":"hello"')) this.expect = JSON.parse(payload.toString()).seq + 1;
      return;
    }
    if (first !== this.expect) this.gaps++;
    this.expect = last + 1;
    this.lastSeq = last;
    this.events += last - first + 1;
    this.frames++;
    // The last event's own fields: its "t" (bench) or "at" (updated), read from the end.
    const lastEvent = payload.subarray(payload.lastIndexOf(SEQ_KEY));
    if (lastEvent.indexOf(BENCH_TYPE) >= 0) this.sink.push(received - numberAt(lastEvent, lastEvent.indexOf(T_KEY) + T_KEY.length));
    else if (lastEvent.indexOf(UPDATED_TYPE) >= 0) this.sink.push(received - Date.parse(/"at":"([^"]+)"/.exec(lastEvent.toString())[1]));
  }

  pong(payload) {
    const mask = randomBytes(4);
    const masked = Buffer.from(payload.map((x, i) => x ^ mask[i % 4]));
    this.socket.write(Buffer.concat([Buffer.from([0x8a, 0x80 | payload.length]), mask, masked]));
  }

  destroy() { this.socket?.destroy(); }
}

/** Why a server's answer to the upgrade is not a WebSocket handshake (RFC 6455 4.1), or null. */
function checkHandshake(head, accept) {
  const [status, ...lines] = head.split('\r\n');
  if (!/^HTTP\/1\.1 101\b/.test(status)) return `upgrade refused: ${head}`;
  const headers = new Map();
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  if ((headers.get('upgrade') ?? '').toLowerCase() !== 'websocket') return `no "Upgrade: websocket" in ${head}`;
  if (!(headers.get('connection') ?? '').toLowerCase().split(/\s*,\s*/).includes('upgrade')) return `no "Connection: Upgrade" in ${head}`;
  if (headers.get('sec-websocket-accept') !== accept) return `wrong Sec-WebSocket-Accept in ${head}`;
  return null;
}

const EVENT_PREFIX = Buffer.from('{"type":"event"');
const EVENTS_PREFIX = Buffer.from('{"type":"events"');
const FROM_KEY = Buffer.from('"from":');
const TO_KEY = Buffer.from('"to":');
const SEQ_KEY = Buffer.from('"seq":');
const T_KEY = Buffer.from('"t":');
const BENCH_TYPE = Buffer.from('"type":"bench"');
const UPDATED_TYPE = Buffer.from('"type":"updated"');

/** The JSON number starting at byte i, read from the bytes. */
function numberAt(buf, i) {
  let n = 0;
  let frac = 0;
  let scale = 1;
  for (; i < buf.length; i++) {
    const c = buf[i];
    if (c === 0x2e) { frac = 1; continue; }
    if (c < 0x30 || c > 0x39) break;
    if (frac) { scale /= 10; n += (c - 0x30) * scale; } else n = n * 10 + (c - 0x30);
  }
  return n;
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** CPU seconds used so far by a process (utime + stime from /proc). */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

const COLUMNS = ['engine', 'phase', 'events/s created', 'events/s per client', 'deliveries/s', 'p50 ms', 'p99 ms', 'max ms', 'gaps', 'dropped', 'CPU orch/clients'];

async function main() {
  const rows = [];
  const notes = [];
  for (const engine of ENGINES) await runEngine(engine, rows, notes);
  const what = SOURCE === 'actor' ? 'latency = receipt − creation in the actor host' : 'latency = receipt − event.at over "updated" events';
  process.stdout.write(`\nWebSocket fan-out — ${machine()}; ${CLIENTS} clients, ${DURATION} s per phase; ${what}; gaps = clients that missed or repeated a seq, dropped = clients closed by the server\n\n`);
  printTable(COLUMNS, rows);
  if (notes.length) process.stdout.write(`\n${notes.map((l) => `- ${l}`).join('\n')}\n`);
}

/** One engine: its own orchestrator and clients, every phase, then all of it taken down. */
async function runEngine(engine, rows, notes) {
  process.stderr.write(`starting the orchestrator (engine ${engine}) with ${SERVICES} services…\n`);
  let orch;
  try {
    orch = await startOrchestrator({ count: SERVICES, api: { rate_limit: 0 }, engine, env: SOURCE === 'actor' ? { ORCHESTRATOR_BENCH: '1' } : {} });
  } catch (e) {
    const why = /http_engine: [^\n]*/.exec(e.message)?.[0] ?? e.message.split('\n')[0];
    notes.push(`engine ${engine}: skipped — the orchestrator did not start with it (${why})`);
    return;
  }
  if (orch.engine !== engine) notes.push(`engine ${engine}: asked for, but /health says "${orch.engine}"`);
  const port = Number(new URL(orch.url).port);
  const pool = new Pool(orch.url, { connections: 32 });
  let poolClosed = false;
  const closePool = async () => { if (!poolClosed) { poolClosed = true; await pool.close(); } };
  atExit(closePool);
  const call = async (method, path, body) => {
    const r = await pool.request({ method, path, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
    const text = await r.body.text();
    if (r.statusCode >= 300) throw new Error(`${method} ${path}: ${r.statusCode} ${text}`);
    return text;
  };
  for (let i = 0; i < PATCHABLE; i++) await call('POST', '/api/services', { id: `api-${i}`, executable: 'sleep 3600', auto_start: false });

  process.stderr.write(`connecting ${CLIENTS} clients…\n`);
  const latencies = [];
  const clients = [];
  atExit(() => { for (const c of clients) c.destroy(); });
  for (let i = 0; i < CLIENTS; i += 50) {
    const batch = Array.from({ length: Math.min(50, CLIENTS - i) }, () => new Client(port));
    await Promise.all(batch.map((c) => c.open(latencies)));
    clients.push(...batch);
  }
  await waitDelivered(clients, await lastSeq(call));

  let patchN = 0;
  const patch = () => { const i = patchN++; return call('PATCH', `/api/services/api-${i % PATCHABLE}`, { name: `n${i}` }); };
  const restart = (i) => call('PUT', `/api/services/svc-${String(i % SERVICES).padStart(3, '0')}/restart`);

  const phase = async (name, drive) => {
    latencies.length = 0;
    const before = clients.map((c) => c.events);
    const gaps0 = clients.reduce((n, c) => n + c.gaps, 0);
    const closed0 = clients.filter((c) => c.closed).length;
    const seq0 = await lastSeq(call);
    const cpuO = cpuSeconds(orch.child.pid);
    const cpuB = process.cpuUsage();
    const t0 = nowMs();
    await drive(t0 + DURATION * 1000);
    const seq1 = await lastSeq(call);
    await waitDelivered(clients, seq1);
    const elapsed = (nowMs() - t0) / 1000;
    const cpuBench = process.cpuUsage(cpuB);
    const delivered = clients.reduce((n, c, i) => n + c.events - before[i], 0);
    const sorted = Float64Array.from(latencies).sort();
    rows.push({
      engine: orch.engine,
      phase: name,
      'events/s created': Math.round((seq1 - seq0) / DURATION),
      'events/s per client': Math.round(delivered / clients.length / elapsed),
      'deliveries/s': Math.round(delivered / elapsed).toLocaleString('en-US'),
      'p50 ms': percentile(sorted, 50).toFixed(1),
      'p99 ms': percentile(sorted, 99).toFixed(1),
      'max ms': percentile(sorted, 100).toFixed(1),
      gaps: clients.reduce((n, c) => n + c.gaps, 0) - gaps0,
      dropped: clients.filter((c) => c.closed).length - closed0,
      'CPU orch/clients': `${Math.round(((cpuSeconds(orch.child.pid) - cpuO) / elapsed) * 100)}%/${Math.round(((cpuBench.user + cpuBench.system) / 1e6 / elapsed) * 100)}%`,
    });
  };

  if (SOURCE === 'actor') {
    for (const rate of RATES) {
      process.stderr.write(`${engine}: actor events ${rate}/s for ${DURATION} s…\n`);
      await phase(`${rate} ev/s from the actor host`, async (end) => {
        await call('POST', '/api/_bench/events', { rate, seconds: DURATION });
        while (nowMs() < end) await new Promise((r) => setTimeout(r, 50));
      });
    }
  } else {
    process.stderr.write(`${engine}: paced ${RATE} PATCH/s for ${DURATION} s…\n`);
    await phase(`paced ${RATE} ev/s`, async (end) => {
      const inflight = new Set();
      const start = nowMs();
      let sent = 0;
      while (nowMs() < end) {
        const due = Math.floor(((nowMs() - start) / 1000) * RATE);
        while (sent < due) { const p = patch(); inflight.add(p); p.finally(() => inflight.delete(p)); sent++; }
        await new Promise((r) => setTimeout(r, 2));
      }
      await Promise.all(inflight);
    });

    process.stderr.write(`${engine}: saturated, 16 PATCH loops + 8 restart loops for ${DURATION} s…\n`);
    await phase('saturated (PATCH + restarts)', async (end) => {
      const loop = async (fn) => { let i = 0; while (nowMs() < end) await fn(i++); };
      await Promise.all([
        ...Array.from({ length: 16 }, () => loop(() => patch())),
        ...Array.from({ length: 8 }, (_, k) => loop((i) => restart(k + 8 * i))),
      ]);
    });
  }

  const list = JSON.parse(await call('GET', '/api/services'));
  orch.refreshPids(list.services.map((s) => s.pid).filter(Boolean));
  for (const c of clients) c.destroy();
  await closePool();
  process.stderr.write(`stopping the orchestrator (engine ${engine})…\n`);
  await orch.stop();
}

async function lastSeq(call) {
  return JSON.parse(await call('GET', '/api/events?since=999999999999')).last_seq;
}

/** Wait until every open client has seen `seq` (the phase's events have all arrived). */
async function waitDelivered(clients, seq) {
  const deadline = Date.now() + 60_000;
  while (clients.some((c) => !c.closed && c.lastSeq < seq && c.expect !== null && c.expect <= seq)) {
    if (Date.now() > deadline) throw new Error('clients did not receive every event within 60 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}

main().then(() => finish(0), fail);
