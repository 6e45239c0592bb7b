// kill -9 of a supervised service (backoff 0): how long until its new process begins, until the
// orchestrator reports the new pid, and until it is healthy again — beside, in the same run, a bare
// child_process.spawn of the same command, a bare restart loop (the floor any supervisor has: the
// kernel's exit notice plus a spawn) and the service's own boot time (bare spawn until /health
// answers). "New process begins" is the new process's own clock (its performance.timeOrigin, from
// the service's /started), against the wall time of the kill: the same measure for the bare loop
// and the orchestrator, whatever each does after the spawn.
//   node bench/crash-restart.mjs [kills=200]
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { WebSocket } from 'undici';
import { fail, finish, freePort, machine, printTable, ROOT, startOrchestrator } from './lib/orchestrator.mjs';
import { summarize } from './lib/stats.mjs';

const KILLS = Number(process.argv[2] ?? 200);
const SERVICE = join(ROOT, 'bench', 'lib', 'tiny-service.mjs');
/** Wall time now, in ms since the epoch with fractions: comparable with another process's performance.timeOrigin. */
const wallNow = () => performance.timeOrigin + performance.now();
/** When the process that answers on `port` began (its performance.timeOrigin). */
const startedAt = async (port) => (await (await fetch(`http://127.0.0.1:${port}/started`)).json()).at;

// The floor, measured in the same run: a minimal supervisor in a few lines. Each child is spawned
// (spawnMs: to its spawn event), waited for until /health answers (bootMs), then killed; the next
// child is spawned as soon as the exit event comes (restartMs: kill -9 → exit → new spawn event).
async function bare(n, port) {
  const spawnMs = [];
  const bootMs = [];
  const restartMs = [];
  const beganMs = [];
  let killedAt = null;
  let killedWall = null;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const child = spawn(process.execPath, [SERVICE], { detached: true, stdio: 'ignore', env: { ...process.env, PORT: String(port) } });
    await new Promise((resolve, reject) => { child.once('spawn', resolve); child.once('error', reject); });
    const t1 = performance.now();
    spawnMs.push(t1 - t0);
    if (killedAt !== null) restartMs.push(t1 - killedAt);
    for (;;) {
      try { if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) break; } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 1));
    }
    bootMs.push(performance.now() - t0);
    if (killedWall !== null) beganMs.push((await startedAt(port)) - killedWall);
    const exited = new Promise((r) => child.once('exit', r));
    killedWall = wallNow();
    killedAt = performance.now();
    child.kill('SIGKILL');
    await exited;
  }
  return { spawnMs, bootMs, restartMs, beganMs };
}

async function supervised(n, port) {
  const o = await startOrchestrator({
    services: { victim: { executable: `${process.execPath} ${SERVICE}`, environment: { PORT: port }, health_endpoint: `http://127.0.0.1:${port}/health`, health: { interval_seconds: 30 }, restart_policy: { backoff_seconds: 0, max_retries: 1_000_000 } } },
    waitFor: 'healthy',
  });
  const ws = new WebSocket(`${o.url.replace('http', 'ws')}/ws?topics=service/victim`);
  let waiting = null;
  ws.addEventListener('message', (m) => {
    const msg = JSON.parse(m.data);
    const events = msg.type === 'event' ? [msg.event] : msg.type === 'events' ? msg.events : [];
    for (const e of events) {
      if (!waiting) return;
      if (e.type === 'state' && e.data.to === 'running' && e.data.pid !== waiting.oldPid && waiting.pidAt === null) waiting.pidAt = performance.now();
      if (e.type === 'health' && e.data.to === 'healthy' && waiting.pidAt !== null) { const w = waiting; waiting = null; w.resolve(performance.now()); }
    }
  });
  await new Promise((r) => ws.addEventListener('open', r));
  let pid = (await (await fetch(`${o.url}/api/services/victim`)).json()).pid;
  const pidMs = [];
  const healthyMs = [];
  const beganMs = [];
  for (let i = 0; i < n; i++) {
    const w = { oldPid: pid, pidAt: null, resolve: null };
    const healthy = new Promise((resolve) => { w.resolve = resolve; });
    waiting = w;
    const wall0 = wallNow();
    const t0 = performance.now();
    process.kill(pid, 'SIGKILL');
    const t1 = await healthy;
    pidMs.push(w.pidAt - t0);
    healthyMs.push(t1 - t0);
    beganMs.push((await startedAt(port)) - wall0);
    pid = (await (await fetch(`${o.url}/api/services/victim`)).json()).pid;
  }
  ws.close();
  await o.stop();
  return { pidMs, healthyMs, beganMs };
}

try {
  const port = await freePort();
  const b = await bare(KILLS, port);
  const s = await supervised(KILLS, port);
  const row = (name, values) => { const x = summarize(values); return { '': name, n: x.n, 'p50 ms': x.p50.toFixed(1), 'p95 ms': x.p95.toFixed(1), 'p99 ms': x.p99.toFixed(1), 'max ms': x.max.toFixed(1) }; };
  process.stdout.write(`\n### Crash → new pid, crash → healthy (kill -9, backoff 0, ${KILLS} kills) — ${machine()}\n\n`);
  printTable(['', 'n', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'], [
    row('bare child_process.spawn (to the spawn event)', b.spawnMs),
    row('bare restart: kill -9 → exit event → spawn event', b.restartMs),
    row('bare restart: kill -9 → new process begins', b.beganMs),
    row('kill -9 → new process begins', s.beganMs),
    row('kill -9 → new pid reported (/ws)', s.pidMs),
    row('service boot: bare spawn → /health answers', b.bootMs),
    row('kill -9 → healthy again (/ws)', s.healthyMs),
  ]);
  await finish(0);
} catch (err) {
  await fail(err);
}
