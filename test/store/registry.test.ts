import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RegistryError } from '../../src/store/db.js';
import { Registry } from '../../src/store/index.js';
import { MIGRATIONS } from '../../src/store/migrations.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'orch-store-'));

function refusal(fn: () => unknown): RegistryError {
  try {
    fn();
  } catch (e) {
    if (e instanceof RegistryError) return e;
    throw e;
  }
  throw new Error('expected a RegistryError');
}

t.test('WAL mode, versioned migrations, events with increasing seq', async (t) => {
  const path = join(tmp(), 'r.db');
  const r = Registry.open(path);
  t.equal(String(r.db.pragma('journal_mode', { simple: true })), 'wal');
  t.equal(r.db.pragma('user_version', { simple: true }), MIGRATIONS.length, 'migrated to the latest version');
  const stored = r.events.append([
    { at: 1, service: 'a', type: 'state', data: { to: 'running' } },
    { at: 2, service: null, type: 'orchestrator_started', data: {} },
  ]);
  t.same(stored.map((e) => e.seq), [1, 2]);
  t.same(r.events.after(1, 10).map((e) => e.type), ['orchestrator_started']);
  t.same(r.events.latest('a', 5).map((e) => e.data), [{ to: 'running' }]);
  t.equal(r.nextEpoch(), 1);
  t.equal(r.nextEpoch(), 2, 'epochs never repeat');
  r.close();
  const again = Registry.open(path);
  t.equal(again.events.lastSeq(), 2, 'events survive a reopen');
  t.equal(again.nextEpoch(), 3);
  again.close();
});

t.test('pid ledger: pending, identified, handed over in one step, ended', async (t) => {
  const r = Registry.open(join(tmp(), 'r.db'));
  r.runs.pending('a', '1.1', 'boot', 10);
  t.same(r.runs.openRuns().map((x) => [x.run_id, x.pid]), [['1.1', 0]], 'a pending run is open with pid 0');
  r.runs.identified('a', '1.1', 4242, 4242, 777, 11);
  r.runs.handOver('1.1', { service: 'a', run_id: '2.adopted.1', pid: 4242, pgid: 4242, proc_start: 777, boot_id: 'boot', started_at: 11 }, 20);
  t.same(r.runs.openRuns().map((x) => [x.run_id, x.pid]), [['2.adopted.1', 4242]], 'exactly one open row after a hand-over');
  t.equal(r.runs.history('a', 5).find((x) => x.run_id === '1.1')?.reason, 'handed over to a new orchestrator');
  // A failing insert rolls the end back: the process is never left without an open row.
  t.throws(() => r.runs.handOver('2.adopted.1', { service: 'a', run_id: '3.adopted.2', pid: 4242, pgid: 4242, proc_start: 777, boot_id: null as unknown as string, started_at: 11 }, 30));
  t.same(r.runs.openRuns().map((x) => x.run_id), ['2.adopted.1'], 'still open after the failed hand-over');
  r.runs.ended('a', '2.adopted.1', 40, 0, null, 'exited with code 0');
  t.same(r.runs.openRuns(), [], 'nothing open once it ended');
  r.close();
});

t.test('a second orchestrator on the same registry is refused: locked', async (t) => {
  const path = join(tmp(), 'r.db');
  const first = Registry.open(path);
  const err = refusal(() => Registry.open(path));
  t.equal(err.code, 'locked');
  t.match(err.message, /another orchestrator/);
  first.close();
  Registry.open(path).close();
  t.pass('free again once the first closed');
});

t.test('a corrupt file is refused with a clear error, never silently replaced', async (t) => {
  const path = join(tmp(), 'r.db');
  writeFileSync(path, Buffer.alloc(8192, 0x5a));
  const err = refusal(() => Registry.open(path));
  t.equal(err.code, 'corrupt');
  t.match(err.message, /move it aside/);
});

t.test('kill -9 in the middle of writing leaves the registry consistent', async (t) => {
  const path = join(tmp(), 'r.db');
  const writer = fileURLToPath(new URL('../fixtures/registry-writer.ts', import.meta.url));
  for (let round = 0; round < 3; round++) {
    const child = spawn(process.execPath, [...process.execArgv, writer, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    // Wait until it has written a few batches, then kill it mid-stream.
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      child.stdout!.on('data', (d: Buffer) => { seen += d.toString(); if ((seen.match(/batch/g) ?? []).length >= 20) resolve(); });
      child.on('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const r = Registry.open(path);
    t.equal(r.integrityCheck(), 'ok', `round ${round}: integrity_check ok`);
    const all = r.events.after(0, 1_000_000);
    t.ok(all.length > 0, `round ${round}: events were written`);
    t.ok(all.every((e, i) => i === 0 || e.seq > all[i - 1]!.seq), 'seq strictly increasing');
    t.equal(all.length % 50, 0, 'only whole transactions (batches of 50) are present');
    r.close();
  }
});
