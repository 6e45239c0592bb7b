/**
 * At-least-once delivery to a webhook that is down, then slow (past the per-attempt timeout), then
 * answering 500, across an orchestrator restart, then healthy: every alert arrives, signed, with
 * the same body and delivery id on every attempt; none is lost and no other messages come.
 */
import t from 'tap';
import { startOrchestrator, stopGracefully } from '../helpers/process.mjs';
import { allEvents, getJson, Receiver, signatureValid, until } from './lib.js';

const SECRET = 'test-secret-5f2a9c';

t.test('down → slow → 500 → restart → up: every alert arrives once signed, none lost', async (t) => {
  const rx = await Receiver.create();
  t.teardown(() => rx.down());
  const env = { ALERT_SECRET: SECRET };
  const config = {
    orchestrator: { name: 'orch-under-test' },
    recovery: { max_retries: 2, backoff_seconds: 0.05, max_backoff_seconds: 0.1 },
    alerts: [{
      name: 'hook', type: 'webhook', url: rx.url, secret_env: 'ALERT_SECRET', on: ['crashed'],
      min_interval_seconds: 0, timeout_seconds: 0.4, backoff_seconds: 0.1, max_backoff_seconds: 0.3, max_attempts: 1000,
    }],
  };
  let o = await startOrchestrator({ config, env, services: { crasher: { id: 'crasher', executable: '/bin/false' } } });
  const { dir, port } = o;
  t.teardown(async () => { await o.stop(); });

  // Down: the crash loop ends in failed; every crash has a delivery, each refused at least once.
  await until(async () => (await getJson(`${o.url}/api/services/crasher`)).state === 'failed', 'crasher to fail');
  const crashes = (await allEvents(o.url)).filter((e) => e.type === 'exit' && e.data.reason === 'crashed');
  t.equal(crashes.length, 3, 'three crashes (max_retries 2)');
  const refused = await until(async () => {
    const v = await getJson(`${o.url}/api/alerts`);
    return v.deliveries.length === 3 && v.deliveries.every((d: any) => d.attempts.some((a: any) => /ECONNREFUSED/.test(a.error))) && v;
  }, 'every delivery refused once');
  t.same(refused.deliveries.map((d: any) => d.event_seq).sort(), crashes.map((e) => e.seq).sort(), 'one delivery per crash event');
  t.ok(refused.deliveries.every((d: any) => d.status === 'pending' && d.next_attempt_at), 'still pending, with a next attempt time');

  // Slow: answers after the sink's timeout; the attempts time out and stay pending.
  await rx.up('slow');
  await until(async () => (await getJson(`${o.url}/api/alerts`)).deliveries.some((d: any) => d.attempts.some((a: any) => /timed out after 0.4s/.test(a.error ?? ''))), 'an attempt to time out');

  // 500: counted as a failure, status visible.
  rx.mode = 'fail';
  await until(async () => (await getJson(`${o.url}/api/alerts`)).deliveries.some((d: any) => d.attempts.some((a: any) => a.status === 500 && a.error === 'HTTP 500')), 'an attempt answered 500');
  const before = await getJson(`${o.url}/api/alerts`);
  t.ok(before.deliveries.some((d: any) => d.status === 'pending'), 'something is still pending at the restart');

  // Restart while the receiver fails; it recovers only after; pending rows resume.
  await stopGracefully(o.run);
  rx.mode = 'ok';
  o = await startOrchestrator({ dir, port, env });
  const ids = new Set<string>(before.deliveries.map((d: any) => d.id));
  await until(() => [...ids].every((id) => rx.delivered().has(id)), { what: 'every delivery to arrive', timeoutMs: 30_000 });
  // The crasher was never commanded, so the new orchestrator starts it again: its new crashes are
  // alerts too. Wait for it to fail again and for every crash's delivery to be marked delivered.
  await until(async () => (await getJson(`${o.url}/api/services/crasher`)).state === 'failed', 'crasher to fail again');
  const crashesNow = (await allEvents(o.url)).filter((e) => e.type === 'exit' && e.data.reason === 'crashed');
  const after = await until(async () => {
    const v = await getJson(`${o.url}/api/alerts`);
    const real = v.deliveries.filter((d: any) => !d.test);
    return real.length === crashesNow.length && real.every((d: any) => d.status === 'delivered') && v;
  }, { what: 'a delivery for every crash, each marked delivered', timeoutMs: 30_000 });

  // What arrived: exactly these delivery ids (at least once each), each id with one body, signed, and
  // the bodies are the crash events as the API presents them.
  const byId = new Map<string, string[]>();
  for (const r of rx.received) {
    const id = String(r.headers['x-orchestrator-delivery']);
    byId.set(id, [...(byId.get(id) ?? []), r.body]);
    t.ok(signatureValid(SECRET, r.body, r.headers['x-orchestrator-signature']), `request for ${id} is signed`);
    t.equal(r.headers['content-type'], 'application/json');
  }
  const expectedIds = new Set(after.deliveries.filter((d: any) => !d.test).map((d: any) => d.id));
  t.same([...byId.keys()].sort(), [...expectedIds].sort(), 'requests came for exactly the deliveries the outbox holds (none unknown)');
  t.equal(expectedIds.size, crashesNow.length, 'one delivery per crash, including any after the restart');
  const seen = new Set<number>();
  for (const [id, bodies] of byId) {
    t.equal(new Set(bodies).size, 1, `every attempt of ${id} sent the identical body (${bodies.length} attempts)`);
    const body = JSON.parse(bodies[0]!);
    t.equal(body.delivery_id, id);
    t.equal(body.sink, 'hook');
    t.equal(body.reason, 'crashed');
    t.equal(body.count, 1);
    t.equal(body.test, false);
    t.same(body.orchestrator, { name: 'orch-under-test', url: `http://127.0.0.1:${port}` }, 'names the orchestrator and its URL');
    const event = crashesNow.find((e) => e.seq === body.event.seq);
    t.same(body.event, event, 'the event as GET /api/events presents it');
    t.equal(body.service.id, 'crasher', 'the service as the API presents it');
    t.type(body.service.state, 'string');
    seen.add(body.event.seq);
  }
  t.same([...seen].sort(), crashesNow.map((e) => e.seq).sort(), 'every crash arrived: none lost');
  t.ok(rx.delivered().size === expectedIds.size, 'each delivered (2xx) at least once');
  const attempts = after.deliveries.filter((d: any) => ids.has(d.id)).map((d: any) => d.attempts.length);
  t.ok(attempts.every((n: number) => n >= 2), 'each retried across the outage');
});
