/**
 * logs ID [--stream] [--lines] [--json], and -f until Ctrl-C.
 * Each command runs as a real child process (bin/orchestrator.js) against a real orchestrator
 * (test harness: worker thread, child processes, SQLite, uWS on a random port).
 */
import t from 'tap';
import { harness, node } from '../helpers/harness.js';
import { freePort } from '../helpers/process.mjs';
import { cli, startCli } from './run.js';

t.test('logs: tail, streams, line count, json; -f follows until SIGINT and exits 0', async (t) => {
  const port = await freePort();
  const h = await harness(t, {
    http: true,
    services: { web: { id: 'web', executable: node('healthy.mjs'), health_endpoint: `http://127.0.0.1:${port}/health`, environment: { PORT: port } } },
  });
  const first = await h.waitView('web', (v) => v.health === 'healthy', 'web healthy');
  const u = ['--url', h.url];

  const both = await cli(t, ['logs', 'web', ...u]);
  t.equal(both.code, 0);
  t.match(both.stdout, new RegExp(`out\\| booting pid ${first.pid}\\n`), 'stdout lines tagged');
  t.match(both.stdout, /err\| a line on stderr\n/, 'stderr lines tagged');

  const stderrOnly = await cli(t, ['logs', 'web', '--stream', 'stderr', ...u]);
  t.equal(stderrOnly.stdout, 'a line on stderr\n', 'one stream: untagged lines of that stream only');
  const one = await cli(t, ['logs', 'web', '--stream', 'stdout', '--lines', '1', ...u]);
  t.equal(one.stdout.trimEnd().split('\n').length, 1, '--lines 1');
  t.match(one.stdout, /listening on \d+/, 'the last line');
  const json = (await cli(t, ['logs', 'web', '--json', ...u])).stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { stream: string; line: string });
  t.ok(json.some((l) => l.stream === 'stderr' && l.line === 'a line on stderr'), '--json gives {stream, line}');
  const bad = await cli(t, ['logs', 'web', '--stream', 'both!', ...u]);
  t.equal(bad.code, 2, 'a bad --stream is a usage error');

  const f = startCli(t, ['logs', 'web', '-f', '--stream', 'stdout', ...u]);
  await f.waitOutput(new RegExp(`booting pid ${first.pid}\\n`));
  // New output only arrives live: restart the service and wait for its new first line.
  await fetch(`${h.url}/api/services/web/restart`, { method: 'PUT' });
  const second = await h.waitView('web', (v) => v.state === 'running' && v.pid !== first.pid && v.health === 'healthy', 'restarted');
  await f.waitOutput(new RegExp(`booting pid ${second.pid}\\n`));
  t.equal(f.stdout.split(`booting pid ${second.pid}`).length, 2, 'each live line printed once');
  t.notMatch(f.stdout, /a line on stderr/, '--stream stdout holds for live lines too');
  f.child.kill('SIGINT');
  const end = await f.exited;
  t.equal(end.code, 0, 'Ctrl-C ends -f with exit 0');
  t.equal(end.signal, null, 'by exiting, not by dying of the signal');
  t.equal(end.stderr, '', 'quietly');
});
