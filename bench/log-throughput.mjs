// How fast a service can log, and what that costs the orchestrator: one child writes lines to
// stdout for a while (rotated at 10 MB, gzipped, capped at 100 MB); the bytes/s it achieved under
// supervision beside the same child writing to a plain file on its own, and the orchestrator's CPU %
// meanwhile — flat out (more than the cap arrives between two looks, so most of it is dropped
// unarchived and recorded) and at paced rates where every byte is archived.
//   node bench/log-throughput.mjs [seconds=10]
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fail, finish, machine, printTable, procUsage, ROOT, startOrchestrator } from './lib/orchestrator.mjs';

const SECONDS = Number(process.argv[2] ?? 10);
const WRITER = join(ROOT, 'bench', 'lib', 'log-writer.mjs');

async function bare() {
  const dir = mkdtempSync(join(tmpdir(), 'orch-logbench-'));
  const fd = openSync(join(dir, 'out.log'), 'a');
  const child = spawn(process.execPath, [WRITER, String(SECONDS)], { stdio: ['ignore', fd, 'inherit'] });
  closeSync(fd);
  await new Promise((r) => child.once('exit', r));
  const bytes = statSync(join(dir, 'out.log')).size;
  rmSync(dir, { recursive: true, force: true });
  return bytes / SECONDS;
}

async function supervised(rate = 0) {
  const o = await startOrchestrator({
    services: { writer: { executable: `${process.execPath} ${WRITER} ${SECONDS} ${rate}`, restart: 'transient' } },
    waitFor: null,
  });
  const cpu0 = procUsage(o.pid).cpuSeconds;
  const t0 = performance.now();
  let state;
  do {
    await new Promise((r) => setTimeout(r, 100));
    state = (await (await fetch(`${o.url}/api/services/writer`)).json()).state;
  } while (state !== 'stopped');
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = ((procUsage(o.pid).cpuSeconds - cpu0) / elapsed) * 100;
  const st = JSON.parse(readFileSync(join(o.dir, 'logs', 'services', 'writer.stdout.state.json'), 'utf8'));
  const bytes = st.base + statSync(join(o.dir, 'logs', 'services', 'writer.stdout.log')).size;
  await o.stop();
  return { rate: bytes / SECONDS, cpu };
}

try {
  const plain = await bare();
  const rows = [{ '': 'child writing to a plain file (no orchestrator)', 'MB/s written': (plain / 1048576).toFixed(0), 'orchestrator CPU %': '-' }];
  const flat = await supervised();
  rows.push({ '': 'supervised, flat out (beyond the cap: oldest bytes dropped)', 'MB/s written': (flat.rate / 1048576).toFixed(0), 'orchestrator CPU %': flat.cpu.toFixed(1) });
  for (const mb of [1, 5, 20]) {
    const s = await supervised(mb * 1048576);
    rows.push({ '': `supervised at ${mb} MB/s (every byte rotated and gzipped)`, 'MB/s written': (s.rate / 1048576).toFixed(1), 'orchestrator CPU %': s.cpu.toFixed(1) });
  }
  process.stdout.write(`\n### Logging throughput (${SECONDS} s of writing, 100-byte lines, rotation at 10 MB) — ${machine()}\n\n`);
  printTable(['', 'MB/s written', 'orchestrator CPU %'], rows);
  await finish(0);
} catch (err) {
  await fail(err);
}
