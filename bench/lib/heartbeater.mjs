// The heartbeat generator: for each service (id and pid on stdin, one JSON array), its run token
// read from /proc/<pid>/environ (ORCHESTRATOR_TOKEN, as the service itself has it), then one
// POST /api/services/<id>/heartbeat per service per second, spread evenly over the second, over a
// pool of keep-alive connections. On SIGTERM (or after <seconds>) prints one JSON line:
// {sent, ok, failed, statuses, latencies: {p50, p99, max}} and exits.
//   node bench/lib/heartbeater.mjs <orchestrator url> <seconds>
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { summarize } from './stats.mjs';

const [url, seconds] = [process.argv[2], Number(process.argv[3] ?? 3600)];
const input = JSON.parse(readFileSync(0, 'utf8'));
const services = input.map(({ id, pid }) => {
  const env = readFileSync(`/proc/${pid}/environ`, 'utf8');
  const token = /(?:^|\0)ORCHESTRATOR_TOKEN=([^\0]+)/.exec(env)?.[1];
  if (!token) throw new Error(`no ORCHESTRATOR_TOKEN in the environment of ${id} (pid ${pid})`);
  return { path: `/api/services/${id}/heartbeat`, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } };
});
const pool = new Pool(url, { connections: 32 });
const latencies = [];
const statuses = {};
let sent = 0;
let failed = 0;
let n = 0;

async function beat(s) {
  sent++;
  const t0 = performance.now();
  try {
    const res = await pool.request({ method: 'POST', path: s.path, headers: s.headers, body: `{"progress":${++n},"inflight":0}` });
    await res.body.text();
    latencies.push(performance.now() - t0);
    statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
  } catch {
    failed++;
  }
}

// Every TICK_MS, the services whose slot in the second has come.
const TICK_MS = 10;
const start = performance.now();
let next = 0;
const timer = setInterval(() => {
  const due = Math.floor(((performance.now() - start) / 1000) * services.length);
  for (; next < due; next++) void beat(services[next % services.length]);
}, TICK_MS);

const report = () => {
  clearInterval(timer);
  const lat = summarize(latencies);
  process.stdout.write(`${JSON.stringify({ sent, ok: statuses[200] ?? 0, failed, statuses, latencies: { p50: lat.p50, p99: lat.p99, max: lat.max } })}\n`);
  process.exit(0);
};
process.on('SIGTERM', report);
setTimeout(report, seconds * 1000);
