/**
 * A crash loop (/bin/false) is one message and one folded message with a count per window, not a
 * message per crash; Slack gets its incoming-webhook format; GET /api/alerts never shows a secret
 * or a URL's path, and neither do the events or the orchestrator's log.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startOrchestrator } from '../helpers/process.mjs';
import { allEvents, getJson, Receiver, signatureValid, until } from './lib.js';

const SECRET = 'hook-secret-1b7e4d0c';
const SLACK_PATH = '/services/T0001/B0002/slackSecretPathXyZ';

t.test('a crash storm becomes one message and one folded message with a count; Slack format; redaction', async (t) => {
  const rx = await Receiver.create();
  await rx.up('ok');
  t.teardown(() => rx.down());
  const slackUrl = `http://127.0.0.1:${rx.port}${SLACK_PATH}`;
  const config = {
    orchestrator: { name: 'storm-test' },
    recovery: { max_retries: 5, backoff_seconds: 0.05, max_backoff_seconds: 0.1 },
    alerts: [
      { name: 'slack', type: 'slack', url_env: 'TEST_SLACK_URL', on: ['crashed'], services: ['crash*'], min_interval_seconds: 4, backoff_seconds: 0.1 },
      { name: 'hook', type: 'webhook', url: `${rx.url}?token=querySecret42`, secret_env: 'TEST_HOOK_SECRET', on: ['exit:crashed', 'state:failed'], min_interval_seconds: 4, backoff_seconds: 0.1 },
      { name: 'other', type: 'webhook', url: rx.url, on: ['crashed'], services: ['web-?'] },
    ],
  };
  const o = await startOrchestrator({
    config, env: { TEST_SLACK_URL: slackUrl, TEST_HOOK_SECRET: SECRET },
    services: { crasher: { id: 'crasher', executable: '/bin/false' } },
  });
  t.teardown(() => o.stop());

  await until(async () => (await getJson(`${o.url}/api/services/crasher`)).state === 'failed', 'crasher to fail');
  const crashes = (await allEvents(o.url)).filter((e) => e.type === 'exit' && e.data.reason === 'crashed');
  t.equal(crashes.length, 6, 'six crashes (max_retries 5)');
  const bySink = (path: string) => rx.received.filter((r) => (r.headers['x-orchestrator-event'] && (r.headers['x-orchestrator-delivery'] as string)) && r.answered === 200 && (path === 'slack' ? r.body.startsWith('{"text"') : !r.body.startsWith('{"text"')));

  // Each sink: the first crash at once, the other five folded into one message when the window ends.
  const slack = await until(() => { const m = bySink('slack'); return m.length >= 2 && m; }, { what: 'the folded Slack message', timeoutMs: 15_000 });
  t.equal(slack.length, 2, 'two Slack messages for six crashes');
  const [first, folded] = slack.map((r) => JSON.parse(r.body));
  t.match(first.text, /^:rotating_light: \[storm-test\] crasher exited: crashed \(code 1\)$/, 'a readable line');
  t.match(folded.text, /crasher exited: crashed \(code 1\) \(5 times since /, 'the folded one says how many');
  for (const m of [first, folded]) {
    t.same(Object.keys(m).sort(), ['blocks', 'text'], 'Slack incoming-webhook shape: text and blocks');
    t.equal(m.blocks[0].type, 'section');
    t.equal(m.blocks[0].text.type, 'mrkdwn');
    t.ok(m.blocks.some((b: any) => b.type === 'context'), 'a context block naming the orchestrator');
  }
  t.ok(slack.every((r) => !r.headers['x-orchestrator-signature']), 'no signature without secret_env');

  // The webhook: exit:crashed folded the same way, state:failed is its own reason (one message).
  const hook = await until(() => {
    const m = bySink('hook').map((r) => ({ r, body: JSON.parse(r.body) }));
    return m.filter((x) => x.body.reason === 'crashed').length >= 2 && m.some((x) => x.body.reason === 'failed') && m;
  }, { what: 'the webhook messages', timeoutMs: 15_000 });
  const crashed = hook.filter((x) => x.body.reason === 'crashed');
  t.equal(crashed.length, 2, 'two webhook messages for six crashes');
  t.same(crashed.map((x) => x.body.count), [1, 5], 'counts 1, then 5');
  t.equal(crashed[1]!.body.event.seq, crashes.at(-1).seq, 'the folded message carries the latest crash');
  t.equal(crashed[1]!.body.first_at, crashes[1].at, 'and when the first folded one happened');
  t.equal(hook.filter((x) => x.body.reason === 'failed').length, 1, 'state:failed: one message');
  t.equal(hook.find((x) => x.body.reason === 'failed')!.body.event.data.to, 'failed');
  for (const x of hook) t.ok(signatureValid(SECRET, x.r.body, x.r.headers['x-orchestrator-signature']), 'signed');
  t.equal(rx.received.filter((r) => r.body.includes('"sink":"other"')).length, 0, 'a sink whose services globs do not match gets nothing');

  // GET /api/alerts: sinks with their URLs cut to scheme and host, deliveries with attempts.
  const view = await until(async () => { const v = await getJson(`${o.url}/api/alerts`); return v.pending === 0 && v; }, 'nothing pending');
  const sinks = Object.fromEntries(view.sinks.map((s: any) => [s.name, s]));
  t.equal(sinks.slack.url, `http://127.0.0.1:${rx.port}/…`, 'the Slack URL without its path');
  t.equal(sinks.slack.url_env, 'TEST_SLACK_URL');
  t.equal(sinks.hook.url, `http://127.0.0.1:${rx.port}/…`, 'a webhook URL without path and query');
  t.equal(sinks.hook.signed, true);
  t.equal(sinks.hook.secret_env, 'TEST_HOOK_SECRET');
  t.equal(sinks.hook.problem, null);
  t.same(sinks.other.services, ['web-?']);
  t.equal(view.deliveries.length, 5, 'five deliveries (2 Slack, 3 webhook)');
  for (const d of view.deliveries) {
    t.equal(d.status, 'delivered');
    t.equal(d.attempts.length, 1);
    t.equal(d.attempts[0].status, 200);
    t.equal(d.next_attempt_at, null);
  }
  t.same(view.deliveries.filter((d: any) => d.sink === 'slack').map((d: any) => d.count).sort(), [1, 5]);
  const filtered = await getJson(`${o.url}/api/alerts?sink=slack&limit=1`);
  t.equal(filtered.deliveries.length, 1, '?sink and ?limit');
  t.equal(filtered.deliveries[0].sink, 'slack');
  t.equal((await fetch(`${o.url}/api/alerts?sink=nope`)).status, 404, 'an unknown sink: 404');

  // Neither secret nor Slack path nor the query token anywhere an operator looks.
  const texts = [
    JSON.stringify(view), JSON.stringify(await allEvents(o.url)), await (await fetch(`${o.url}/health`)).text(),
    readFileSync(join(o.dir, 'logs', 'orchestrator.log'), 'utf8'), o.output(),
  ];
  for (const [i, text] of texts.entries()) {
    for (const secret of [SECRET, 'slackSecretPathXyZ', 'querySecret42']) t.notOk(text.includes(secret), `${secret} not in ${['GET /api/alerts', 'events', '/health', 'orchestrator.log', 'output'][i]}`);
  }
  t.match(texts[3], /"component":"alerts".*"sink":"slack".*"delivery":/, 'delivery logs carry sink and delivery bindings');
});
