/**
 * The /ws feed over real WebSocket connections: hello → snapshot → live, resume with ?since
 * (no gap, no duplicate, while events keep coming), topics, live logs, malformed client
 * messages, and a client that stops reading being closed with 1013 while others carry on.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { harness, node, PUBLIC_DIR, type Harness } from '../helpers/harness.js';
import { freePort, until } from '../helpers/process.mjs';
import { listen, type HttpHandle } from '../../src/http/index.js';
import type { FeedOptions } from '../../src/http/ws.js';
import { RawWs, req, WsClient, type Msg } from './lib.js';

const flood = fileURLToPath(new URL('./fixtures/flood.mjs', import.meta.url));

/** A harness whose HTTP side is started here, with feed options the default listen does not take. */
async function withFeed(t: Tap, opts: Parameters<typeof harness>[1], feed: FeedOptions): Promise<{ h: Harness; http: HttpHandle; url: string }> {
  const h = await harness(t, { ...opts, http: false });
  const http = await listen(h.o.ports, h.o.log.logger, { publicDir: PUBLIC_DIR, feed });
  t.teardown(() => http.close());
  return { h, http, url: `http://127.0.0.1:${http.port}` };
}
type Tap = Parameters<typeof harness>[0];

const seqsOf = (msgs: Msg[]) => msgs.filter((m) => m.type === 'event').map((m) => m.event.seq as number);
const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/** A crash loop that produces a steady stream of events without anyone driving it. */
const churn = {
  id: 'churn', executable: 'false',
  restart_policy: { max_retries: 1_000_000, backoff_seconds: 0.01, max_backoff_seconds: 0.03, reset_after_seconds: 3600 },
};
const noIntensityLimit = { supervision: { intensity: 1_000_000, period_seconds: 1 } };

t.test('on connect: hello, snapshot, then live events and service updates', async (t) => {
  const h = await harness(t, { http: true, services: { a: { id: 'a', executable: node('sleeper.mjs'), auto_start: false } } });
  const c = await WsClient.open(h.url);
  t.teardown(() => c.close());
  const hello = await c.next(() => true, 'first message');
  t.equal(hello.type, 'hello', 'hello first');
  t.equal(hello.seq, h.o.registry.events.lastSeq(), 'hello carries the newest seq');
  t.type(hello.version, 'string');
  const snap = await c.next(() => true, 'second message');
  t.equal(snap.type, 'snapshot', 'then the snapshot');
  t.equal(snap.seq, hello.seq);
  t.same(snap.services.map((s: any) => [s.id, s.state]), [['a', 'stopped']]);

  await req(h.url, '/api/services/a/start', { method: 'PUT' });
  const running = await c.next((m) => m.type === 'event' && m.event.type === 'state' && m.event.data.to === 'running', 'state event to running');
  t.equal(running.event.service, 'a');
  // (a `ready` event may follow in the same batch: a service without probes is ready once running)
  const seqs = seqsOf(c.messages);
  t.same(seqs.filter((n) => n <= running.event.seq), range(hello.seq + 1, running.event.seq), 'live events numbered right after the snapshot');
  t.same(seqs, range(hello.seq + 1, seqs[seqs.length - 1]!), 'with no gap after it either');
  const update = await c.next((m) => m.type === 'services' && m.services.some((s: any) => s.id === 'a' && s.state === 'running'), 'service update');
  t.ok(update.services.find((s: any) => s.id === 'a').pid > 0, 'updates carry the presented service');
});

