// Idle footprint: what a fleet that does nothing costs the orchestrator, beside — in the same run,
// against the same services — the floor (bench/lib/idle-floor.mjs: only the probes and /proc reads
// the configuration asks for). Per scenario, over a window with no API calls: CPU % of one core (all
// threads, and the main thread alone), wake-ups per second (context switches of all threads), RSS;
// then probe latency as the orchestrator measured it (sampled afterwards, so the sampling's own
// requests do not count in the CPU figure).
//   node bench/idle-footprint.mjs [scenarios=0,200,1000x1]
//     N       N small Node HTTP services (bench/lib/tiny-service.mjs), default settings: probes every
//             30 s, samples every 5 s
//     Nx1     N `sleep 3600` services whose health endpoints the fleet simulator answers, probed
//             every second (the scenario of health-load.mjs)
//   BENCH_WINDOW=60 (seconds measured)  BENCH_WARMUP=15 (at least; the window starts 125 s after the
//   orchestrator at the earliest)  BENCH_FLOOR=0 skips the floor, BENCH_LATENCY=0
//   the latency sampling: with BENCH_NODE_ARGS="--cpu-prof …" the profile then ends with the window.
//   BENCH_OUTPUT=PREFIX writes each orchestrator's output to PREFIX-<scenario>.log (e.g. with --trace-gc;
//   bench/lib/trace-gc-sum.mjs sums it)  BENCH_RSS_MAP=1 prints, per scenario, where the RSS is at
//   the end of the window (bench/lib/rss-map.mjs) and the main thread's heap (from /metrics)
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atExit, fail, finish, freePort, machine, printTable, ROOT, startFleetSimulator, startOrchestrator, watchProcess } from './lib/orchestrator.mjs';
import { formatRssMap, rssMap } from './lib/rss-map.mjs';
import { summarize } from './lib/stats.mjs';

