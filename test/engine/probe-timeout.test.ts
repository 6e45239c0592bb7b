/**
 * A probe is cut at its timeout whatever it is stuck on: a connect that never completes, headers
 * that never come, a body that stalls or trickles forever. Real sockets on 127.0.0.1, no mocks.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Prober, type ProbeOutcome } from '../../src/os/probes.js';
import { fixture, harness, node } from '../helpers/harness.js';

/** The extra time a cut probe may take past its timeout on a loaded machine. */
const SLACK_MS = 400;

/**
 * A port whose connects hang: a process that listens and never accepts (test/fixtures/never-accepts.mjs),
 * with its accept queue (backlog 1: two connections on Linux) filled by two connections of ours.
 * The returned socket is a third connect, still hanging: `connecting` tells whether it still is.
 */
async function wedgedPort(t: Test): Promise<{ port: number; witness: Socket }> {
  const child = spawn(process.execPath, [fixture('never-accepts.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { child.kill('SIGKILL'); });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      const m = /listening on (\d+)/.exec(String(d));
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`never-accepts.mjs exited (${code})`)));
  });
  const sockets: Socket[] = [];
  t.teardown(() => { for (const s of sockets) s.destroy(); });
  const fill = [0, 1].map(() => connect(port, '127.0.0.1'));
  sockets.push(...fill);
  await Promise.all(fill.map((s) => once(s, 'connect')));
  const witness = connect(port, '127.0.0.1');
  witness.on('error', () => {});
  sockets.push(witness);
  return { port, witness };
}

