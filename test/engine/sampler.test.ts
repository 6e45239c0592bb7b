/**
 * Resource sampling of process trees: between full /proc scans each round takes in the processes
 * started since, so a member forked after a round is measured in the next one.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { groupMembers, procTable } from '../../src/os/proc.js';
import { sampleTrees } from '../../src/os/sampler.js';
import { TREE_MAX_AGE_MS } from '../../src/os/timing.js';
import { until } from '../helpers/process.mjs';

// A group leader that forks one more member on SIGUSR2, and on SIGHUP a child in a session (and
// group) of its own, which is still part of its tree.
const LEADER = "const cp = require('child_process');"
  + " process.on('SIGUSR2', () => cp.spawn('sleep', ['60'], { stdio: 'ignore' }));"
  + " process.on('SIGHUP', () => cp.spawn('sleep', ['61'], { stdio: 'ignore', detached: true }));"
  + " process.stdout.write('ready\\n'); setInterval(() => {}, 1e9)";

function leader(): Promise<number> {
  const child = spawn(process.execPath, ['-e', LEADER], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  t.teardown(() => {
    for (const p of procTable().filter((s) => s.ppid === child.pid)) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }
    try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
  });
  return new Promise((resolve) => child.stdout!.once('data', () => resolve(child.pid!)));
}

const childrenOf = (pid: number) => procTable().filter((s) => s.ppid === pid);

t.test('between full scans, a round takes in what was started since and drops what ended', async (t) => {
  const a = await leader();
  // Round times are given: the first round scans in full, the later ones stay within TREE_MAX_AGE_MS.
  const first = await sampleTrees([{ id: 'a', runId: '1', pgid: a }], 0);
  t.equal(first[0]!.pids, 1, 'one process in the tree');
  t.ok(first[0]!.rss > 0, 'with its memory');

  process.kill(a, 'SIGUSR2');
  await until(() => groupMembers(a).length === 2, 'the second member');
  const next = await sampleTrees([{ id: 'a', runId: '1', pgid: a }], 1_000);
  t.equal(next[0]!.pids, 2, 'a member forked since the last round is measured in the next one');

  process.kill(a, 'SIGHUP');
  await until(() => childrenOf(a).length === 2, 'a child in a group of its own');
  const b = await leader();
  const both = await sampleTrees([{ id: 'a', runId: '1', pgid: a }, { id: 'b', runId: '1', pgid: b }], 2_000);
  t.same(both.map((r) => r.pids), [3, 1], 'a descendant outside the group counts by parentage; a new group is found too');

  const gone = groupMembers(a).find((pid) => pid !== a)!;
  process.kill(gone, 'SIGKILL');
  await until(() => groupMembers(a).length === 1, 'a\'s member gone');
  const after = await sampleTrees([{ id: 'a', runId: '1', pgid: a }], 3_000);
  t.equal(after[0]!.pids, 2, 'a member that ended drops out at once');

  process.kill(b, 'SIGUSR2');
  await until(() => groupMembers(b).length === 2, 'b\'s second member');
  const full = await sampleTrees([{ id: 'b', runId: '1', pgid: b }], 3_000 + TREE_MAX_AGE_MS);
  t.equal(full[0]!.pids, 2, 'and a full scan, once the last is old, agrees');
});
