/**
 * Errors from a running orchestrator: wrong or missing key, unknown id, a lost -f connection.
 * Each command runs as a real child process (bin/orchestrator.js) against a real orchestrator
 * (test harness: worker thread, child processes, SQLite, uWS on a random port).
 */
import t from 'tap';
import { join } from 'node:path';
import { harness, node } from '../helpers/harness.js';
import { cli, startCli } from './run.js';

t.test('errors: one line and a distinct exit code', async (t) => {
  const h = await harness(t, {
    http: true,
    config: { api: { api_key: 'k', rate_limit: 0 } },
    services: { sleepy: { id: 'sleepy', executable: node('sleeper.mjs'), auto_start: false } },
  });
  const u = ['--url', h.url];

  const noKey = await cli(t, ['list', ...u]);
  t.equal(noKey.code, 4, 'no key: exit 4');
  t.match(noKey.stderr, /^orchestrator: unauthorized: this orchestrator needs an API key/);
  for (const args of [['list'], ['start', 'sleepy'], ['logs', 'sleepy', '-f'], ['events', '-f']]) {
    const wrong = await cli(t, [...args, '--api-key', 'wrong', ...u]);
    t.equal(wrong.code, 4, `${args.join(' ')}: wrong key exits 4`);
    t.equal(wrong.stderr, 'orchestrator: unauthorized: the API key was not accepted\n');
  }
  const envKey = await cli(t, ['list', ...u], { env: { ORCHESTRATOR_API_KEY: 'k' } });
  t.equal(envKey.code, 0, 'ORCHESTRATOR_API_KEY is used');
  const fromConfig = await cli(t, ['list', '--config', join(h.dir, 'orchestrator.yaml')], { env: { ORCHESTRATOR_PORT: String(h.http!.port) } });
  t.equal(fromConfig.code, 0, 'the key of the config file the address came from is used');
  const notToOthers = await cli(t, ['list', '--config', join(h.dir, 'orchestrator.yaml'), ...u]);
  t.equal(notToOthers.code, 4, 'but never sent to an address given by --url');
  const health = await cli(t, ['health', ...u]);
  t.equal(health.code, 0, 'health needs no key');
  const leading = await cli(t, ['--api-key=k', '--url', h.url, 'list', '--json']);
  t.equal(leading.code, 0, 'options may come before the command, as in `orchestrator --url U list`');
  t.equal(JSON.parse(leading.stdout).services[0].id, 'sleepy');

  const k = ['--api-key', 'k', ...u];
  for (const args of [['show', 'nope'], ['start', 'nope'], ['stop', 'nope'], ['restart', 'nope'], ['logs', 'nope'], ['logs', 'nope', '-f'], ['remove', 'nope']]) {
    const r = await cli(t, [...args, ...k]);
    t.equal(r.code, 5, `${args.join(' ')}: unknown id exits 5`);
    t.equal(r.stderr, 'orchestrator: service "nope" not found\n');
  }

  // A follow whose orchestrator goes away ends with "unreachable", not a hang.
  const f = startCli(t, ['events', '-f', ...k]);
  await f.waitOutput(/orchestrator_started/);
  await h.shutdown();
  const end = await f.exited;
  t.equal(end.code, 3, 'a lost connection ends -f with exit 3');
  t.match(end.stderr, /^orchestrator: connection to the orchestrator at \S+ lost/);
});