/** A server on 127.0.0.1 that hands each connection to `onSocket`; its sockets, and when each closed. */
async function rawServer(t: Test, onSocket: (s: Socket) => void): Promise<{ port: number; sockets: Socket[]; closed: Promise<void>[] }> {
  const sockets: Socket[] = [];
  const closed: Promise<void>[] = [];
  const server: Server = createServer((s) => {
    sockets.push(s);
    closed.push(new Promise((resolve) => s.on('close', () => resolve())));
    s.on('error', () => {}); // ECONNRESET: the probe dropped the connection with data unread
    onSocket(s);
    s.resume(); // read on, or the peer's FIN (and 'close') would never be seen

  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => { for (const s of sockets) s.destroy(); server.close(); });
  return { port: (server.address() as { port: number }).port, sockets, closed };
}

/** Run a probe; resolves with its first outcome, and counts every call of `done`. */
function probe(prober: Prober, url: string, timeoutMs: number, calls: number[], keepAlive = true): Promise<ProbeOutcome> {
  const i = calls.push(0) - 1;
  return new Promise((resolve) => prober.probe(url, timeoutMs, keepAlive, (o) => { calls[i]!++; resolve(o); }));
}

function assertCut(t: Test, o: ProbeOutcome, timeoutMs: number, what: string): void {
  t.equal(o.ok, false, `${what}: failed`);
  t.match(o.error, new RegExp(`^timed out after ${timeoutMs} ms$`), `${what}: timed out`);
  t.ok(o.latencyMs >= timeoutMs, `${what}: not before the timeout (${o.latencyMs} ms)`);
  t.ok(o.latencyMs < timeoutMs + SLACK_MS, `${what}: cut at the timeout (${o.latencyMs} ms for ${timeoutMs} ms)`);
}

t.test('a connect that never completes is cut at the timeout, and the connection dropped', async (t) => {
  const { port, witness } = await wedgedPort(t);
  const prober = new Prober();
  const calls: number[] = [];
  const url = `http://127.0.0.1:${port}/health`;
  // Three at once: the first waits on its connect, the others for a connection of the pool.
  const outcomes = await Promise.all([probe(prober, url, 300, calls), probe(prober, url, 300, calls), probe(prober, url, 300, calls)]);
  t.ok(witness.connecting, 'connects to the port were still hanging when the probes were cut');
  outcomes.forEach((o, i) => assertCut(t, o, 300, `probe ${i + 1}`));
  // One more, now that the connections of the first ones are still being given up.
  assertCut(t, await probe(prober, url, 300, calls), 300, 'a probe right after');
  const closing = performance.now();
  await prober.close(); // waits for every request undici still holds: the hanging connects too
  const closeMs = performance.now() - closing;
  t.comment(`close() after the cut probes: ${closeMs.toFixed(0)} ms`);
  t.ok(closeMs < 5_000, 'the hanging connects were given up soon after the timeout, not after undici\'s 10 s default');
  t.same(calls, [1, 1, 1, 1], 'done was called exactly once per probe');
});

t.test('deadlines of different timeouts: a short one is not held up by a long one armed before it', async (t) => {
  const { port } = await wedgedPort(t);
  const prober = new Prober();
  const calls: number[] = [];
  const url = `http://127.0.0.1:${port}/health`;
  const long = probe(prober, url, 1_200, calls);
  const short = await probe(prober, url, 300, calls);
  assertCut(t, short, 300, 'the 300 ms probe');
  assertCut(t, await long, 1_200, 'the 1,200 ms probe');
  await prober.close();
  t.same(calls, [1, 1], 'done was called exactly once per probe');
});

/** Servers that accept and then stall somewhere in the response; each probe must be cut at 300 ms. */
const stalls: Array<[string, (s: Socket) => void]> = [
  ['headers that never come', () => { /* read, never answer */ }],
  ['a body that stalls after the headers', (s) => {
    s.once('data', () => s.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{"sta\r\n'));
  }],
  ['a body that trickles forever (no gap as long as the timeout)', (s) => {
    s.once('data', () => {
      s.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n');
      const drip = setInterval(() => s.write('1\r\n.\r\n'), 50);
      s.on('close', () => clearInterval(drip));
    });
  }],
];

for (const [what, serve] of stalls) {
  t.test(`${what}: cut at the timeout, connection closed`, async (t) => {
    const { port, closed } = await rawServer(t, serve);
    const prober = new Prober();
    const calls: number[] = [];
    assertCut(t, await probe(prober, `http://127.0.0.1:${port}/health`, 300, calls), 300, 'probe');
    await closed[0];
    t.pass('the server saw its connection closed');
    await prober.close();
    t.same(calls, [1], 'done was called once');
  });
}

t.test('quick probes are not disturbed by the deadline timer', async (t) => {
  const { port, sockets } = await rawServer(t, (s) => {
    s.on('data', () => s.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n{"status":"healthy"}'));
  });
  const prober = new Prober();
  const calls: number[] = [];
  const url = `http://127.0.0.1:${port}/health`;
  for (let i = 0; i < 30; i++) {
    const o = await probe(prober, url, i % 2 ? 1_000 : 2_000, calls);
    t.equal(o.ok, true, `probe ${i + 1} ok`, { outcome: o });
  }
  await prober.close();
  t.ok(calls.every((n) => n === 1), 'done was called exactly once per probe');
  t.ok(sockets.length <= 2, `kept-alive connections reused (${sockets.length} for 30 probes, one per timeout)`);
});

t.test('probes far apart ask for no keep-alive: Connection: close, and the socket goes with the response', async (t) => {
  const requests: string[] = [];
  const { port, sockets, closed } = await rawServer(t, (s) => {
    s.on('data', (d) => {
      requests.push(String(d));
      s.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n{"status":"healthy"}');
    });
  });
  const prober = new Prober();
  t.teardown(() => prober.close());
  const calls: number[] = [];
  const url = `http://127.0.0.1:${port}/health`;
  for (let i = 0; i < 3; i++) t.equal((await probe(prober, url, 2_000, calls, false)).ok, true, `probe ${i + 1} ok`);
  t.equal(sockets.length, 3, 'a connection per probe');
  t.ok(requests.every((r) => /\r\nconnection: close\r\n/i.test(r)), 'each request says Connection: close');
  // The prober closed each socket itself, without waiting for the server to.
  await Promise.all(closed);
  t.pass('every connection closed after its response');
  // Probes close together keep theirs (a prober of their own, so its pool holds no client of the
  // closed connections): six probes on at most two connections (the pool may open a second while
  // the first is still being released), and none asks to close.
  const keeping = new Prober();
  t.teardown(() => keeping.close());
  const before = sockets.length;
  for (let i = 1; i <= 6; i++) t.equal((await probe(keeping, url, 2_000, calls, true)).ok, true, `kept-alive probe ${i} ok`);
  const opened = sockets.length;
  t.ok(opened - before <= 2, `six kept-alive probes on ${opened - before} connection(s)`);
  t.ok(requests.slice(3).every((r) => !/\r\nconnection: close\r\n/i.test(r)), 'and none asks to close it');
  t.ok(calls.every((n) => n === 1), 'done was called exactly once per probe');
});

t.test('end to end: a service whose health endpoint never accepts is seen timed out at its timeout', async (t) => {
  const { port } = await wedgedPort(t);
  const h = await harness(t, {
    services: {
      wedged: {
        id: 'wedged', executable: node('sleeper.mjs'),
        health_endpoint: `http://127.0.0.1:${port}/health`,
        health: { interval_seconds: 0.2, timeout_seconds: 0.3 },
        restart_policy: { max_retries: 0 },
      },
    },
  });
  // Before the fix the first probe came back after undici's 10 s connect timeout.
  const first = await h.waitFor(() => h.view('wedged').probe, 'the first probe of the wedged service', 5_000);
  assertCut(t, first, 300, 'the first probe');
  // After the 2 s start-up grace it is given up on (max_retries 0), for the timed out probes.
  const failed = await h.waitView('wedged', (v) => v.state === 'failed', 'wedged failed', 10_000);
  t.match(failed.reason, /timed out after 300 ms/);
  assertCut(t, failed.probe!, 300, 'the last probe');
});