t.test('resume with ?since: no gap and no duplicate while events keep coming', async (t) => {
  const h = await harness(t, { http: true, config: noIntensityLimit, services: { churn } });
  await h.waitFor(() => h.o.registry.events.lastSeq() > 30 || undefined, 'the crash loop to produce events');
  const received: number[] = [];
  let since: number | null = null;
  for (let round = 0; round < 6; round++) {
    const c = await WsClient.open(h.url, since === null ? '/ws' : `/ws?since=${since}`);
    const hello = await c.next((m) => m.type === 'hello', 'hello');
    const snap = await c.next((m) => m.type === 'snapshot', 'snapshot');
    const beforeSnap = c.messages.slice(0, c.messages.indexOf(snap));
    const replayed = seqsOf(beforeSnap);
    if (since === null) t.same(replayed, [], 'a fresh client gets no replay');
    else t.same(replayed, range(since + 1, hello.seq), `round ${round}: replay is exactly since+1..hello.seq (${since + 1}..${hello.seq})`);
    t.equal(snap.seq, hello.seq);
    await c.until((all) => seqsOf(all).length >= replayed.length + 15, 'live events after the snapshot');
    await c.close();
    const mine = seqsOf(c.messages);
    received.push(...mine);
    since = mine[mine.length - 1]!;
    // Every other round, stay away until enough was missed; otherwise reconnect at once.
    if (round % 2 === 0) {
      const target = since + 25;
      await h.waitFor(() => h.o.registry.events.lastSeq() >= target || undefined, 'events while disconnected');
    }
  }
  t.ok(received.length > 100, `received ${received.length} events over 6 connections`);
  t.same(received, range(received[0]!, received[received.length - 1]!), 'the seqs seen across reconnects are exactly contiguous');
  const stored = h.o.registry.events.after(received[0]! - 1, received.length).map((e) => e.seq);
  t.same(received, stored, 'and they are the registry\'s events');
});

t.test('resume of one service\'s topic replays only its events', async (t) => {
  const h = await harness(t, {
    http: true, config: noIntensityLimit,
    services: { churn, quiet: { id: 'quiet', executable: node('sleeper.mjs'), auto_start: false } },
  });
  await h.waitFor(() => h.o.registry.events.lastSeq() > 10 || undefined, 'events');
  const since = h.o.registry.events.lastSeq();
  await req(h.url, '/api/services/quiet/start', { method: 'PUT' });
  await h.waitView('quiet', (v) => v.state === 'running');
  await h.waitFor(() => h.o.registry.events.lastSeq() > since + 20 || undefined, 'more events');
  const c = await WsClient.open(h.url, `/ws?since=${since}&topics=service/quiet`);
  t.teardown(() => c.close());
  const snap = await c.next((m) => m.type === 'snapshot', 'snapshot');
  const replay = c.messages.slice(0, c.messages.indexOf(snap)).filter((m) => m.type === 'event');
  const expected = h.o.registry.events.after(since, 10_000, 'quiet').filter((e) => e.seq <= snap.seq).map((e) => e.seq);
  t.ok(expected.length >= 2, 'quiet had events to replay');
  t.same(replay.map((m) => m.event.seq), expected, 'exactly quiet\'s missed events');
  await req(h.url, '/api/services/quiet/stop', { method: 'PUT' });
  const stopped = await c.next((m) => m.type === 'event' && m.event.data.to === 'stopped', 'live quiet event');
  t.equal(stopped.event.service, 'quiet');
  t.ok(c.messages.filter((m) => m.type === 'event').every((m) => m.event.service === 'quiet'), 'nothing of churn');
});

t.test('a resume too far behind, or ahead of the registry, is told to start over', async (t) => {
  const { h, url } = await withFeed(t, { config: noIntensityLimit, services: { churn } }, { maxReplay: 5 });
  await h.waitFor(() => h.o.registry.events.lastSeq() > 20 || undefined, 'events');
  const behind = await WsClient.open(url, '/ws?since=1');
  t.teardown(() => behind.close());
  await behind.next((m) => m.type === 'hello');
  const reset = await behind.next(() => true, 'message after hello');
  t.equal(reset.type, 'reset', 'too far behind: reset');
  t.match(reset.reason, /more than 5 events behind/);
  t.equal((await behind.next(() => true)).type, 'snapshot', 'then the snapshot');

  const ahead = await WsClient.open(url, '/ws?since=999999999');
  t.teardown(() => ahead.close());
  const hello = await ahead.next((m) => m.type === 'hello');
  const next = await ahead.next(() => true, 'message after hello');
  t.equal(next.type, 'reset', 'since ahead of the newest event (another registry): reset');
  t.equal(next.seq, hello.seq);
  t.equal((await ahead.next(() => true)).type, 'snapshot');

  // Events no longer kept (history retention): a reset, never a silent gap. churn is stopped first,
  // so no new events push the resume past maxReplay (which would be the other reset) meanwhile.
  await h.o.fleet.command('churn', 'stop');
  await h.waitView('churn', (v) => v.state === 'stopped', 'churn stopped');
  const cut = h.o.registry.events.lastSeq() - 2;
  h.o.registry.db.prepare('DELETE FROM events WHERE seq <= ?').run(cut);
  const pruned = await WsClient.open(url, `/ws?since=${cut - 1}`);
  t.teardown(() => pruned.close());
  await pruned.next((m) => m.type === 'hello');
  const gone = await pruned.next(() => true, 'message after hello');
  t.equal(gone.type, 'reset', 'missed events were pruned: reset');
  t.match(gone.reason, /no longer kept/);
  t.equal((await pruned.next(() => true)).type, 'snapshot');
});

