/**
 * A service that logs 50 MB in a few seconds: disk use stays bounded by the configured cap while it
 * writes, no line is lost or doubled across rotation boundaries, and a search finds a line that
 * now lives in a gzipped archive.
 */
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { listArchives, livePath, readState } from '../../src/logs/layout.js';
import { harness, node } from '../helpers/harness.js';

const MB = 1024 * 1024;
const MAX_SIZE = 1 * MB;
const MAX_TOTAL = 6 * MB;
const TOTAL = 50 * MB;

/** Bytes the service's log files take on disk (allocated blocks, as du counts them). */
function diskUse(dir: string, id: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(`${id}.`)) continue;
    try { total += statSync(join(dir, name)).blocks * 512; } catch { /* rotated away meanwhile */ }
  }
  return total;
}

/** The writer said "done" and no rotation is under way: archives and live file line up. */
function finished(dir: string, id: string): RegExpExecArray | undefined {
  const live = livePath(dir, id, 'stdout');
  if (!existsSync(live)) return undefined;
  const m = /done (\d+)\n/.exec(readFileSync(live, 'utf8').slice(-64));
  const st = readState(dir, id, 'stdout');
  const arch = listArchives(dir, id, 'stdout');
  const settled = !arch.some((a) => a.partial) && (arch.length === 0 || arch[arch.length - 1]!.end === st.base + st.dataStart);
  return m && settled && statSync(live).size - st.dataStart < MAX_SIZE ? m : undefined;
}

t.test('50 MB of logs in a few seconds: bounded disk, no line lost, searchable archives', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'orch-rotation-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true })); // after the harness's own (teardowns run last first)
  const go = join(home, 'go');
  const h = await harness(t, {
    dir: home,
    http: true,
    config: { logs: { max_size: MAX_SIZE, keep: 3, max_total_size: MAX_TOTAL } },
    services: { chatty: { id: 'chatty', executable: node('chatty.mjs'), environment: { TOTAL_BYTES: TOTAL, BYTES_PER_SEC: 16 * MB, START_FILE: go } } },
  });
  const dir = join(h.dir, 'logs', 'services');
  // The store rotates in the CPU pool, whose worker it starts when it starts. From the bundle that
  // worker is up in 64–70 ms (120–150 ms with both cores busy); from TypeScript under the tests'
  // loader in 450–700 ms, and later still beside the orchestrator's own start, while the writer
  // runs ahead unchecked (a CI run on Node 24: 48 MB before the first rotation; 21–26 MB here
  // beside two busy loops). A log query runs in that pool, so once one has answered a worker
  // stands, and only then does the writer start: what is measured is the store keeping up, not
  // the test loader starting a thread.
  t.equal((await fetch(`${h.url}/api/services/chatty/logs?lines=1`)).status, 200, 'a log query answered: the pool has a worker');
  writeFileSync(go, '');
  let maxUse = 0;
  const sampler = setInterval(() => { maxUse = Math.max(maxUse, diskUse(dir, 'chatty')); }, 10);
  t.teardown(() => clearInterval(sampler));
  const started = performance.now();
  const live = livePath(dir, 'chatty', 'stdout');
  // Done when the child said so and the last rotation settled.
  const doneLine = await h.waitFor(() => finished(dir, 'chatty'), 'the writer to finish', 60_000);
  clearInterval(sampler);
  const seconds = (performance.now() - started) / 1000;
  const lines = Number(doneLine[1]);
  t.comment(`${(TOTAL / MB).toFixed(0)} MB in ${seconds.toFixed(1)} s; most disk in use at any moment: ${(maxUse / MB).toFixed(2)} MB (cap ${MAX_TOTAL / MB} MB, max_size ${MAX_SIZE / MB} MB)`);
  // How far a 16 MB/s writer gets ahead of the next check depends on the CPU the store gets. With
  // the pool's worker standing first (above): peaks of 2.2–2.9 MB on Node 24 beside two busy loops
  // (2026-12-02); before that gate, 1.8–4.6 MB on a quiet machine and 10.7–48 MB beside other work,
  // most of it the worker's start. The child writes its own file, so nothing but the store's next
  // check stops it. The bound here only tells a bounded store from an unbounded one (which keeps
  // all 50 MB) without timing the store; the settled use below is held to the cap exactly.
  t.ok(maxUse <= TOTAL / 2, `disk use stayed bounded while the writer ran (${(maxUse / MB).toFixed(2)} MB, cap ${MAX_TOTAL / MB} MB, an unbounded store keeps ${TOTAL / MB} MB)`);
  t.ok(diskUse(dir, 'chatty') <= MAX_TOTAL, 'and within the cap once it stopped');

  // The kept bytes form one contiguous stretch of the logical stream, ending in "done".
  const state = readState(dir, 'chatty', 'stdout');
  const archives = listArchives(dir, 'chatty', 'stdout');
  t.ok(archives.length >= 1 && archives.length <= 3, `${archives.length} archives kept (keep 3)`);
  t.notOk(archives.some((a) => a.partial), 'no half-written archive left');
  for (let i = 1; i < archives.length; i++) t.equal(archives[i]!.start, archives[i - 1]!.end, `archive ${i} starts where archive ${i - 1} ends`);
  t.equal(archives[archives.length - 1]!.end, state.base + state.dataStart, 'the live file continues where the newest archive ends');
  const text = Buffer.concat([
    ...archives.map((a) => gunzipSync(readFileSync(a.path))),
    readFileSync(live).subarray(state.dataStart),
  ]).toString('utf8');
  const kept = text.split('\n');
  kept.pop(); // after the final newline
  // The first kept line may begin mid-line (older archives were dropped by the cap).
  const numbers = kept.slice(1, -1).map((l) => Number(/^line (\d{8}) /.exec(l)?.[1] ?? NaN));
  t.notOk(numbers.some(Number.isNaN), 'every kept line is whole');
  const gaps = numbers.filter((n, i) => i > 0 && n !== numbers[i - 1]! + 1).length;
  t.equal(gaps, 0, `no line lost or doubled across ${archives.length} rotation boundaries (${numbers.length} consecutive lines)`);
  t.equal(numbers[numbers.length - 1], lines - 1, 'up to the last line written');
  t.equal(kept[kept.length - 1], `done ${lines}`);

  // A line that now lives in the oldest gzipped archive is found by a search.
  const oldest = gunzipSync(readFileSync(archives[0]!.path)).toString('utf8').split('\n');
  const target = /^line (\d{8}) /.exec(oldest[Math.floor(oldest.length / 2)]!)![1]!;
  const found = await fetch(`${h.url}/api/services/chatty/logs?q=line%20${target}%20&stream=stdout`, { headers: { accept: 'application/x-ndjson' } });
  t.equal(found.status, 200);
  const hits = (await found.text()).trim().split('\n').map((l) => JSON.parse(l) as { line: string; at: string });
  t.equal(hits.length, 1, 'found exactly once');
  t.match(hits[0]!.line, new RegExp(`^line ${target} `));
  t.ok(hits[0]!.at && !Number.isNaN(Date.parse(hits[0]!.at)), 'with the time it was written by');

  const re = await fetch(`${h.url}/api/services/chatty/logs?regex=${encodeURIComponent('^line \\d{6}[05]0 ')}&stream=stdout&lines=5`);
  t.equal(re.headers.get('x-log-truncated'), 'true', 'capped at 5 matches, and says so');
  const reLines = (await re.text()).trim().split('\n').map((l) => Number(/^line (\d{8})/.exec(l)![1]));
  t.equal(reLines.length, 5);
  t.same(reLines, [...reLines].sort((a, b) => b - a), 'newest first');
  t.ok(reLines.every((n) => n % 50 === 0), 'only matching lines');

  const bad = await fetch(`${h.url}/api/services/chatty/logs?regex=${encodeURIComponent('([')}`);
  t.equal(bad.status, 400);
  t.equal(((await bad.json()) as { error: { field: string } }).error.field, 'regex');
});

