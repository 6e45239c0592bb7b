// Orchestrator RSS and CPU while supervising N services (default 100) with 1 s health checks
// against one simulator process, plus resource sampling every 5 s.
//   node bench/fleet-footprint.mjs [services=100] [seconds=30]
import { createServer } from 'node:http';
import { freePort, startOrchestrator, watchProcess } from './lib/orchestrator.mjs';
import { mb, table } from './lib/stats.mjs';

const N = Number(process.argv[2] ?? 100);
const SECONDS = Number(process.argv[3] ?? 30);

let probes = 0;
const simPort = await freePort();
const sim = createServer((req, res) => { probes++; res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"status":"healthy"}'); });
await new Promise((r) => sim.listen(simPort, '127.0.0.1', r));

const services = {};
for (let i = 0; i < N; i++) {
  services[`svc-${i}`] = { executable: 'sleep 3600', health_endpoint: `http://127.0.0.1:${simPort}/health/${i}`, health: { interval_seconds: 1 } };
}
const o = await startOrchestrator({ services, config: { monitoring: { interval: 1, timeout: 2, sample_interval: 5 } } });
try {
  await new Promise((r) => setTimeout(r, 5000)); // past start-up
  const before = probes;
  const t0 = performance.now();
  const usage = await watchProcess(o.pid, SECONDS * 1000);
  const rate = (probes - before) / ((performance.now() - t0) / 1000);
  process.stdout.write(`${table(`orchestrator with ${N} services, 1 s health checks, ${SECONDS} s window`, ['services', 'CPU % of one core', 'RSS avg MB', 'RSS max MB', 'probes/s'], [
    [N, usage.cpuPercent, mb(usage.rssAvg), mb(usage.rssMax), rate],
  ])}\n`);
} finally {
  await o.stop();
  sim.close();
}
