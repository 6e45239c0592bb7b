/** Resource sampling of process trees: one /proc scan serves a few rounds, and is renewed when it must be. */
import t from 'tap';
import { spawn } from 'node:child_process';
import { groupMembers } from '../../src/os/proc.js';
import { sampleTrees, TREE_MAX_AGE_MS } from '../../src/os/sampler.js';
import { until } from '../helpers/process.js';

// A group leader that forks one more member on SIGUSR2.
const LEADER = "process.on('SIGUSR2', () => require('child_process').spawn('sleep', ['60'], { stdio: 'ignore' })); process.stdout.write('ready\\n'); setInterval(() => {}, 1e9)";

function leader(): Promise<number> {
  const child = spawn(process.execPath, ['-e', LEADER], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  t.teardown(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } });
  return new Promise((resolve) => child.stdout!.once('data', () => resolve(child.pid!)));
}

t.test('a scan serves later rounds; a new group or an old scan renews it', async (t) => {
  const a = await leader();
  const first = await sampleTrees([{ id: 'a', runId: '1', pgid: a }], 0);
  t.equal(first[0]!.pids, 1, 'one process in the tree');
  t.ok(first[0]!.rss > 0, 'with its memory');

  process.kill(a, 'SIGUSR2');
  await until(() => groupMembers(a).length === 2, 'the second member');
  const cached = await sampleTrees([{ id: 'a', runId: '1', pgid: a }], 1_000);
  t.equal(cached[0]!.pids, 1, 'within the scan\'s age, a member forked since is not seen yet');

  const b = await leader();
  const renewed = await sampleTrees([{ id: 'a', runId: '1', pgid: a }, { id: 'b', runId: '1', pgid: b }], 2_000);
  t.same(renewed.map((r) => r.pids), [2, 1], 'a group the scan does not know forces a new scan, which sees every member');

  process.kill(b, 'SIGUSR2');
  await until(() => groupMembers(b).length === 2, 'b\'s second member');
  const aged = await sampleTrees([{ id: 'b', runId: '1', pgid: b }], 2_000 + TREE_MAX_AGE_MS);
  t.equal(aged[0]!.pids, 2, 'an old scan is renewed');

  const gone = groupMembers(b).find((pid) => pid !== b)!;
  process.kill(gone, 'SIGKILL');
  await until(() => groupMembers(b).length === 1, 'b\'s member gone');
  const after = await sampleTrees([{ id: 'b', runId: '1', pgid: b }], 3_000 + TREE_MAX_AGE_MS);
  t.equal(after[0]!.pids, 1, 'a member that ended drops out at once, scan or not');
});
