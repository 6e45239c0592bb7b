/**
 * The registry on a real small tmpfs that fills up: writes are held in memory (in order, bounded,
 * the oldest events summarised), readers still see held events, and everything is written once
 * the ballast is gone.
 */
import t from 'tap';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { Registry } from '../../src/store/index.js';
import { fill, mountTmpfs, unfill } from '../helpers/disk.js';

/** A tmpfs of `size` on a fresh folder, unmounted at the test's end. */
function smallDisk(t: Test, size: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'orch-regfull-'));
  mountTmpfs(t, dir, size);
  return dir;
}

/** The registry's 'change' to `want` (a message, or null once recovered), with a deadline. */
async function change(r: Registry, want: 'problem' | 'cleared'): Promise<string | null> {
  const ac = new AbortController();
  const deadline = setTimeout(() => ac.abort(), 20_000);
  try {
    for (;;) {
      const [msg] = await once(r.writes, 'change', { signal: ac.signal }) as [string | null];
      if ((msg === null) === (want === 'cleared')) return msg;
    }
  } finally {
    clearTimeout(deadline);
  }
}

/** Open a registry whose write-ahead log has no slack left, then fill its disk. */
function fullRegistry(t: Test, opts: { limit?: number } = {}): { r: Registry; path: string; ballast: string } {
  const dir = smallDisk(t, '2m');
  const path = join(dir, 'r.db');
  const r = Registry.open(path, { retryMs: 50, ...opts });
  t.teardown(() => r.close());
  r.events.append([{ at: 1, service: null, type: 'before', data: {} }]);
  // After a truncating checkpoint every new write needs new space on the disk.
  r.db.pragma('wal_checkpoint(TRUNCATE)');
  const ballast = join(dir, 'ballast');
  fill(ballast);
  return { r, path, ballast };
}

t.test('a full disk: writes are held in order, still readable, and all written once space returns', async (t) => {
  const { r, path, ballast } = fullRegistry(t);
  const problem = change(r, 'problem');
  r.runs.pending('a', '7.1', 'boot', 10);
  const message = await problem;
  t.match(message, new RegExp(`registry ${path} cannot be written \\(SQLITE_(FULL|IOERR\\w*)`), 'the condition names the registry and the error');
  t.equal(r.writes.writable, false);
  // Everything after the first held write is held too, even what might fit: order is kept.
  r.runs.identified('a', '7.1', 4242, 4242, 99, 11);
  r.runs.ended('a', '7.1', 12, null, 'SIGKILL', 'killed by SIGKILL');
  r.services.upsert({ id: 'a', source: 'api', spec: '{}', want: 'up' });
  r.services.saveStatus('a', { want: 'up', state: 'backoff', reason: 'first', restarts: 1, attempts: 1, last_exit: null });
  r.services.saveStatus('a', { want: 'up', state: 'running', reason: 'second', restarts: 1, attempts: 0, last_exit: null });
  const epoch = r.nextEpoch();
  t.equal(r.nextEpoch(), epoch + 1, 'epochs go on from memory while the disk is full');
  const stored = r.events.append([{ at: 2, service: 'a', type: 'exit', data: { signal: 'SIGKILL' } }, { at: 3, service: 'a', type: 'state', data: { to: 'running' } }]);
  t.same(stored.map((e) => e.seq), [2, 3], 'held events are numbered on');
  t.equal(r.events.lastSeq(), 3);
  t.same(r.events.after(0, 10).map((e) => e.type), ['before', 'exit', 'state'], 'readers see held events in order');
  t.same(r.events.latest('a', 1).map((e) => e.type), ['state'], 'and the newest of a service');
  t.same(r.runs.history('a', 5), [], 'the run is not in the file yet');
  t.equal(r.writes.held, 8, 'eight records held (the older status and epoch replaced by the newer)');

  unfill(ballast);
  t.equal(await change(r, 'cleared'), null, 'the condition clears once everything is written');
  t.equal(r.writes.held, 0);
  const run = r.runs.history('a', 5)[0];
  t.match(run, { run_id: '7.1', pid: 4242, signal: 'SIGKILL', reason: 'killed by SIGKILL' }, 'the run: started, identified, ended — in order');
  t.match(r.services.get('a'), { state: 'running', reason: 'second' }, 'the newest status');
  r.close();

  const again = Registry.open(path);
  t.equal(again.integrityCheck(), 'ok');
  t.same(again.events.after(0, 10).map((e) => [e.seq, e.type]), [[1, 'before'], [2, 'exit'], [3, 'state']], 'every event is in the file');
  t.equal(again.meta('epoch'), String(epoch + 1), 'the last epoch is in the file');
  t.equal(again.events.append([{ at: 4, service: null, type: 'next', data: {} }])[0]!.seq, 4, 'numbering goes on after a reopen');
  again.close();
});

t.test('past the limit the oldest events go, summarised in one events_dropped record; runs never go', async (t) => {
  const { r, ballast } = fullRegistry(t, { limit: 100 });
  const summaries: number[] = [];
  r.writes.on('event', (e: { seq: number; type: string }) => { if (e.type === 'events_dropped') summaries.push(e.seq); });
  const problem = change(r, 'problem');
  r.runs.pending('a', '7.1', 'boot', 10);
  await problem;
  const numbered: number[] = [];
  for (let i = 0; i < 250; i++) numbered.push(...r.events.append([{ at: i, service: 'a', type: 'tick', data: { i } }]).map((e) => e.seq));
  await new Promise((res) => queueMicrotask(() => res(undefined)));
  t.ok(r.writes.held <= 100, `held within the bound (${r.writes.held})`);
  t.equal(summaries.length, 1, 'one summary event for the whole episode');
  t.equal(r.writes.dropped, 250 + 1 + 1 - r.writes.held, 'every record is either held or dropped');

  unfill(ballast);
  await change(r, 'cleared');
  t.equal(r.runs.history('a', 5)[0]?.run_id, '7.1', 'the run was never dropped');
  const all = r.events.after(1, 1000);
  const summary = all.find((e) => e.type === 'events_dropped')!;
  t.ok(summary, 'the summary is in the registry');
  t.equal(summary.seq, summaries[0], 'with the number it was announced with');
  const kept = all.filter((e) => e.type === 'tick').map((e) => e.seq);
  const dropped = numbered.filter((s) => !kept.includes(s));
  t.equal(summary.data.count, dropped.length, `its count is exactly what is missing (${dropped.length})`);
  t.match(summary.data, { first_seq: dropped[0], last_seq: dropped[dropped.length - 1], message: `${dropped.length} events dropped while the registry was full` });
  t.ok(Math.min(...kept) > Math.max(...dropped), 'the oldest went, the newest stayed');
});

t.test('a write that is wrong (not the disk) still throws and is not held', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orch-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = Registry.open(join(dir, 'r.db'));
  t.throws(() => r.runs.handOver('x', { service: 'a', run_id: '1', pid: 1, pgid: 1, proc_start: 1, boot_id: null as unknown as string, started_at: 1 }, 1), { code: 'SQLITE_CONSTRAINT_NOTNULL' });
  t.equal(r.writes.held, 0);
  t.equal(r.writes.writable, true);
  r.close();
});