const SCENARIOS = (process.argv[2] ?? '0,200,1000x1').split(',');
const WINDOW = Number(process.env.BENCH_WINDOW ?? 60);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 15);
const FLOOR = process.env.BENCH_FLOOR !== '0';
const LATENCY = process.env.BENCH_LATENCY !== '0';
const TINY = join(ROOT, 'bench', 'lib', 'tiny-service.mjs');
const STEADY_AFTER_S = 125;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The floor against the same services: its own CPU, wake-ups, RSS and probe latency over the window. */
async function floor(targets, probeMs, sampleMs) {
  const plan = join(tmpdir(), `idle-floor-${process.pid}.json`);
  writeFileSync(plan, JSON.stringify({ probeMs, sampleMs, targets }));
  const child = spawn(process.execPath, [join(ROOT, 'bench', 'lib', 'idle-floor.mjs'), plan], { stdio: ['ignore', 'pipe', 'inherit'] });
  atExit(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  while (!out.includes('ready\n')) {
    if (child.exitCode !== null) throw new Error('the floor script exited before it was ready');
    await sleep(100);
  }
  await sleep(WARMUP * 1000);
  const usage = await watchProcess(child.pid, WINDOW * 1000);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  const result = JSON.parse(out.split('\n').filter(Boolean).pop());
  return { ...usage, latency: summarize(result.latencies), failures: result.failures };
}

/** Probe latency as the orchestrator measured it: each service's last probe, every 5 s for `seconds`. */
async function orchestratorLatency(o, seconds) {
  const values = [];
  for (let t = 0; t < seconds; t += 5) {
    for (const s of await o.services()) if (s.health_check.last) values.push(s.health_check.last.latency_ms);
    await sleep(5000);
  }
  return summarize(values);
}

async function scenario(name, sim) {
  const [, count, fast] = /^(\d+)(x1)?$/.exec(name) ?? [];
  if (count === undefined) throw new Error(`scenario "${name}": expected N or Nx1`);
  const n = Number(count);
  const services = {};
  const urls = {};
  const ports = new Set();
  for (let i = 0; i < n; i++) {
    const id = `svc-${String(i).padStart(4, '0')}`;
    if (fast) {
      urls[id] = `${sim}/health/${id}`;
      services[id] = { executable: 'sleep 3600', health_endpoint: urls[id], stop: { timeout_seconds: 2 } };
    } else {
      // freePort may hand out a port twice (each is free when asked for): every service its own.
      let port;
      do port = await freePort(); while (ports.has(port));
      ports.add(port);
      urls[id] = `http://127.0.0.1:${port}/health`;
      services[id] = { executable: `${process.execPath} ${TINY}`, environment: { PORT: String(port) }, health_endpoint: urls[id], stop: { timeout_seconds: 2 } };
    }
  }
  const probeS = fast ? 1 : 30;
  const spawned = performance.now();
  const o = await startOrchestrator({ services, config: { monitoring: { interval: probeS, timeout: fast ? 2 : 5, sample_interval: 5 } }, waitFor: n ? 'healthy' : null, timeoutMs: 600_000 });
  // Idle means steady: past the start-up's own work, and past the first 2 minutes, in which the
  // event-loop delay is measured for a first scrape whether or not anybody scrapes (metrics.ts).
  await sleep(Math.max(WARMUP * 1000, STEADY_AFTER_S * 1000 - (performance.now() - spawned)));
  const windowFrom = (performance.now() - spawned) / 1000;
  const usage = await watchProcess(o.pid, WINDOW * 1000);
  if (process.env.BENCH_RSS_MAP) await printRssMap(name, o);
  // For a look inside (BENCH_NODE_ARGS="--cpu-prof --trace-gc"): the window in seconds since the start.
  if (process.env.BENCH_NODE_ARGS) process.stderr.write(`${name}: pid ${o.pid}, window --from ${windowFrom.toFixed(1)} --to ${(windowFrom + WINDOW).toFixed(1)}\n`);
  const latency = n && LATENCY ? await orchestratorLatency(o, Math.min(30, WINDOW)) : null;
  const list = n && FLOOR ? await o.services() : [];
  const targets = list.map((s) => ({ url: urls[s.id], pid: s.pid }));
  const base = await (FLOOR && n ? floor(targets, probeS * 1000, 5000) : null);
  await o.stop();
  if (process.env.BENCH_OUTPUT) writeFileSync(`${process.env.BENCH_OUTPUT}-${name}.log`, o.output());
  return { name, n, probeS, usage, latency, base };
}

/** Where the RSS is (bench/lib/rss-map.mjs), with the main thread's V8 heap from /metrics. */
async function printRssMap(name, o) {
  const { text, totalMb } = formatRssMap(rssMap(o.pid), 8);
  const metrics = await (await fetch(`${o.url}/metrics`)).text();
  const gauge = (metric) => Number(new RegExp(`^${metric} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN) / 1048576;
  process.stderr.write(`\n${name}: RSS ${totalMb.toFixed(1)} MB at the end of the window; main thread V8 heap ${gauge('nodejs_heap_size_used_bytes').toFixed(1)} MB used of ${gauge('nodejs_heap_size_total_bytes').toFixed(1)} MB\n${text}\n`);
}

const pct = (x) => x.toFixed(x < 1 ? 2 : 1);
const mb = (b) => (b / 1048576).toFixed(0);
try {
  const sim = SCENARIOS.some((s) => s.endsWith('x1')) ? await startFleetSimulator() : null;
  const results = [];
  for (const name of SCENARIOS) results.push(await scenario(name, sim));
  const rows = [];
  for (const r of results) {
    const what = r.n ? `${r.n} services, probes every ${r.probeS} s` : 'no services';
    rows.push({
      scenario: what, process: 'orchestrator', 'CPU % (one core)': pct(r.usage.cpuPercent), 'main thread %': pct(r.usage.mainPercent),
      'wake-ups/s (main)': `${r.usage.wakeups.toFixed(0)} (${r.usage.mainWakeups.toFixed(0)})`, 'RSS avg MB': mb(r.usage.rssAvg), 'RSS max MB': mb(r.usage.rssMax),
      'probe p50/p99 ms': r.latency ? `${r.latency.p50.toFixed(1)} / ${r.latency.p99.toFixed(1)}` : '',
      '× floor CPU': r.base ? (r.usage.cpuPercent / r.base.cpuPercent).toFixed(1) : '',
    });
    if (r.base) {
      rows.push({
        scenario: what, process: 'floor script', 'CPU % (one core)': pct(r.base.cpuPercent), 'main thread %': pct(r.base.mainPercent),
        'wake-ups/s (main)': `${r.base.wakeups.toFixed(0)} (${r.base.mainWakeups.toFixed(0)})`, 'RSS avg MB': mb(r.base.rssAvg), 'RSS max MB': mb(r.base.rssMax),
        'probe p50/p99 ms': `${r.base.latency.p50.toFixed(1)} / ${r.base.latency.p99.toFixed(1)}`, '× floor CPU': '1',
      });
    }
  }
  process.stdout.write(`\n### Idle footprint (${WINDOW} s window, from ${STEADY_AFTER_S} s after the start at the earliest and ${WARMUP} s after all are healthy, samples every 5 s) — ${machine()}\n\n`);
  printTable(Object.keys(rows[0]), rows);
  const zero = results.find((r) => r.n === 0);
  for (const r of results.filter((x) => x.n && !x.name.endsWith('x1'))) {
    if (zero) process.stdout.write(`\nRSS per added service (${r.n} vs 0): ${((r.usage.rssAvg - zero.usage.rssAvg) / r.n / 1024).toFixed(0)} kB\n`);
  }
  await finish(0);
} catch (err) {
  await fail(err);
}
