/** Lines placed in time (?since), live tail over /ws, the orchestrator's own log rotation, resource history and retention. */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'undici';
import { harness, node } from '../helpers/harness.js';
import { until } from '../helpers/process.mjs';

t.test('?since=ISO returns the lines written after that time, each with the time it was written by', async (t) => {
  const h = await harness(t, { http: true, services: { paced: { id: 'paced', executable: node('paced.mjs'), environment: { GAP_MS: 2500 } } } });
  const url = `${h.url}/api/services/paced/logs?stream=stdout`;
  const all = await until(async () => {
    const text = await (await fetch(url)).text();
    return /late \d+/.test(text) ? text : undefined;
  }, 'all three lines', 15_000);
  const times = Object.fromEntries([...all.matchAll(/^(early|middle|late) (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
  const since = new Date(times.early! + 1250).toISOString();
  const after = await (await fetch(`${url}&since=${since}`)).text();
  t.same(after.trim().split('\n').map((l) => l.split(' ')[0]), ['middle', 'late'], `lines since ${since}`);
  const nd = await (await fetch(`${url}&since=${since}`, { headers: { accept: 'application/x-ndjson' } })).text();
  for (const rec of nd.trim().split('\n').map((l) => JSON.parse(l) as { line: string; at: string })) {
    const written = Number(rec.line.split(' ')[1]);
    const at = Date.parse(rec.at);
    t.ok(at >= written - 50 && at - written <= 1500, `"${rec.line.split(' ')[0]}" placed within about a second (${at - written} ms)`);
  }
  const epoch = await (await fetch(`${url}&since=${times.middle! + 1250}`)).text();
  t.same(epoch.trim().split('\n').map((l) => l.split(' ')[0]), ['late'], 'since as epoch milliseconds');
  const bad = await fetch(`${url}&since=yesterday`);
  t.equal(bad.status, 400);
});

t.test('live tail: a written line reaches a /ws subscriber at once, without the orchestrator in the data path', async (t) => {
  const h = await harness(t, { http: true, services: { ticker: { id: 'ticker', executable: node('ticker.mjs'), environment: { EVERY_MS: 50 } } } });
  await h.waitView('ticker', (v) => v.state === 'running');
  const ws = new WebSocket(`${h.url.replace('http', 'ws')}/ws?topics=logs/ticker`);
  t.teardown(() => ws.close());
  const latencies: number[] = [];
  const seen: number[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('error', () => reject(new Error('ws error')));
    ws.addEventListener('message', (m) => {
      const msg = JSON.parse(String(m.data)) as { type: string; lines?: string[] };
      if (msg.type !== 'log') return;
      const now = Date.now();
      for (const line of msg.lines ?? []) {
        const [, n, at] = line.split(' ');
        seen.push(Number(n));
        latencies.push(now - Number(at));
      }
      if (latencies.length >= 40) resolve();
    });
  });
  latencies.sort((a, b) => a - b);
  const p50 = latencies[Math.floor(latencies.length / 2)]!;
  t.comment(`write → /ws latency over ${latencies.length} lines: p50 ${p50} ms, max ${latencies[latencies.length - 1]} ms`);
  t.ok(seen.every((n, i) => i === 0 || n === seen[i - 1]! + 1), 'every line, in order, none lost');
  t.ok(p50 < 250, `delivered on the file-change notification, not on a poll (p50 ${p50} ms)`);
});

t.test("the orchestrator's own log rotates too", async (t) => {
  const h = await harness(t, {
    config: { logs: { max_size: 8 * 1024, keep: 2 }, monitoring: { sample_interval: 0.05 }, supervision: { intensity: 1_000_000, period_seconds: 1 } },
    // (/bin/false: a crash loop that writes the orchestrator's log quickly even on a loaded machine)
    services: { c: { id: 'c', executable: 'false', restart_policy: { backoff_seconds: 0.01, max_backoff_seconds: 0.03, max_retries: 1_000_000 } } },
  });
  const logs = join(h.dir, 'logs');
  const rotated = () => readdirSync(logs).filter((n) => /^orchestrator\.\d+\.log\.gz$/.test(n));
  await h.waitFor(() => rotated().length >= 2, 'two rotations of orchestrator.log', 60_000);
  await h.waitFor(() => rotated().length === 2 && readdirSync(logs).every((n) => !/^orchestrator\.\d+\.log$/.test(n)), 'keep=2 archives, all compressed', 60_000);
  t.pass(`rotated, ${rotated().length} archives kept`);
  t.ok(readFileSync(join(logs, 'orchestrator.log'), 'utf8').split('\n').filter(Boolean).every((l) => JSON.parse(l)), 'the live log is whole JSON lines');
});

t.test('resource history: per-minute buckets over GET /api/services/{id}/metrics; retention prunes old history', async (t) => {
  const h = await harness(t, { http: true, config: { monitoring: { sample_interval: 0.1 } }, services: { s: { id: 's', executable: node('sleeper.mjs') } } });
  await h.waitFor(() => h.o.registry.samples.since('s', 0, 10).some((b) => b.n >= 5), 'samples folded into the current minute');
  const res = await (await fetch(`${h.url}/api/services/s/metrics`)).json() as { bucket_seconds: number; points: Array<{ at: string; cpu_percent: number; rss_bytes: number; rss_max: number; samples: number }> };
  t.equal(res.bucket_seconds, 60);
  t.ok(res.points.length >= 1);
  const p = res.points[res.points.length - 1]!;
  t.ok(p.rss_bytes > 1e6 && p.rss_max >= p.rss_bytes && p.samples >= 5, `a bucket: ${JSON.stringify(p)}`);
  t.equal(new Date(p.at).getUTCSeconds(), 0, 'buckets start on the minute');
  const future = await (await fetch(`${h.url}/api/services/s/metrics?since=${new Date(Date.now() + 3_600_000).toISOString()}`)).json() as { points: unknown[] };
  t.same(future.points, [], '?since filters');

  // Old history goes: events and buckets older than keep_days (7).
  const old = Date.now() - 8 * 86_400_000;
  h.o.registry.events.append([{ at: old, service: 's', type: 'state', data: { to: 'running' } }]);
  h.o.registry.db.prepare('INSERT INTO samples (service, bucket, n, cpu_avg, cpu_max, rss_avg, rss_max) VALUES (?, ?, 1, 1, 1, 1, 1)').run('s', Math.floor(old / 60000) * 60000);
  const removed = await h.o.retention.run();
  t.same(removed, { events: 1, samples: 1 }, 'exactly the old rows went');
  t.ok(h.o.registry.events.after(0, 1000).length > 0, 'recent events stay');
});
