/**
 * Alert config errors name file:line and the field (and `serve` refuses them, exit 2); an unset
 * url_env is a problem shown at start (/health, GET /api/alerts) and in each attempt; `orchestrator
 * alerts test NAME` says whether the test message arrived or why not; an unknown sink is a 404.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, formatProblem, loadOrchestratorConfig } from '../../src/config/load.js';
import { runBin, startOrchestrator } from '../helpers/process.mjs';
import { getJson, Receiver, until } from './lib.js';

function problemsOf(t: Test, yaml: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'alerts-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'orchestrator.yaml');
  writeFileSync(file, yaml);
  try {
    loadOrchestratorConfig(file, {});
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => formatProblem({ ...p, file: p.file && 'orchestrator.yaml' }));
    throw e;
  }
  return [];
}

t.test('config: defaults, and bad alert sinks are file:line errors', async (t) => {
  const c = loadOrchestratorConfig(undefined, {});
  t.equal(c.orchestrator.name, hostname(), 'orchestrator.name defaults to the host name');
  t.same(c.alerts, [], 'no sinks by default');
  const dir = mkdtempSync(join(tmpdir(), 'alerts-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'o.yaml'), 'alerts:\n  - name: a\n    type: slack\n    url_env: SLACK_URL\n    on: [crashed]\n');
  t.same(loadOrchestratorConfig(join(dir, 'o.yaml'), {}).alerts, [{
    name: 'a', type: 'slack', url_env: 'SLACK_URL', on: ['crashed'],
    min_interval_seconds: 60, timeout_seconds: 10, backoff_seconds: 5, max_backoff_seconds: 600, max_attempts: 12,
  }], 'sink defaults');

  t.same(problemsOf(t, [
    'alerts:',
    '  - name: a',
    '    type: webhook',
    '    url: http://127.0.0.1:1/x',
    '    on: [crashed]',
    '  - name: a',
    '    type: slack',
    '    url: http://127.0.0.1:1/y',
    '    on: [failed]',
  ].join('\n')), ['orchestrator.yaml:6:5 alerts[1].name: duplicate alert sink name "a", already used by alerts[0] (line 2)']);
  t.same(problemsOf(t, 'alerts:\n  - name: a\n    type: webhook\n    url: http://x/\n    url_env: X\n    on: [exit]\n'),
    ['orchestrator.yaml:2:5 alerts[0]: give exactly one of url and url_env']);
  t.same(problemsOf(t, 'alerts:\n  - name: a\n    type: webhook\n    on: [exit]\n'),
    ['orchestrator.yaml:2:5 alerts[0]: give exactly one of url and url_env'], 'neither');
  t.same(problemsOf(t, 'alerts:\n  - name: a\n    type: email\n    url: ftp://x\n    on: []\n    min_interval_seconds: -1\n    colour: red\n'), [
    'orchestrator.yaml:3:5 alerts[0].type: expected one of webhook, slack, got "email"',
    'orchestrator.yaml:4:5 alerts[0].url: expected an http:// or https:// URL, got "ftp://x"',
    'orchestrator.yaml:5:5 alerts[0].on: expected at least one event type or reason',
    'orchestrator.yaml:6:5 alerts[0].min_interval_seconds: expected a non-negative number of seconds, got -1',
    'orchestrator.yaml:7:5 alerts[0].colour: unknown key "colour"',
  ]);
  t.same(problemsOf(t, 'alerts:\n  - name: a\n    type: webhook\n    url_env: 1BAD\n    secret_env: "x y"\n    on: [exit]\n'), [
    'orchestrator.yaml:4:5 alerts[0].url_env: expected an environment variable name, got "1BAD"',
    'orchestrator.yaml:5:5 alerts[0].secret_env: expected an environment variable name, got "x y"',
  ]);

  // serve refuses it: exit 2, the same line on stderr.
  writeFileSync(join(dir, 'bad.yaml'), 'alerts:\n  - name: a\n    type: pager\n    url: http://x/\n    on: [exit]\n');
  const run = runBin(['serve', '--config', join(dir, 'bad.yaml')]);
  const { code } = await run.exit;
  t.equal(code, 2, 'exit 2: bad configuration');
  t.match(run.stderr(), /bad\.yaml:3:5 alerts\[0\]\.type: expected one of webhook, slack, got "pager"/);
});

t.test('alerts test NAME: delivered, or why not; unknown sink 404; unset url_env is a problem', async (t) => {
  const rx = await Receiver.create();
  await rx.up('ok');
  t.teardown(() => rx.down());
  const o = await startOrchestrator({
    config: {
      orchestrator: { name: 'cli-test' },
      alerts: [
        { name: 'hook', type: 'webhook', url: rx.url, on: ['crashed'], backoff_seconds: 0.2, max_attempts: 2 },
        { name: 'unset', type: 'slack', url_env: 'ALERTS_TEST_NEVER_SET', on: ['crashed'], backoff_seconds: 0.1, max_attempts: 2 },
      ],
    },
    env: { ALERTS_TEST_NEVER_SET: undefined },
  });
  t.teardown(() => o.stop());
  const cli = async (...args: string[]) => {
    const r = runBin(['alerts', ...args, '--url', o.url]);
    const { code } = await r.exit;
    return { code, out: r.stdout(), err: r.stderr() };
  };

  const ok = await cli('test', 'hook');
  t.equal(ok.code, 0, ok.err);
  t.match(ok.out, /^delivered to hook: HTTP 200 in \d+ ms \(delivery [0-9a-f-]{36}\)\n$/);
  const body = JSON.parse(rx.received.at(-1)!.body);
  t.equal(body.test, true);
  t.equal(body.event.type, 'alert_test');
  t.equal(body.service, null);
  t.equal(body.orchestrator.name, 'cli-test');
  t.equal(rx.received.at(-1)!.headers['x-orchestrator-delivery'], body.delivery_id);

  rx.mode = 'fail';
  const failed = await cli('test', 'hook');
  t.equal(failed.code, 1);
  t.match(failed.err, /not delivered to hook: attempt 1 failed: HTTP 500; retrying at \d\d:\d\d:\d\d/);

  const unset = await cli('test', 'unset');
  t.equal(unset.code, 1);
  t.match(unset.err, /not delivered to unset: attempt [12] failed: environment variable ALERTS_TEST_NEVER_SET \(alerts\[1\]\.url_env\) is not set/);

  const unknown = await cli('test', 'nope');
  t.equal(unknown.code, 5, 'exit 5: not found');
  t.match(unknown.err, /alert sink "nope" not found/);
  const res = await fetch(`${o.url}/api/alerts/nope/test`, { method: 'POST', headers: { 'content-type': 'application/json' } });
  t.equal(res.status, 404);
  t.same(await res.json(), { error: { code: 'not_found', message: 'alert sink "nope" not found' } }, '404 JSON error');
  const accepted = await fetch(`${o.url}/api/alerts/hook/test`, { method: 'POST', headers: { 'content-type': 'application/json' } });
  t.equal(accepted.status, 202);
  t.equal((await accepted.json()).delivery.status, 'pending');

  // The unset variable: a problem in /health and on the sink; the give-up is an event.
  const health = await (await fetch(`${o.url}/health`)).json();
  t.equal(health.status, 'degraded');
  t.ok(health.problems.some((p: string) => /alert sink unset: environment variable ALERTS_TEST_NEVER_SET/.test(p)), 'named in /health');
  const view = await getJson(`${o.url}/api/alerts`);
  t.match(view.sinks.find((s: any) => s.name === 'unset').problem, /ALERTS_TEST_NEVER_SET .* is not set/);
  t.equal(view.sinks.find((s: any) => s.name === 'unset').url, null);
  const gaveUp = await until(async () => (await getJson(`${o.url}/api/events?limit=1000`)).events.find((e: any) => e.type === 'alert_gave_up' && e.data.sink === 'unset'), 'the give-up event');
  t.match(gaveUp.data, { sink: 'unset', attempts: 2, event_type: 'alert_test', last_error: /is not set/ });

  const list = await cli();
  t.equal(list.code, 0);
  t.match(list.out, /SINK\s+TYPE\s+URL/);
  t.match(list.out, /unset\s+slack\s+\$ALERTS_TEST_NEVER_SET/);
});
