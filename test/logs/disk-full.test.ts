/**
 * The log folder's disk fills up (a small tmpfs): supervision goes on, the condition is an event
 * and shows in /health, and logging resumes once space returns.
 */
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { harness, node } from '../helpers/harness.js';
import { fill, mountTmpfs, unfill } from '../helpers/disk.js';
import { freePort, until } from '../helpers/process.mjs';

t.test('ENOSPC in the log folder: supervision goes on, it shows, and logging resumes when space returns', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orch-enospc-'));
  const logs = join(dir, 'logs');
  // A 4 MB tmpfs for the logs only; the registry stays on the normal disk. Needs root (CI is).
  mountTmpfs(t, logs, '4m', dir);
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
  unfill(ballast);
  await h.waitFor(() => Math.max(...ticks()) > lastBefore + 10, 'new lines in the log again', 20_000);
  await until(async () => {
    const health = await (await fetch(`${h.url}/health`)).json() as { status: string; problems: string[] };
    return health.problems.every((p) => !/log disk/.test(p)) ? health : undefined;
  }, 'the condition to clear', 20_000);
  t.ok(h.events(null, 'condition_cleared').length >= 1, 'its clearing is an event too');
  t.pass('logging resumed');
});
