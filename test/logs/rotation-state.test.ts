/**
 * A rotation whose state file cannot be written (a full disk, here a directory in its way): the
 * bytes have moved, so the failure is a condition, not a crash — the orchestrator and the service
 * stay up, and the next rotation that can write its state clears it.
 */
import t from 'tap';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { listArchives, statePath } from '../../src/logs/layout.js';
import { harness, node } from '../helpers/harness.js';

t.test('a rotation state file that cannot be written: a condition, the service and orchestrator stay up, cleared later', async (t) => {
  const h = await harness(t, {
    config: { logs: { max_size: 64 * 1024, keep: 50, max_total_size: 64 * 1024 * 1024 } },
    services: { talker: { id: 'talker', executable: node('ticker.mjs'), environment: { EVERY_MS: 1 } } },
  });
  const dir = join(h.dir, 'logs', 'services');
  // writeState writes `<state>.tmp` then renames it: a directory there makes the write fail.
  const blocker = `${statePath(dir, 'talker', 'stdout')}.tmp`;
  mkdirSync(blocker, { recursive: true });
  const pid = (await h.waitView('talker', (v) => v.state === 'running')).pid;

  const raised = await h.waitFor(() => h.events(null, 'condition').find((e) => e.data.key === 'rotate:talker'), 'the rotate:talker condition', 60_000);
  t.match(String(raised.data.message), /rotation state of talker stdout/, 'the condition names the state file that could not be written');
  t.ok(listArchives(dir, 'talker', 'stdout').length >= 1, 'the rotation itself happened');
  t.equal(h.view('talker').pid, pid, 'the service kept its process');
  t.equal(h.o.host.isReady, true, 'the orchestrator is up');

  rmSync(blocker, { recursive: true });
  await h.waitFor(() => h.events(null, 'condition_cleared').find((e) => e.data.key === 'rotate:talker'), 'the condition to clear at the next rotation', 60_000);
  t.equal(h.view('talker').pid, pid, 'still the same process');
});
