/**
 * The log store's timed work goes on after the wall clock is set back an hour: time marks keep
 * being written (and still carry wall time), the periodic scan still finds growth no file-system
 * notification reported, and a full disk is still noticed and its clearing too; the orchestrator's
 * own log archives made after the jump are kept, not taken for the oldest.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { appendFileSync, closeSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fixture, node } from '../helpers/harness.js';
import { until } from '../helpers/process.mjs';
import { reapFolders, serve, servedFolder } from '../helpers/serve.js';
import { decodeMarks } from '../../src/logs/layout.js';

t.teardown(reapFolders);

const JUMP_MS = -3_600_000;

function marks(path: string): Array<[number, number]> {
  try { return decodeMarks(readFileSync(path)); } catch { return []; }
}

/** Fill the file system under `path` to the last byte. */
function fill(path: string): void {
  for (const [file, size] of [[path, 16 * 1024], [`${path}.tail`, 512]] as const) {
    const fd = openSync(file, 'w');
    try { for (;;) writeSync(fd, Buffer.alloc(size, 0x61)); } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
    } finally { closeSync(fd); }
  }
}

t.test('wall clock set back an hour: time marks, scans and disk checks go on', async (t) => {
  const { dir, port } = await servedFolder({
    talker: { id: 'talker', executable: node('ticker.mjs'), environment: { EVERY_MS: 50 } },
    quiet: { id: 'quiet', executable: node('sleeper.mjs') },
  });
  // The logs on a small tmpfs of their own (needs root), so the disk can be filled.
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', logs]);
  t.teardown(() => { try { execFileSync('umount', ['-l', logs]); } catch { /* gone */ } });
  // The jump comes once the store has been at work for a while on the old time (marks, a scan, a
  // disk check — its timer runs every second): the test sends the signal for it then.
  const s = await serve(dir, port, [], { CLOCK_JUMP_ON: 'SIGUSR2', CLOCK_JUMP_MS: String(JUMP_MS) }, [`--import=${fixture('clock-jump.mjs')}`]);
  t.teardown(async () => { s.run.child.kill('SIGTERM'); await s.run.exit; });
  const services = join(logs, 'services');
  const talkerMarks = join(services, 'talker.stdout.idx');
  await until(() => { const m = marks(talkerMarks); return m.length >= 2 && m[m.length - 1]![0] - m[0]![0] >= 2000; }, 'two seconds of talker time marks');
  const health = async () => (await (await fetch(`${s.url}/health`)).json()) as { timestamp: string; problems: string[] };
  s.run.child.kill('SIGUSR2');
  await until(async () => Math.abs(Date.parse((await health()).timestamp) - Date.now() - JUMP_MS) < 10_000, 'the jump to happen');
  const wallThere = () => Date.now() + JUMP_MS; // the orchestrator's wall clock

  // Time marks: a stream that keeps growing gets a mark about every second, stamped with wall time.
  const before = marks(talkerMarks).length;
  const after = await until(() => { const m = marks(talkerMarks); return m.length >= before + 3 ? m : undefined; }, 'three new time marks after the jump', 15_000);
  const [at] = after[after.length - 1]!;
  t.ok(Math.abs(at - wallThere()) < 10_000, `the newest mark carries the wall time set back (${Math.round((at - Date.now()) / 1000)} s from ours)`);

  // Scans: growth written through a hard link in another folder raises no notification on the
  // log folder; only the periodic full scan (every 10 s) finds it and marks it.
  const quietLive = join(services, 'quiet.stdout.log');
  await until(() => statSync(quietLive, { throwIfNoEntry: false })?.size, 'quiet started logging');
  mkdirSync(join(logs, 'aside'));
  linkSync(quietLive, join(logs, 'aside', 'quiet.log'));
  appendFileSync(join(logs, 'aside', 'quiet.log'), 'written where no notification sees it\n');
  const size = statSync(quietLive).size;
  await until(() => marks(join(services, 'quiet.stdout.idx')).some(([, offset]) => offset === size), 'the full scan to mark the unnoticed growth', 25_000);
  t.pass('the periodic scan went on');

  // Disk checks: a full disk is reported, and the report cleared once space returns.
  const ballast = join(logs, 'ballast');
  fill(ballast);
  await until(async () => (await health()).problems.some((p) => /log disk (full|nearly full)/.test(p)), 'the full disk to show in /health', 25_000);
  t.pass('the full disk was noticed');
  unlinkSync(ballast);
  unlinkSync(`${ballast}.tail`);
  await until(async () => (await health()).problems.every((p) => !/log disk/.test(p)), 'the condition to clear', 25_000);
  t.pass('and its end too');
});

t.test("wall clock set back an hour: the orchestrator's own log archives made since are kept", async (t) => {
  const { dir, port } = await servedFolder({
    c1: { id: 'c1', executable: node('crashy.mjs'), restart_policy: { backoff_seconds: 0, max_retries: 1_000_000 } },
    c2: { id: 'c2', executable: node('crashy.mjs'), restart_policy: { backoff_seconds: 0, max_retries: 1_000_000 } },
  }, { logs: { max_size: 2048, keep: 2 }, monitoring: { sample_interval: 0.05 }, supervision: { intensity: 1_000_000, period_seconds: 1 } });
  const s = await serve(dir, port, [], { CLOCK_JUMP_ON: 'SIGUSR2', CLOCK_JUMP_MS: String(JUMP_MS) }, [`--import=${fixture('clock-jump.mjs')}`]);
  t.teardown(async () => { s.run.child.kill('SIGTERM'); await s.run.exit; });
  const logs = join(dir, 'logs');
  const archives = () => readdirSync(logs).filter((n) => /^orchestrator\.\d+\.log\.gz$/.test(n)).sort();
  const before = await until(() => { const a = archives(); return a.length === 2 ? a : undefined; }, 'two archives before the jump', 60_000);
  s.run.child.kill('SIGUSR2');
  await until(async () => Math.abs(Date.parse(((await (await fetch(`${s.url}/health`)).json()) as { timestamp: string }).timestamp) - Date.now() - JUMP_MS) < 10_000, 'the jump to happen');
  // keep=2: once two rotations followed the jump, the two kept are theirs (named as the jump set back
  // the time, they were taken for the oldest and deleted at once).
  const kept = await until(() => { const a = archives(); return a.length === 2 && a.every((n) => !before.includes(n)) ? a : undefined; }, 'the two newest archives kept', 40_000);
  const times = gunzipSync(readFileSync(join(logs, kept[1]!))).toString('utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { time: number }).time);
  t.ok(Math.abs(times[times.length - 1]! - (Date.now() + JUMP_MS)) < 60_000, 'the newest archive holds lines written after the jump');
});
