// A supervised agent (README, "Agent lifecycle"): it heartbeats with its in-flight work, finishes
// that work when the orchestrator asks it to drain, and turns an upstream 429 into a throttled exit.
// Run it under the orchestrator, which gives it ORCHESTRATOR_URL, ORCHESTRATOR_SERVICE_ID and
// ORCHESTRATOR_TOKEN. UPSTREAM_URL is the API it calls (say, an LLM); without one the work is simulated.
import { ServiceAgent } from '@agent-orchestrator/sdk';

const agent = new ServiceAgent();
const upstream = process.env.UPSTREAM_URL;
const inflight = new Set(); // job numbers
let started = 0;
let done = 0;

agent.startHeartbeat({
  intervalSeconds: 2,
  state: () => ({ progress: done, inflight: inflight.size, status: `${done} jobs done` }),
  onDrain: () => console.log(`draining: finishing ${inflight.size} job(s), taking no new ones`),
});

async function job(n = 0) {
  if (!upstream) return new Promise((resolve) => setTimeout(resolve, 1000));
  const res = await fetch(upstream, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ job: n }) });
  if (res.status === 429) {
    const wait = Number(res.headers.get('retry-after')) || 60;
    console.log(`upstream answered 429: throttled for ${wait}s`);
    await agent.throttled(wait); // the next exit is "throttled": a wait of exactly that long, no retry spent
    process.exit(75);            // EX_TEMPFAIL
  }
  if (!res.ok) throw new Error(`upstream answered HTTP ${res.status}`);
  await res.text();
}

async function worker() {
  while (!agent.draining) {
    const n = ++started;
    inflight.add(n);
    try {
      await job(n);
      done++;
    } catch (e) {
      console.error(`job ${n} failed: ${e instanceof Error ? e.message : e}`);
    } finally {
      inflight.delete(n);
    }
  }
}

// A planned stop or restart waits for inflight 0, then sends the stop signal.
const idle = setInterval(() => {}, 60_000); // stay up until that signal, not just until the work ends
process.on('SIGTERM', () => {
  console.log(`stopping after ${done} jobs`);
  clearInterval(idle);
  process.exit(0);
});

await Promise.all([worker(), worker()]);
// Drained: say so now rather than at the next beat, so the stop signal comes without delay.
await agent.heartbeat({ progress: done, inflight: 0, status: 'drained' });
console.log(`drained after ${done} jobs`);
