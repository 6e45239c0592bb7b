// The floor of an idle fleet: only the work a configuration asks of any supervisor, in a few lines
// of Node — one HTTP GET per service per probe interval, and one /proc/<pid>/stat read per service
// per sample interval. The idle bench runs it against the same services as the orchestrator, in the
// same run, and gives the orchestrator's figures as a ratio to this one's.
//   node bench/lib/idle-floor.mjs <plan.json>
//     plan: { probeMs, sampleMs, targets: [{ url, pid }] }
// Prints "ready" once every target has answered one probe; counts probes and their latency, and
// prints them as one JSON line on SIGTERM before it exits.
import { readFileSync } from 'node:fs';
import { Agent, get } from 'node:http';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
// As the orchestrator does: keep-alive connections, a few per origin.
const agent = new Agent({ keepAlive: true, maxSockets: 8 });
const latencies = [];
let failures = 0;

function probe(url) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = get(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => { latencies.push(performance.now() - t0); resolve(res.statusCode === 200); });
    });
    req.on('error', () => { failures++; resolve(false); });
  });
}

function sample() {
  for (const { pid } of plan.targets) {
    try { readFileSync(`/proc/${pid}/stat`, 'latin1'); } catch { /* gone: nothing to sample */ }
  }
}

await Promise.all(plan.targets.map((t) => probe(t.url)));
latencies.length = 0;
setInterval(() => { for (const t of plan.targets) void probe(t.url); }, plan.probeMs);
setInterval(sample, plan.sampleMs);
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ probes: latencies.length, failures, latencies })}\n`, () => process.exit(0));
});
