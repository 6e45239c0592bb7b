// kill -9 of a supervised service → the orchestrator reports its new pid (backoff 0), over N kills,
// beside a bare child_process.spawn of the same command in the same run.
//   node bench/crash-restart.mjs [kills=100]
import { spawn } from 'node:child_process';
import { WebSocket } from 'undici';
import { startOrchestrator } from './lib/orchestrator.mjs';
import { summarize, table } from './lib/stats.mjs';

const KILLS = Number(process.argv[2] ?? 100);
const COMMAND = ['sleep', '3600'];

async function bareSpawn(n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const child = spawn(COMMAND[0], COMMAND.slice(1), { detached: true, stdio: 'ignore' });
    await new Promise((resolve, reject) => { child.once('spawn', resolve); child.once('error', reject); });
    times.push(performance.now() - t0);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
  return times;
}

async function crashRestart(n) {
  const o = await startOrchestrator({
    services: { victim: { executable: COMMAND.join(' '), restart_policy: { backoff_seconds: 0, max_retries: 1_000_000 } } },
  });
  try {
    const ws = new WebSocket(`${o.url.replace('http', 'ws')}/ws`);
    let waiting = null;
    ws.addEventListener('message', (m) => {
      const msg = JSON.parse(m.data);
      if (msg.type === 'event' && msg.event.type === 'state' && msg.event.data.to === 'running' && waiting && msg.event.data.pid !== waiting.oldPid) {
        const w = waiting;
        waiting = null;
        w.resolve(msg.event.data.pid);
      }
    });
    await new Promise((r) => ws.addEventListener('open', r));
    let pid = (await (await fetch(`${o.url}/api/services/victim`)).json()).pid;
    const times = [];
    for (let i = 0; i < n; i++) {
      const next = new Promise((resolve) => { waiting = { oldPid: pid, resolve }; });
      const t0 = performance.now();
      process.kill(pid, 'SIGKILL');
      pid = await next;
      times.push(performance.now() - t0);
    }
    ws.close();
    return times;
  } finally {
    await o.stop();
  }
}

const bare = summarize(await bareSpawn(KILLS));
const crash = summarize(await crashRestart(KILLS));
process.stdout.write(`${table(`crash → new pid (${KILLS} kills, backoff 0, ms)`, ['', 'n', 'p50', 'p95', 'p99', 'max'], [
  ['bare child_process.spawn', bare.n, bare.p50, bare.p95, bare.p99, bare.max],
  ['kill -9 → new pid on /ws', crash.n, crash.p50, crash.p95, crash.p99, crash.max],
])}\n`);