t.test('health results and resource samples reach clients as throttled, batched service updates', async (t) => {
  const port = await freePort();
  const h = await harness(t, {
    http: true,
    config: { monitoring: { interval: 0.05, timeout: 1, enabled: true, sample_interval: 0.05 } },
    services: { web: { id: 'web', executable: node('healthy.mjs'), health_endpoint: `http://127.0.0.1:${port}/health`, environment: { PORT: port } } },
  });
  await h.waitView('web', (v) => v.health === 'healthy' && !!v.usage, 'web healthy and sampled');
  const c = await WsClient.open(h.url);
  t.teardown(() => c.close());
  await c.next((m) => m.type === 'snapshot');
  const from = c.messages.length;
  const updates = () => c.messages.slice(from).filter((m) => m.type === 'services' && m.services.some((s: any) => s.id === 'web'));
  await c.until(() => updates().length >= 2, '2 updates of web', 20_000);
  const u = updates();
  const last = u[u.length - 1]!.services.find((s: any) => s.id === 'web');
  t.type(last.usage.cpu_percent, 'number', 'resource sample in the update');
  t.ok(last.usage.rss_bytes > 0);
  t.equal(last.health_check.last.ok, true, 'last health result in the update');
  t.type(last.health_check.last.latency_ms, 'number');
  // Probes and samples run every 50 ms; a service whose state does not change is re-sent every 5 s.
  const times = c.times.slice(from).filter((_, i) => { const m = c.messages[from + i]!; return m.type === 'services' && m.services.some((s: any) => s.id === 'web'); });
  const gap = times[1]! - times[0]!;
  t.ok(gap >= 4000, `routine updates are throttled (${Math.round(gap)} ms apart, probes every 50 ms)`);
});

