#!/usr/bin/env node
// REST throughput: GET /health and GET /api/services (100 services) on the real orchestrator,
// beside a bare uWebSockets.js hello-world measured the same way in the same run.
//
//   npm run build && node bench/rest-throughput.mjs
//   BENCH_DURATION=10 BENCH_CONNECTIONS=50 BENCH_SERVICES=100
//
// Load comes from autocannon (one thread, in this process). The services are `sleep 3600`
// without health endpoints and the rate limit is off, so the figures are the HTTP path itself.
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { atExit, fail, finish, machine, printTable, startOrchestrator } from './lib/orchestrator.mjs';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SERVICES = Number(process.env.BENCH_SERVICES ?? 100);

/** A bare uWS app answering "Hello World!" on every path, in its own process like the orchestrator. */
async function startHello() {
  const code = `
    import uWS from 'uWebSockets.js';
    uWS.App().get('/*', (res) => { res.end('Hello World!'); }).listen('127.0.0.1', 0, (s) => {
      process.stdout.write('port ' + uWS.us_socket_local_port(s) + '\\n');
    });
    process.on('SIGTERM', () => process.exit(0));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: new URL('..', import.meta.url), stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => child.on('exit', r));
  atExit(async () => { if (child.exitCode === null) { child.kill('SIGTERM'); await exited; } });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => { out += c; const m = /port (\d+)/.exec(out); if (m) resolve(Number(m[1])); });
    child.on('exit', (c) => reject(new Error(`hello-world exited with ${c}`)));
  });
  return `http://127.0.0.1:${port}`;
}

function cannon(url, duration) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: CONNECTIONS, duration, pipelining: 1 }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

async function main() {
  process.stderr.write(`starting the orchestrator with ${SERVICES} services…\n`);
  const orch = await startOrchestrator({ count: SERVICES, api: { rate_limit: 0 } });
  const hello = await startHello();
  const targets = [
    ['bare uWS hello-world', `${hello}/`],
    ['GET /health', `${orch.url}/health`],
    [`GET /api/services (${SERVICES})`, `${orch.url}/api/services`],
  ];
  const rows = [];
  for (const [name, url] of targets) {
    process.stderr.write(`${name}: warm-up 2 s, then ${DURATION} s with ${CONNECTIONS} connections…\n`);
    await cannon(url, 2);
    const r = await cannon(url, DURATION);
    rows.push({
      target: name,
      'req/s (avg)': Math.round(r.requests.average).toLocaleString('en-US'),
      'p50 ms': r.latency.p50,
      'p99 ms': r.latency.p99,
      'MB/s': (r.throughput.average / 1e6).toFixed(1),
      'bytes/resp': Math.round(r.throughput.total / Math.max(1, r.requests.total)),
      'errors/non-2xx': `${r.errors}/${r.non2xx}`,
    });
  }
  const list = await (await fetch(`${orch.url}/api/services`)).json();
  orch.refreshPids(list.services.map((s) => s.pid).filter(Boolean));
  process.stdout.write(`\nREST throughput — ${machine()}; ${CONNECTIONS} connections, ${DURATION} s each, autocannon in-process\n\n`);
  printTable(['target', 'req/s (avg)', 'p50 ms', 'p99 ms', 'MB/s', 'bytes/resp', 'errors/non-2xx'], rows);
}

main().then(() => finish(0), fail);
