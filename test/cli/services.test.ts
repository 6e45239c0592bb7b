/**
 * The seed's verbs: status, list, show, start, stop, restart (and health).
 * Each command runs as a real child process (bin/orchestrator.js) against a real orchestrator
 * (test harness: worker thread, child processes, SQLite, uWS on a random port).
 */
import t from 'tap';
import { alive, harness, node } from '../helpers/harness.js';
import { freePort } from '../helpers/process.mjs';
import { cli } from './run.js';

const ANSI = /\u001b\[/;

t.test('status, list, show, start, stop, restart, health', async (t) => {
  const port = await freePort();
  const h = await harness(t, {
    http: true,
    services: {
      web: { id: 'web', name: 'Web Agent', type: 'ai-agent', executable: node('healthy.mjs'), health_endpoint: `http://127.0.0.1:${port}/health`, environment: { PORT: port } },
      manual: { id: 'manual', executable: node('sleeper.mjs'), auto_start: false },
    },
  });
  const web = await h.waitView('web', (v) => v.state === 'running' && v.health === 'healthy', 'web healthy');
  const u = ['--url', h.url];

  const status = await cli(t, ['status', ...u]);
  t.equal(status.code, 0, 'status exits 0');
  t.match(status.stdout, /^ok\s+orchestrator \S+ at http:\/\/127\.0\.0\.1:\d+, pid \d+/, 'status line first');
  t.match(status.stdout, /\nID\s+TYPE\s+STATE\s+HEALTH\s+READY\s+PID\s+UPTIME\s+RESTARTS\s+HEARTBEAT\s+CPU\s+MEM\s+NOTE\n/, 'header');
  t.match(status.stdout, /\nweb\s+ai-agent\s+running\s+healthy\s+yes\s+\d+\s+\S+\s+0\s+-\s/, 'service row: ready, no heartbeat yet');
  t.match(status.stdout, /\nmanual\s+service\s+stopped\s+-\s+-\s+-/, 'stopped service row');
  t.notMatch(status.stdout, ANSI, 'no colour when stdout is not a terminal');
  t.equal(status.stderr, '');

  const statusJson = JSON.parse((await cli(t, ['status', '--json', ...u])).stdout) as { orchestrator: { status: string; pid: number }; services: Array<{ id: string }> };
  t.equal(statusJson.orchestrator.status, 'ok');
  t.equal(statusJson.orchestrator.pid, process.pid, 'the orchestrator is this test process');
  t.same(statusJson.services.map((s) => s.id).sort(), ['manual', 'web']);

  const list = await cli(t, ['list', ...u]);
  t.equal(list.code, 0);
  const lines = list.stdout.trimEnd().split('\n');
  t.equal(lines.length, 3, 'header and two rows');
  const col = lines[0]!.indexOf('STATE');
  t.ok(col > 0);
  for (const line of lines.slice(1)) t.match(line.slice(col), /^(running|stopped) /, `STATE column aligned: ${line}`);
  t.equal(lines[0]!.indexOf('PID'), lines[1]!.indexOf(String(web.pid)) === -1 ? lines[2]!.indexOf(String(web.pid)) : lines[1]!.indexOf(String(web.pid)), 'PID column aligned');

  const coloured = await cli(t, ['list', ...u], { env: { FORCE_COLOR: '1' } });
  t.match(coloured.stdout, /\u001b\[32mrunning\u001b\[39m/, 'FORCE_COLOR colours states');
  const noColour = await cli(t, ['list', '--no-color', ...u], { env: { FORCE_COLOR: '1' } });
  t.notMatch(noColour.stdout, ANSI, '--no-color wins');

  const listJson = JSON.parse((await cli(t, ['list', '--json', ...u])).stdout) as { services: Array<{ id: string; state: string }>; count: number };
  t.equal(listJson.count, 2);
  const running = JSON.parse((await cli(t, ['list', '--state', 'running', '--json', ...u])).stdout) as { services: Array<{ id: string }> };
  t.same(running.services.map((s) => s.id), ['web'], '--state filters');

  const show = await cli(t, ['show', 'web', ...u]);
  t.equal(show.code, 0);
  t.match(show.stdout, /^web\n/);
  t.match(show.stdout, /name:\s+Web Agent \(ai-agent\)/);
  t.match(show.stdout, /state:\s+running/);
  t.match(show.stdout, new RegExp(`health:\\s+healthy\\s+http://127\\.0\\.0\\.1:${port}/health`));
  t.match(show.stdout, new RegExp(`pid:\\s+${web.pid}`));
  t.match(show.stdout, /\nready:\s+yes\n/);
  t.notMatch(show.stdout, /heartbeat:|throttled until:/, 'no heartbeat lines for a service that never sent one');
  t.match(show.stdout, /executable:\s+\S*node\S* \S*healthy\.mjs/);
  t.match(show.stdout, /recent events\nTIME\s+EVENT\s+DETAILS\n/);
  const showJson = JSON.parse((await cli(t, ['show', 'web', '--json', ...u])).stdout) as { id: string; pid: number; spec: { executable: string } };
  t.equal(showJson.pid, web.pid);
  t.match(showJson.spec.executable, /healthy\.mjs/);

  const started = await cli(t, ['start', 'manual', '--wait', ...u]);
  t.equal(started.code, 0, started.stderr);
  t.match(started.stdout, /^manual started: running, pid \d+\n$/);
  t.equal(h.view('manual').state, 'running', 'the orchestrator agrees');
  t.ok(alive(h.view('manual').pid!), 'and the process is alive');

  const manualPid = h.view('manual').pid!;
  const stopped = await cli(t, ['stop', 'manual', '--wait', ...u]);
  t.equal(stopped.code, 0, stopped.stderr);
  t.match(stopped.stdout, /^manual stopped: stopped\n$/);
  t.equal(h.view('manual').state, 'stopped');
  t.notOk(alive(manualPid), 'the process is gone');

  const restarted = await cli(t, ['restart', 'web', '--wait', ...u]);
  t.equal(restarted.code, 0, restarted.stderr);
  const newPid = Number(/pid (\d+)/.exec(restarted.stdout)?.[1]);
  t.not(newPid, web.pid, 'restart --wait waits for a new process');
  t.equal(h.view('web').pid, newPid);
  t.equal(h.view('web').health, 'healthy', 'and for it to be healthy');
  t.notOk(alive(web.pid!), 'the old process is gone');

  const noWait = await cli(t, ['start', 'manual', ...u]);
  t.equal(noWait.code, 0);
  t.match(noWait.stdout, /^start requested for manual: now (starting|running)\n$/);
  await h.waitView('manual', (v) => v.state === 'running', 'manual running after start without --wait');
  const noWaitJson = await cli(t, ['stop', 'manual', '--json', ...u]);
  t.equal((JSON.parse(noWaitJson.stdout) as { id: string }).id, 'manual', 'stop --json prints the service');
  await h.waitView('manual', (v) => v.state === 'stopped', 'manual stopped');

  const health = await cli(t, ['health', ...u]);
  t.equal(health.code, 0);
  t.match(health.stdout, /^ok\s+orchestrator/);
  t.equal((JSON.parse((await cli(t, ['health', '--json', ...u])).stdout) as { pid: number }).pid, process.pid);

});