t.test('subscribe and unsubscribe topics', async (t) => {
  const h = await harness(t, {
    http: true,
    services: {
      a: { id: 'a', executable: node('sleeper.mjs'), auto_start: false },
      b: { id: 'b', executable: node('sleeper.mjs'), auto_start: false },
    },
  });
  const c = await WsClient.open(h.url, '/ws?topics=service/a');
  t.teardown(() => c.close());
  await c.next((m) => m.type === 'snapshot');

  // Events are delivered in seq order, so a later event of "a" proves no earlier "b" event came.
  await req(h.url, '/api/services/b/start', { method: 'PUT' });
  await h.waitView('b', (v) => v.state === 'running');
  await req(h.url, '/api/services/a/start', { method: 'PUT' });
  await c.next((m) => m.type === 'event' && m.event.service === 'a' && m.event.data.to === 'running', 'a running');
  t.ok(c.events().length > 0 && c.events().every((m) => m.event.service === 'a'), 'service/a: only a\'s events');
  t.ok(c.messages.filter((m) => m.type === 'services').every((m) => m.services.every((s: any) => s.id === 'a')), 'and only a\'s updates');

  c.send({ type: 'subscribe', topics: ['services'] });
  const sub = await c.next((m) => m.type === 'subscribed', 'subscribed');
  t.same(sub.topics, ['services'], '"services" replaces the narrower service/a (no double delivery)');
  await req(h.url, '/api/services/b/stop', { method: 'PUT' });
  const bStop = await c.next((m) => m.type === 'event' && m.event.service === 'b' && m.event.data.to === 'stopped', 'b event via services');
  t.ok(bStop);
  await req(h.url, '/api/services/a/stop', { method: 'PUT' });
  const aStop = await c.next((m) => m.type === 'event' && m.event.service === 'a' && m.event.data.to === 'stopped', 'a event via services');
  const seqs = seqsOf(c.messages);
  t.equal(new Set(seqs).size, seqs.length, 'no event delivered twice');

  c.send({ type: 'unsubscribe', topics: ['services'] });
  t.same((await c.next((m) => m.type === 'subscribed')).topics, [], 'nothing subscribed');
  const count = c.events().length;
  await req(h.url, '/api/services/a/start', { method: 'PUT' });
  await h.waitView('a', (v) => v.state === 'running');
  await c.roundTrip(); // the pong comes after anything published before it
  t.equal(c.events().length, count, 'no events after unsubscribing');
  t.ok(aStop.event.seq > bStop.event.seq);

  c.send({ type: 'subscribe', topics: ['service/b', 'logs/b'] });
  t.same((await c.next((m) => m.type === 'subscribed')).topics.sort(), ['logs/b', 'service/b']);
});

t.test('logs/<id>: live lines a service prints', async (t) => {
  const port = await freePort();
  const h = await harness(t, {
    http: true,
    services: { talker: { id: 'talker', executable: node('healthy.mjs'), environment: { PORT: port }, auto_start: false } },
  });
  const c = await WsClient.open(h.url);
  t.teardown(() => c.close());
  c.send({ type: 'subscribe', topics: ['logs/talker'] });
  t.same((await c.next((m) => m.type === 'subscribed')).topics.sort(), ['logs/talker', 'services']);
  await req(h.url, '/api/services/talker/start', { method: 'PUT' });
  const pid = (await h.waitView('talker', (v) => v.state === 'running')).pid;
  const out = await c.next((m) => m.type === 'log' && m.stream === 'stdout' && m.lines.some((l: string) => l === `booting pid ${pid}`), 'stdout line');
  t.equal(out.service, 'talker');
  const err = await c.until((all) => all.some((m) => m.type === 'log' && m.stream === 'stderr' && m.lines.includes('a line on stderr')), 'stderr line');
  t.equal(err, undefined, 'stderr lines too');
  const other = await WsClient.open(h.url, '/ws?topics=services');
  t.teardown(() => other.close());
  await other.next((m) => m.type === 'snapshot');
  await req(h.url, '/api/services/talker/stop', { method: 'PUT' });
  await c.next((m) => m.type === 'log' && m.lines.includes('shutting down gracefully'), 'line printed on SIGTERM');
  await other.roundTrip();
  t.notOk(other.messages.some((m) => m.type === 'log'), 'a client that did not subscribe gets no log lines');
});

