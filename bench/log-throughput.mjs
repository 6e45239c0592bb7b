// How fast a service can log, and what that costs the orchestrator: one child writes lines to
// stdout as fast as it can for a while (rotating at logs.max_size); the bytes/s it achieved under
// supervision, beside the same child writing to a plain file on its own, and the orchestrator's
// CPU % meanwhile.
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

async function supervised() {
  const o = await startOrchestrator({
    services: { writer: { executable: `${process.execPath} ${WRITER} ${SECONDS}`, restart: 'transient' } },
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
  const s = await supervised();
  process.stdout.write(`\n### Logging throughput (${SECONDS} s of writing, 100-byte lines, rotation at 10 MB) — ${machine()}\n\n`);
  printTable(['', 'MB/s written', 'orchestrator CPU %'], [
    { '': 'child writing to a plain file (no orchestrator)', 'MB/s written': (plain / 1048576).toFixed(0), 'orchestrator CPU %': '-' },
    { '': 'child supervised, logs rotated and gzipped', 'MB/s written': (s.rate / 1048576).toFixed(0), 'orchestrator CPU %': s.cpu.toFixed(1) },
  ]);
  await finish(0);
} catch (err) {
  await fail(err);
}
