#!/usr/bin/env node
// REST throughput: GET /health and GET /api/services on the real orchestrator, once per HTTP engine
// (uws, node), each beside its floor — a bare hello-world on the same stack (native uWebSockets.js,
// node:http) in its own process, measured the same way in the same run.
//
//   npm run build && node bench/rest-throughput.mjs
//   BENCH_DURATION=10 BENCH_CONNECTIONS=50 BENCH_SERVICES=100 BENCH_ENGINES=uws,node
//
// Load comes from autocannon (one thread, in this process). The services are `sleep 3600`
// without health endpoints and the rate limit is off, so the figures are the HTTP path itself.
// Per engine, one after the other: the orchestrator (ORCHESTRATOR_HTTP_ENGINE=<engine>) and the
// engine's floor run side by side, and GET /health and the floor are measured in turns — floor,
// /health, /health, floor, each for half of BENCH_DURATION — so that the machine's drift (it is
// shared, and moves by tens of percent within a minute) hits both alike; req/s is each one's total
// over its turns. Where no native uWS binary loads, the uws engine and the bare uWS floor are
// skipped with the reason.
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { atExit, benchEngines, fail, finish, machine, printTable, ROOT, startOrchestrator } from './lib/orchestrator.mjs';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SERVICES = Number(process.env.BENCH_SERVICES ?? 100);
const ENGINES = benchEngines();
const FLOOR_NAME = { uws: 'bare uWS hello-world', node: 'bare node:http hello-world' };

/** A bare hello-world (bench/lib/hello-world.mjs) in its own process: { url, stop } or { skip }. */
async function startHello(kind) {
  const child = spawn(process.execPath, [join(ROOT, 'bench', 'lib', 'hello-world.mjs'), kind], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => child.on('exit', r));
  const stop = async () => { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGTERM'); await exited; } };
  atExit(stop);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const m = /port (\d+)/.exec(out);
      if (m) resolve({ url: `http://127.0.0.1:${m[1]}`, stop });
      const s = /skip (.*)/.exec(out);
      if (s) resolve({ skip: s[1] });
    });
    child.on('exit', (c) => reject(new Error(`hello-world ${kind} exited with ${c}`)));
  });
}

function cannon(url, duration) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: CONNECTIONS, duration, pipelining: 1 }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** Measure `url` for `seconds` (after `warm` s of warm-up): the raw autocannon result. */
async function run(label, url, seconds, warm = 0) {
  process.stderr.write(`${label}: ${warm ? `warm-up ${warm} s, then ` : ''}${seconds} s with ${CONNECTIONS} connections…\n`);
  if (warm) await cannon(url, warm);
  const r = await cannon(url, seconds);
  process.stderr.write(`  ${Math.round(r.requests.average)} req/s\n`);
  return r;
}

/** One table row from one or more autocannon results of the same target. */
function row(engine, target, results) {
  const total = results.reduce((n, r) => n + r.requests.total, 0);
  const seconds = results.reduce((n, r) => n + r.duration, 0);
  const bytes = results.reduce((n, r) => n + r.throughput.total, 0);
  const reqs = total / seconds;
  return {
    engine,
    target,
    reqs,
    'req/s (avg)': Math.round(reqs).toLocaleString('en-US'),
    // Over several turns: the p50 of the turns' p50s' mean, the worst turn's p99.
    'p50 ms': Math.round(results.reduce((n, r) => n + r.latency.p50, 0) / results.length),
    'p99 ms': Math.max(...results.map((r) => r.latency.p99)),
    'MB/s': (bytes / seconds / 1e6).toFixed(1),
    'bytes/resp': Math.round(bytes / Math.max(1, total)),
    'errors/non-2xx': `${results.reduce((n, r) => n + r.errors, 0)}/${results.reduce((n, r) => n + r.non2xx, 0)}`,
    turns: results.map((r) => Math.round(r.requests.average).toLocaleString('en-US')).join(' / '),
  };
}

async function main() {
  const rows = [];
  const notes = [];
  const ratios = [];
  const half = DURATION / 2;
  for (const engine of ENGINES) {
    process.stderr.write(`starting the orchestrator (engine ${engine}) with ${SERVICES} services…\n`);
    let orch;
    try {
      orch = await startOrchestrator({ count: SERVICES, api: { rate_limit: 0 }, engine });
    } catch (e) {
      const why = /http_engine: [^\n]*/.exec(e.message)?.[0] ?? e.message.split('\n')[0];
      notes.push(`engine ${engine}: skipped — the orchestrator did not start with it (${why})`);
      continue;
    }
    if (orch.engine !== engine) notes.push(`engine ${engine}: asked for, but /health says "${orch.engine}"`);
    const health = `${orch.url}/health`;
    const hello = await startHello(engine);
    if (hello.skip) {
      notes.push(`${FLOOR_NAME[engine]}: skipped — ${hello.skip}`);
      rows.push(row(orch.engine, 'GET /health', [await run(`${engine} GET /health`, health, DURATION, 2)]));
    } else {
      // Floor and /health in turns, ABBA, each warmed up once.
      const floorUrl = `${hello.url}/`;
      const f1 = await run(`${engine} ${FLOOR_NAME[engine]}`, floorUrl, half, 2);
      const h1 = await run(`${engine} GET /health`, health, half, 2);
      const h2 = await run(`${engine} GET /health`, health, half);
      const f2 = await run(`${engine} ${FLOOR_NAME[engine]}`, floorUrl, half);
      await hello.stop();
      const floor = row(engine, FLOOR_NAME[engine], [f1, f2]);
      const h = row(orch.engine, 'GET /health', [h1, h2]);
      const pct = (h.reqs / floor.reqs) * 100;
      floor['% of floor'] = '100';
      h['% of floor'] = pct.toFixed(0);
      rows.push(floor, h);
      ratios.push(`${orch.engine} engine: GET /health ${h['req/s (avg)']} req/s = ${pct.toFixed(0)} % of ${FLOOR_NAME[engine]} (${floor['req/s (avg)']})`);
    }
    rows.push(row(orch.engine, `GET /api/services (${SERVICES})`, [await run(`${engine} GET /api/services`, `${orch.url}/api/services`, DURATION, 2)]));
    const list = await (await fetch(`${orch.url}/api/services`)).json();
    orch.refreshPids(list.services.map((s) => s.pid).filter(Boolean));
    process.stderr.write(`stopping the orchestrator (engine ${engine})…\n`);
    await orch.stop();
  }
  process.stdout.write(`\nREST throughput — ${machine()}; ${CONNECTIONS} connections, autocannon in-process; floor and GET /health in turns (floor, /health, /health, floor; ${half} s each), GET /api/services ${DURATION} s\n\n`);
  printTable(['engine', 'target', 'req/s (avg)', '% of floor', 'turns', 'p50 ms', 'p99 ms', 'MB/s', 'bytes/resp', 'errors/non-2xx'], rows);
  if (ratios.length || notes.length) process.stdout.write(`\n${[...ratios, ...notes].map((l) => `- ${l}`).join('\n')}\n`);
}

main().then(() => finish(0), fail);
