// How big the registry gets under churn: N services (default 1,000) that exit after a second and
// are restarted (backoff from 1 s, capped at 30 s), for M minutes (default 10; 60 for the full
// hour), with 5 s resource sampling. Prints the registry's size and row counts each minute and the
// bytes per event. Not part of `npm run bench` (it takes minutes by design).
//   node bench/registry-growth.mjs [minutes=10] [services=1000]
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fail, finish, machine, printTable, startOrchestrator } from './lib/orchestrator.mjs';

const MINUTES = Number(process.argv[2] ?? 10);
const N = Number(process.argv[3] ?? 1000);

const size = (p) => { try { return statSync(p).size; } catch { return 0; } };

try {
  const services = {};
  for (let i = 0; i < N; i++) {
    services[`svc-${String(i).padStart(4, '0')}`] = {
      executable: 'sleep 1',
      restart_policy: { backoff_seconds: 1, max_backoff_seconds: 30, max_retries: 1_000_000, reset_after_seconds: 3600 },
    };
  }
  const o = await startOrchestrator({ services, waitFor: null, config: { monitoring: { sample_interval: 5 } } });
  const db = join(o.dir, 'data', 'registry.db');
  const rows = [];
  const t0 = Date.now();
  for (let m = 1; m <= MINUTES; m++) {
    await new Promise((r) => setTimeout(r, t0 + m * 60_000 - Date.now()));
    const last = (await (await fetch(`${o.url}/api/events?since=999999999999`)).json()).last_seq;
    const bytes = size(db) + size(`${db}-wal`);
    rows.push({ minute: m, events: last, 'registry MB (db + wal)': (bytes / 1048576).toFixed(1), 'bytes/event': (bytes / Math.max(1, last)).toFixed(0) });
    process.stderr.write(`minute ${m}: ${last} events, ${(bytes / 1048576).toFixed(1)} MB\n`);
  }
  await o.stop();
  process.stdout.write(`\n### Registry growth: ${N} services restarting (1 s runs, backoff 1 s → 30 s) for ${MINUTES} min — ${machine()}\n\n`);
  printTable(Object.keys(rows[0]), rows);
  const last = rows[rows.length - 1];
  const perHour = (Number(last['registry MB (db + wal)']) / MINUTES) * 60;
  process.stdout.write(`\nAt this rate an hour takes ${perHour.toFixed(0)} MB.\n`);
  await finish(0);
} catch (err) {
  await fail(err);
}
