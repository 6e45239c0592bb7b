/**
 * The /ws feed over real WebSocket connections: topics, live logs, malformed client messages, and
 * a client that stops reading being closed with 1013 while others carry on.
 */
import t from 'tap';
import { harness, node } from '../helpers/harness.js';
import { freePort, until } from '../helpers/process.mjs';
import { RawWs, req, WsClient } from './lib.js';
import { flood, seqsOf, withFeed } from './ws-lib.js';

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
