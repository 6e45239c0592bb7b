/**
 * events [--service] [--since] [--json], and -f until Ctrl-C.
 * Each command runs as a real child process (bin/orchestrator.js) against a real orchestrator
 * (test harness: worker thread, child processes, SQLite, uWS on a random port).
 */
import t from 'tap';
import { harness, node } from '../helpers/harness.js';
import { cli, startCli } from './run.js';

t.test('events: history, --service, --since, json; -f follows live until SIGINT', async (t) => {
  const h = await harness(t, {
    http: true,
    services: { sleepy: { id: 'sleepy', executable: node('sleeper.mjs'), auto_start: false } },
  });
  const u = ['--url', h.url];
  const hist = await cli(t, ['events', ...u]);
  t.equal(hist.code, 0);
  t.match(hist.stdout, /#\d+\s+-\s+orchestrator_started/, 'history shows orchestrator events');

  const f = startCli(t, ['events', '-f', '-n', '1', ...u]);
  await f.waitOutput(/#\d+/);
  await fetch(`${h.url}/api/services/sleepy/start`, { method: 'PUT' });
  await f.waitOutput(/sleepy\s+state\s+from=starting to=running/);
  f.child.kill('SIGINT');
  const end = await f.exited;
  t.equal(end.code, 0, 'SIGINT ends events -f with exit 0');
  const seqs = [...end.stdout.matchAll(/#(\d+)/g)].map((m) => Number(m[1]));
  t.same(seqs, [...seqs].sort((a, b) => a - b), 'in order');
  t.equal(new Set(seqs).size, seqs.length, 'no event twice');

  const svc = await cli(t, ['events', '--service', 'sleepy', ...u]);
  t.match(svc.stdout, /sleepy\s+state/);
  t.notMatch(svc.stdout, /orchestrator_started/, '--service shows only that service');
  const since = seqs[seqs.length - 1]! - 1;
  const after = (await cli(t, ['events', '--since', String(since), '--json', ...u])).stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { seq: number });
  t.ok(after.length >= 1 && after.every((e) => e.seq > since), '--since SEQ gives events after SEQ, as JSON lines');
});