t.test('malformed client messages get an error; the connection stays usable', async (t) => {
  const h = await harness(t, { http: true });
  const c = await WsClient.open(h.url);
  t.teardown(() => c.close());
  await c.next((m) => m.type === 'snapshot');
  const cases: Array<[string, unknown, string]> = [
    ['not JSON', 'hello there', 'bad_message'],
    ['truncated JSON', '{"type": "subscribe", ', 'bad_message'],
    ['a number', '42', 'bad_message'],
    ['null', 'null', 'bad_message'],
    ['a string', '"subscribe"', 'bad_message'],
    ['an array', '[1,2]', 'bad_message'],
    ['no type', {}, 'bad_message'],
    ['unknown type', { type: 'launch_missiles' }, 'bad_message'],
    ['subscribe without topics', { type: 'subscribe' }, 'bad_topic'],
    ['empty topics', { type: 'subscribe', topics: [] }, 'bad_topic'],
    ['topics not a list', { type: 'subscribe', topics: 'services' }, 'bad_topic'],
    ['unknown topic', { type: 'subscribe', topics: ['everything'] }, 'bad_topic'],
    ['traversal in a topic', { type: 'subscribe', topics: ['logs/../../etc/passwd'] }, 'bad_topic'],
    ['bad id in a topic', { type: 'unsubscribe', topics: ['service/.hidden'] }, 'bad_topic'],
    ['non-string topic', { type: 'subscribe', topics: [42] }, 'bad_topic'],
  ];
  for (const [what, msg, code] of cases) {
    c.send(msg);
    const err = await c.next((m) => m.type === 'error' || m.type === 'subscribed', what);
    t.equal(err.type, 'error', `${what}: an error message`);
    t.equal(err.code, code, `${what}: code ${code}`);
    t.type(err.message, 'string');
  }
  c.ws.send(new Uint8Array([0xff, 0x00, 0x7b]));
  t.equal((await c.next((m) => m.type === 'error', 'binary')).code, 'bad_message', 'binary garbage');
  const pong = await c.roundTrip();
  t.type(pong.seq, 'number', 'still served after all that');
  c.send({ type: 'subscribe', topics: ['service/x'] });
  t.equal((await c.next((m) => m.type === 'subscribed' || m.type === 'error')).type, 'subscribed', 'valid requests still work');
  t.equal(c.closed, null, 'never dropped');

  // A message over the payload limit (16 KB) closes that one connection; others are unaffected.
  const big = await WsClient.open(h.url);
  await big.next((m) => m.type === 'snapshot');
  big.send('x'.repeat(64 * 1024));
  await until(() => big.closed, 'oversize message to close the connection');
  // uWS drops such a connection at once (no close frame: 1006) rather than reading the rest of it.
  t.ok([1006, 1009].includes(big.closed!.code), `closed by the server (${big.closed!.code})`);
  t.equal((await c.roundTrip()).type, 'pong', 'the other client is still served');
});

t.test('backpressure: a client that stops reading is closed with 1013; others keep receiving', async (t) => {
  const limit = 256 * 1024;
  const { h, http, url } = await withFeed(t, {
    services: { flood: { id: 'flood', executable: `${process.execPath} ${flood}`, environment: { KB_PER_TICK: 48, TICK_MS: 10 }, auto_start: false } },
  }, { maxBufferedBytes: limit });
  const port = Number(new URL(url).port);
  const good = await WsClient.open(url, '/ws?topics=services,logs/flood');
  t.teardown(() => good.close());
  await good.next((m) => m.type === 'snapshot');
  const slow = await RawWs.open(port, '/ws?topics=services,logs/flood');
  t.teardown(() => slow.destroy());
  await slow.waitFor(() => slow.frames.length >= 2, 'hello and snapshot on the raw socket');
  slow.pause();
  t.equal(http.feed.clientCount, 2);

  await req(url, '/api/services/flood/start', { method: 'PUT' });
  await good.next((m) => m.type === 'log' && m.service === 'flood', 'the good client gets flood lines');
  await until(() => http.feed.clientCount === 1, { what: 'the slow client to be dropped', timeoutMs: 30_000 });
  const linesAtDrop = good.messages.filter((m) => m.type === 'log').length;

  // Now read what the server had queued: it ends with a close frame saying why.
  slow.resume();
  const close = await slow.waitFor(() => slow.closeFrame(), 'the close frame', 30_000);
  t.equal(close.code, 1013, 'close code 1013 (try again later)');
  t.match(close.reason, /too slow/, `reason: ${close.reason}`);
  t.match(close.reason, /since/, 'and how to resume');

  await good.until((all) => all.filter((m) => m.type === 'log').length > linesAtDrop + 5, 'more lines for the good client after the drop');
  await req(url, '/api/services/flood/stop', { method: 'PUT' });
  await good.next((m) => m.type === 'event' && m.event.service === 'flood' && m.event.data.to === 'stopped', 'the good client sees the stop');
  t.equal(good.closed, null, 'the good client was never closed');
  t.equal((await good.roundTrip()).type, 'pong');
  await h.waitView('flood', (v) => v.state === 'stopped', 'flood stopped');
});
