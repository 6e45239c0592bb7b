/**
 * A full log disk kills services that log naively (Node's console.log, Python's print: ENOSPC, exit
 * code 1). That is the environment's fault: such an exit is classified `log_disk_full`, spends no
 * retry (max_retries 0 here, so one counted crash would make the service `failed`), and the service
 * is back as soon as the disk has space again. On a real 4 MB tmpfs.
 */
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture, harness, node } from '../helpers/harness.js';
import { fill, mountTmpfs, unfill } from '../helpers/disk.js';

t.test('services killed by a full log disk wait for space instead of failing, and come back when it returns', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orch-logdisk-'));
  const logs = join(dir, 'logs');
  mountTmpfs(t, logs, '4m', dir);
  const policy = { max_retries: 0, backoff_seconds: 0.05, max_backoff_seconds: 1 };
  const h = await harness(t, {
    dir,
    config: { logs: { max_size: 256 * 1024, keep: 2, max_total_size: 1024 * 1024 } },
    services: {
      nodelog: { id: 'nodelog', executable: node('naive-logger.mjs'), restart_policy: policy },
      pylog: { id: 'pylog', executable: `python3 ${fixture('naive_logger.py')}`, restart_policy: policy },
    },
  });
  const ids = ['nodelog', 'pylog'] as const;
  const lines = (id: string) => readFileSync(join(logs, 'services', `${id}.stdout.log`), 'utf8').split('\n').filter((l) => l.startsWith('line ')).length;
  const first = Object.fromEntries(await Promise.all(ids.map(async (id) => [id, await h.waitView(id, (v) => v.state === 'running' && lines(id) > 5, `${id} running and logging`)] as const)));

  const ballast = join(logs, 'ballast');
  fill(ballast);
  for (const id of ids) {
    const held = await h.waitView(id, (v) => v.lastExit?.reason === 'log_disk_full', `${id} to die of the full disk`);
    t.equal(held.state, 'backoff', `${id}: waits in backoff, not failed`);
    t.match(held.reason, /log disk full.*restarts as soon as the log disk has space \(not counted against max_retries\)/, `${id}: the reason says why and what next`);
    t.equal(held.attempts, 0, `${id}: no retry spent`);
    t.equal(held.want, 'up', `${id}: still wanted up`);
    const exit = await h.waitFor(() => h.events(id, 'exit').find((e) => e.data.reason === 'log_disk_full'), `${id}: its exit event`);
    t.equal(exit.data.code, 1, `${id}: the exit event is classified log_disk_full, with the code`);
  }
  t.equal(h.events(null, 'supervisor_gave_up').length, 0, 'no supervisor counted these exits');

  const linesBefore = Object.fromEntries(ids.map((id) => [id, lines(id)]));
  unfill(ballast);
  for (const id of ids) {
    const back = await h.waitView(id, (v) => v.state === 'running' && v.pid !== first[id]!.pid, `${id} back once space returns`, 10_000);
    t.equal(back.restarts, first[id]!.restarts + 1, `${id}: one restart, counted as a restart`);
    await h.waitFor(() => lines(id) > linesBefore[id]! + 5, `${id} logging again`);
  }
  for (const id of ids) t.notOk(h.events(id, 'state').some((e) => e.data.to === 'failed'), `${id}: never failed`);
});
