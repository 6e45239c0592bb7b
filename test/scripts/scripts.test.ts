/**
 * The seed's four scripts end to end, in a temporary copy of the project with its own ports and a
 * single fast service: start (building on first run), start again, status, stop, stop again, and
 * stale pid files that must never get an unrelated process killed.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive } from '../helpers/harness.js';
import { freePort, until } from '../helpers/process.mjs';
import { start, type RunResult } from '../cli/run.js';
import { copyProject, ourProcesses } from './copy.js';

interface Health { pid: number; status: string }
interface Svc { id: string; state: string; health: string; pid: number | null }

const getJson = async <T>(url: string): Promise<T | undefined> => {
  try {
    const res = await fetch(url);
    return res.ok ? (await res.json()) as T : undefined;
  } catch {
    return undefined;
  }
};

t.test('start, start again, status, stop, stop again; stale pid files', async (t) => {
  const [apiPort, dashPort, webPort] = [await freePort(), await freePort(), await freePort()];
  const copy = copyProject(t, {
    web: {
      id: 'web', type: 'ai-agent', executable: 'node ../test/fixtures/healthy.mjs',
      health_endpoint: `http://127.0.0.1:${webPort}/health`, environment: { PORT: String(webPort) },
      health: { interval_seconds: 1 },
    },
  });
  const env = { ORCHESTRATOR_PORT: String(apiPort), DASHBOARD_PORT: String(dashPort), STOP_TIMEOUT: '30' };
  const run = (script: string): Promise<RunResult> => start(t, join(copy.dir, script), [], { cwd: copy.dir, env, timeoutMs: 120_000 }).exited;
  const api = `http://127.0.0.1:${apiPort}`;

  // --- start (first run builds dist/)
  t.notOk(existsSync(join(copy.dir, 'dist', 'cli.js')), 'the copy starts without a build');
  const first = await run('start-orchestrator.sh');
  t.equal(first.code, 0, `start-orchestrator.sh exits 0\n${first.stderr}`);
  t.ok(existsSync(join(copy.dir, 'dist', 'cli.js')), 'it built dist/ on its first run');
  const pid = copy.pid('orchestrator')!;
  t.ok(pid > 0 && alive(pid), 'orchestrator.pid names a live process');
  t.match(first.stdout, new RegExp(`orchestrator running \\(pid ${pid}\\)\\n  API:\\s+${api}/api/services\\n`), 'prints the URLs');
  const health = (await getJson<Health>(`${api}/health`))!;
  t.equal(health.pid, pid, 'the pid file is the process answering /health (the script returned after /health answered)');
  const web = await until(async () => {
    const s = await getJson<Svc>(`${api}/api/services/web`);
    return s?.health === 'healthy' ? s : undefined;
  }, { what: 'web healthy', timeoutMs: 20_000, everyMs: 100 });
  t.ok(web.pid && alive(web.pid), 'the orchestrator runs the copy\'s service');

  // --- start again: no second instance
  const again = await run('start-orchestrator.sh');
  t.equal(again.code, 0);
  t.match(again.stdout, new RegExp(`already running \\(pid ${pid}\\)`));
  t.equal(copy.pid('orchestrator'), pid, 'pid file unchanged');
  t.same(ourProcesses(copy.dir, 'serve'), [pid], 'exactly one orchestrator process');

  // --- dashboard
  const dash = await run('start-dashboard.sh');
  t.equal(dash.code, 0, dash.stderr);
  const dpid = copy.pid('dashboard')!;
  t.match(dash.stdout, new RegExp(`dashboard running \\(pid ${dpid}\\): http://localhost:${dashPort}`));
  t.same(await getJson(`http://127.0.0.1:${dashPort}/config.json`), { apiBase: api }, 'the dashboard points at this orchestrator');
  const dashAgain = await run('start-dashboard.sh');
  t.equal(dashAgain.code, 0);
  t.match(dashAgain.stdout, /dashboard already running/);
  t.same(ourProcesses(copy.dir, 'dashboard'), [dpid], 'exactly one dashboard process');

  // --- status
  const status = await run('status.sh');
  t.equal(status.code, 0, status.stderr);
  t.match(status.stdout, new RegExp(`orchestrator\\s+running\\s+pid ${pid}\\s+${api}`));
  t.match(status.stdout, new RegExp(`dashboard\\s+running\\s+pid ${dpid}\\s+http://localhost:${dashPort}`));
  t.match(status.stdout, new RegExp(`\\nweb\\s+ai-agent\\s+running\\s+healthy\\s+yes\\s+${web.pid}`), 'service status via the CLI');
  t.match(status.stdout, /logs\/orchestrator\.log:\n(  .*\n)+/, 'recent orchestrator log lines');
  t.match(status.stdout, /INFO\s+\[web\] spawned/, 'rendered from the structured log');
  t.match(status.stdout, /logs\/dashboard\.log:\n(  .*\n)*  .*dashboard on http/, 'recent dashboard log lines');

  // --- stop: services first (the orchestrator stops them on SIGTERM), then everything is gone
  const stop = await run('stop-services.sh');
  t.equal(stop.code, 0, stop.stderr);
  t.match(stop.stdout, /dashboard: stopped\n[^]*orchestrator: stopped\n/);
  t.notOk(alive(pid), 'orchestrator gone');
  t.notOk(alive(dpid), 'dashboard gone');
  t.notOk(alive(web.pid!), 'the service it supervised was stopped too');
  t.notOk(existsSync(join(copy.dir, 'orchestrator.pid')) || existsSync(join(copy.dir, 'dashboard.pid')), 'pid files removed');
  const orchLog = readFileSync(join(copy.dir, 'logs', 'orchestrator.log'), 'utf8');
  t.match(orchLog, /"msg":"shutting down"[^]*"msg":"orchestrator stopped"/, 'logs/orchestrator.log records the clean shutdown');
  t.ok(readFileSync(join(copy.dir, 'logs', 'dashboard.log'), 'utf8').includes('dashboard stopping'), 'logs/dashboard.log too');

  const stopAgain = await run('stop-services.sh');
  t.equal(stopAgain.code, 0, 'stopping again is harmless');
  t.match(stopAgain.stdout, /dashboard: not running\norchestrator: not running\n/);
  const statusDown = await run('status.sh');
  t.equal(statusDown.code, 1, 'status.sh exits 1 when the orchestrator is down');
  t.match(statusDown.stdout, /orchestrator\s+not running/);
  t.match(statusDown.stderr, /cannot reach the orchestrator/);

  // --- stale pid files: an unrelated live process, and a process that is gone
  const bystander = spawn('sleep', ['600'], { stdio: 'ignore' });
  t.teardown(() => { bystander.kill('SIGKILL'); });
  const gone = spawn('true', [], { stdio: 'ignore' });
  await new Promise((r) => gone.on('exit', r));
  writeFileSync(join(copy.dir, 'orchestrator.pid'), `${bystander.pid}\n`);
  writeFileSync(join(copy.dir, 'dashboard.pid'), `${gone.pid}\n`);
  const stale = await run('stop-services.sh');
  t.equal(stale.code, 0);
  t.match(stale.stderr, new RegExp(`orchestrator\\.pid: stale \\(pid ${bystander.pid} is now another program: sleep 600`));
  t.match(stale.stderr, new RegExp(`dashboard\\.pid: stale \\(process ${gone.pid} is gone\\)`));
  t.ok(alive(bystander.pid!), 'the unrelated process was not killed');
  t.notOk(existsSync(join(copy.dir, 'orchestrator.pid')), 'the stale pid file was removed');

  writeFileSync(join(copy.dir, 'orchestrator.pid'), `${bystander.pid}\n`);
  const restart = await run('start-orchestrator.sh');
  t.equal(restart.code, 0, `a stale pid file does not stop a start\n${restart.stderr}`);
  t.notMatch(restart.stdout, /already running/);
  const pid2 = copy.pid('orchestrator')!;
  t.not(pid2, bystander.pid);
  t.equal((await getJson<Health>(`${api}/health`))?.pid, pid2, 'a new orchestrator answers');
  t.ok(alive(bystander.pid!), 'still not killed');
  const stop2 = await run('stop-services.sh');
  t.equal(stop2.code, 0);
  t.notOk(alive(pid2));
  t.ok(alive(bystander.pid!), 'and still alive after the last stop');
});

t.test('start-orchestrator.sh refuses when another orchestrator already answers on its port', async (t) => {
  const apiPort = await freePort();
  const copy = copyProject(t, {});
  const env = { ORCHESTRATOR_PORT: String(apiPort) };
  const first = await start(t, join(copy.dir, 'start-orchestrator.sh'), [], { cwd: copy.dir, env, timeoutMs: 120_000 }).exited;
  t.equal(first.code, 0, first.stderr);
  const pid = copy.pid('orchestrator')!;
  // The pid file is lost (say, deleted by hand): the script must not start a second one blindly.
  writeFileSync(join(copy.dir, 'orchestrator.pid'), '');
  const second = await start(t, join(copy.dir, 'start-orchestrator.sh'), [], { cwd: copy.dir, env, timeoutMs: 120_000 }).exited;
  t.equal(second.code, 1);
  t.match(second.stderr, /an orchestrator not started by this script is already answering/);
  t.same(ourProcesses(copy.dir, 'serve'), [pid], 'still exactly one');
  // Clean up by pid, as the pid file no longer names it.
  writeFileSync(join(copy.dir, 'orchestrator.pid'), `${pid}\n`);
  const stop = await start(t, join(copy.dir, 'stop-services.sh'), [], { cwd: copy.dir, env }).exited;
  t.equal(stop.code, 0);
  t.notOk(alive(pid));
});