t.test('every line survives every rotation boundary when all archives are kept (unthrottled writer)', async (t) => {
  const total = 20 * MB;
  const h = await harness(t, {
    config: { logs: { max_size: MAX_SIZE, keep: 100, max_total_size: 100 * MB } },
    services: { chatty: { id: 'chatty', executable: node('chatty.mjs'), environment: { TOTAL_BYTES: total } } },
  });
  const dir = join(h.dir, 'logs', 'services');
  const live = livePath(dir, 'chatty', 'stdout');
  const lines = Number((await h.waitFor(() => finished(dir, 'chatty'), 'the writer to finish and the rotations to settle', 60_000))[1]);
  const state = readState(dir, 'chatty', 'stdout');
  const archives = listArchives(dir, 'chatty', 'stdout');
  t.ok(archives.length >= 15, `${archives.length} rotations`);
  t.equal(archives[0]!.start, 0, 'nothing dropped: the first archive starts at byte 0');
  const text = Buffer.concat([...archives.map((a) => gunzipSync(readFileSync(a.path))), readFileSync(live).subarray(state.dataStart)]).toString('utf8');
  const kept = text.split('\n').slice(0, -2); // without "done" and the final empty fragment
  t.equal(kept.length, lines, `all ${lines} lines are there`);
  t.ok(kept.every((l, i) => l.startsWith(`line ${String(i).padStart(8, '0')} `)), 'each exactly once and in order');
  t.equal(Buffer.byteLength(text), state.base + statSync(live).size, 'the kept bytes are the whole logical stream');
});

t.test('more live log than the whole cap (written while nobody rotated): the oldest bytes go, recorded', async (t) => {
  // The orchestrator was down while the service wrote 10 MB; the cap is 4 MB.
  const dir = mkdtempSync(join(tmpdir(), 'orch-flood-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true })); // after the harness's own
  mkdirSync(join(dir, 'logs', 'services'), { recursive: true });
  const live = livePath(join(dir, 'logs', 'services'), 'flood', 'stdout');
  writeFileSync(live, Array.from({ length: 100_000 }, (_, i) => `line ${String(i).padStart(8, '0')} ${'x'.repeat(85)}`).join('\n') + '\n');
  const h = await harness(t, {
    dir,
    config: { logs: { max_size: MAX_SIZE, keep: 3, max_total_size: 4 * MB } },
    services: { flood: { id: 'flood', executable: node('sleeper.mjs') } },
  });
  const logsDir = join(dir, 'logs', 'services');
  const dropped = await h.waitFor(() => h.events('flood', 'logs_dropped')[0], 'the drop to be recorded');
  t.equal(dropped.data.stream, 'stdout');
  t.ok(Number(dropped.data.bytes) >= 8 * MB, `${dropped.data.bytes} bytes dropped`);
  await h.waitFor(() => diskUse(logsDir, 'flood') <= 4 * MB, 'within the cap');
  const tail = await h.o.pool.readLog({ files: h.o.logs.files('flood', 'stdout'), mode: 'tail', lines: 3 });
  t.ok(tail.lines.some((l) => /^line 00099999 /.test(l.line)), 'the newest lines are kept');
});
