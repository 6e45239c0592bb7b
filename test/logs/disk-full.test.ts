/**
 * The log folder's disk fills up (a small tmpfs): supervision goes on, the condition is an event
 * and shows in /health, and logging resumes once space returns.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, harness, node } from '../helpers/harness.js';
import { until } from '../helpers/process.js';

/** Fill the file system under `dir` to the last byte with one ballast file. */
function fill(path: string): number {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(16 * 1024, 0x61);
  let n = 0;
  try {
    for (;;) n += writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
  // The last partial chunks: fill what is left byte-wise coarse enough.
  const small = openSync(`${path}.tail`, 'w');
  try { for (;;) n += writeSync(small, Buffer.alloc(512, 0x62)); } catch { /* full */ } finally { closeSync(small); }
  return n;
}

t.test('ENOSPC in the log folder: supervision goes on, it shows, and logging resumes when space returns', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orch-enospc-'));
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  // A 4 MB tmpfs for the logs only; the registry stays on the normal disk. Needs root (CI is).
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', logs]);
  t.teardown(() => {
    try { execFileSync('umount', ['-l', logs]); } catch { /* already gone */ }
    rmSync(dir, { recursive: true, force: true });
  });
  const port = await freePort();
  const h = await harness(t, {
    dir, http: true,
    config: { logs: { max_size: 256 * 1024, keep: 2, max_total_size: 1024 * 1024 } },
    services: {
      talker: { id: 'talker', executable: node('ticker.mjs'), environment: { EVERY_MS: 20 } },
      web: { id: 'web', executable: node('healthy.mjs'), environment: { PORT: port }, health_endpoint: `http://127.0.0.1:${port}/health`, health: { interval_seconds: 0.2 }, restart_policy: { backoff_seconds: 0 } },
    },
  });
  const first = await h.waitView('web', (v) => v.health === 'healthy');
  const live = join(logs, 'services', 'talker.stdout.log');
  const ticks = () => [...readFileSync(live, 'utf8').matchAll(/^tick (\d+) /gm)].map((m) => Number(m[1]));
  await h.waitFor(() => ticks().length > 5, 'talker logging');

  const ballast = join(logs, 'ballast');
  fill(ballast);
  const full = await until(async () => {
    const health = await (await fetch(`${h.url}/health`)).json() as { status: string; problems: string[] };
    return health.problems.some((p) => /log disk (full|nearly full)/.test(p)) ? health : undefined;
  }, 'the full disk to show in /health', 20_000);
  t.equal(full.status, 'degraded', '/health says degraded');
  t.ok(h.events(null, 'condition').some((e) => /log disk/.test(String(e.data.message))), 'the condition is an event');
  const lastBefore = Math.max(...ticks());

  // Supervision goes on: a crash is noticed and the service is restarted and healthy again.
  process.kill(first.pid!, 'SIGKILL');
  const again = await h.waitView('web', (v) => v.health === 'healthy' && v.pid !== first.pid, 'web restarted while the disk is full');
  t.ok(again.pid, 'restarted');
  t.ok(h.events('web', 'exit').some((e) => e.data.signal === 'SIGKILL'), 'and its exit recorded');

  // Space comes back: logging resumes and the condition clears.
  unlinkSync(ballast);
  unlinkSync(`${ballast}.tail`);
  await h.waitFor(() => Math.max(...ticks()) > lastBefore + 10, 'new lines in the log again', 20_000);
  await until(async () => {
    const health = await (await fetch(`${h.url}/health`)).json() as { status: string; problems: string[] };
    return health.problems.every((p) => !/log disk/.test(p)) ? health : undefined;
  }, 'the condition to clear', 20_000);
  t.ok(h.events(null, 'condition_cleared').length >= 1, 'its clearing is an event too');
  t.pass('logging resumed');
});
