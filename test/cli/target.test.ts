/**
 * Where the CLI looks for its orchestrator, and the errors that need none.
 * Each command runs as a real child process (bin/orchestrator.js) against a real orchestrator
 * (test harness: worker thread, child processes, SQLite, uWS on a random port).
 */
import t from 'tap';
import { join } from 'node:path';
import { harness } from '../helpers/harness.js';
import { freePort } from '../helpers/process.mjs';
import { cli } from './run.js';

t.test('which orchestrator: --url, ORCHESTRATOR_URL, --config with ORCHESTRATOR_PORT', async (t) => {
  const h = await harness(t, { http: true });
  const u = ['--url', h.url];
  const url = await cli(t, ['url', ...u]);
  t.equal(url.stdout, `${h.url}\n`);
  const fromEnv = await cli(t, ['url'], { env: { ORCHESTRATOR_URL: `${h.url}/` } });
  t.equal(fromEnv.stdout, `${h.url}\n`, 'ORCHESTRATOR_URL is used (trailing slash dropped)');
  const fromConfig = await cli(t, ['url', '--config', join(h.dir, 'orchestrator.yaml')], { env: { ORCHESTRATOR_PORT: '4567' } });
  t.equal(fromConfig.stdout, 'http://127.0.0.1:4567\n', 'host and port come from the config file, with ORCHESTRATOR_PORT applied');
  const configWins = await cli(t, ['url', '--config', join(h.dir, 'orchestrator.yaml')], { env: { ORCHESTRATOR_PORT: '4567', ORCHESTRATOR_URL: 'http://elsewhere:1' } });
  t.equal(configWins.stdout, 'http://127.0.0.1:4567\n', 'an explicit --config beats ORCHESTRATOR_URL');
  const flagWins = await cli(t, ['url', '--url', 'http://127.0.0.1:9'], { env: { ORCHESTRATOR_URL: 'http://elsewhere:1' } });
  t.equal(flagWins.stdout, 'http://127.0.0.1:9\n', '--url beats everything');
  const viaConfig = await cli(t, ['list', '--json', '--config', join(h.dir, 'orchestrator.yaml')], { env: { ORCHESTRATOR_PORT: String(h.http!.port) } });
  t.equal(viaConfig.code, 0, 'a command finds the orchestrator through its config file');
});

t.test('unreachable orchestrator and usage errors: one line and a distinct exit code', async (t) => {
  const oneLine = (s: string) => s.trimEnd().split('\n').length === 1;
  const down = await freePort();
  for (const args of [['status'], ['list'], ['logs', 'x', '-f'], ['events', '-f']]) {
    const r = await cli(t, [...args, '--url', `http://127.0.0.1:${down}`]);
    t.equal(r.code, 3, `${args.join(' ')}: unreachable exits 3`);
    t.match(r.stderr, new RegExp(`^orchestrator: cannot reach the orchestrator at http://127\\.0\\.0\\.1:${down}: connection refused`));
    t.ok(oneLine(r.stderr), 'one line');
    t.equal(r.stdout, '');
  }

  const unknownVerb = await cli(t, ['frobnicate']);
  t.equal(unknownVerb.code, 2);
  const noId = await cli(t, ['show']);
  t.equal(noId.code, 2);
  t.match(noId.stderr, /^orchestrator show: missing ID\nusage: orchestrator show ID\n$/);
  const badFlag = await cli(t, ['list', '--bogus']);
  t.equal(badFlag.code, 2);
  const help = await cli(t, ['logs', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /^usage: orchestrator logs ID \[-f\]/);
});
