/**
 * The /ws feed over real WebSocket connections: hello → snapshot → live, resume with ?since
 * (no gap, no duplicate, while events keep coming), and batched service updates. Topics, live
 * logs, malformed messages and backpressure are in ws-topics.test.ts.
 */
import t from 'tap';
import { harness, node } from '../helpers/harness.js';
import { freePort, until } from '../helpers/process.mjs';
import { req, WsClient } from './lib.js';
import { churn, noIntensityLimit, range, seqsOf, withFeed } from './ws-lib.js';

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
