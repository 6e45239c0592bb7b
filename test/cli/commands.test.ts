/**
 * Every CLI verb as a real child process against a real orchestrator (harness: worker thread,
 * child processes, SQLite, uWS on a random port).
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { alive, freePort, harness, node } from '../helpers/harness.js';
import { cli, startCli } from './run.js';

const ANSI = /\u001b\[/;

t.test('status, list, show, start, stop, restart, health, url', async (t) => {
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
  t.match(status.stdout, /\nweb\s+ai-agent\s+running\s+healthy\s+\d+/, 'service row');
  t.match(status.stdout, /\nmanual\s+service\s+stopped\s+-\s+-/, 'stopped service row');
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

  const url = await cli(t, ['url', ...u]);
  t.equal(url.stdout, `${h.url}\n`);
  const fromEnv = await cli(t, ['url'], { env: { ORCHESTRATOR_URL: `${h.url}/` } });
  t.equal(fromEnv.stdout, `${h.url}\n`, 'ORCHESTRATOR_URL is used (trailing slash dropped)');
  const fromConfig = await cli(t, ['url', '--config', join(h.dir, 'orchestrator.yaml')], { env: { ORCHESTRATOR_PORT: '4567' } });
  t.equal(fromConfig.stdout, 'http://127.0.0.1:4567\n', 'host and port come from the config file, with ORCHESTRATOR_PORT applied');
  const viaConfig = await cli(t, ['list', '--json', '--config', join(h.dir, 'orchestrator.yaml')], { env: { ORCHESTRATOR_PORT: String(h.http!.port) } });
  t.equal(viaConfig.code, 0, 'a command finds the orchestrator through its config file');
});

t.test('logs: tail, streams, line count, json; -f follows until SIGINT and exits 0', async (t) => {
  const port = await freePort();
  const h = await harness(t, {
    http: true,
    services: { web: { id: 'web', executable: node('healthy.mjs'), health_endpoint: `http://127.0.0.1:${port}/health`, environment: { PORT: port } } },
  });
  const first = await h.waitView('web', (v) => v.health === 'healthy', 'web healthy');
  const u = ['--url', h.url];

  const both = await cli(t, ['logs', 'web', ...u]);
  t.equal(both.code, 0);
  t.match(both.stdout, new RegExp(`out\\| booting pid ${first.pid}\\n`), 'stdout lines tagged');
  t.match(both.stdout, /err\| a line on stderr\n/, 'stderr lines tagged');

  const stderrOnly = await cli(t, ['logs', 'web', '--stream', 'stderr', ...u]);
  t.equal(stderrOnly.stdout, 'a line on stderr\n', 'one stream: untagged lines of that stream only');
  const one = await cli(t, ['logs', 'web', '--stream', 'stdout', '--lines', '1', ...u]);
  t.equal(one.stdout.trimEnd().split('\n').length, 1, '--lines 1');
  t.match(one.stdout, /listening on \d+/, 'the last line');
  const json = (await cli(t, ['logs', 'web', '--json', ...u])).stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { stream: string; line: string });
  t.ok(json.some((l) => l.stream === 'stderr' && l.line === 'a line on stderr'), '--json gives {stream, line}');
  const bad = await cli(t, ['logs', 'web', '--stream', 'both!', ...u]);
  t.equal(bad.code, 2, 'a bad --stream is a usage error');

  const f = startCli(t, ['logs', 'web', '-f', '--stream', 'stdout', ...u]);
  await f.waitOutput(new RegExp(`booting pid ${first.pid}\\n`));
  // New output only arrives live: restart the service and wait for its new first line.
  await fetch(`${h.url}/api/services/web/restart`, { method: 'PUT' });
  const second = await h.waitView('web', (v) => v.state === 'running' && v.pid !== first.pid && v.health === 'healthy', 'restarted');
  await f.waitOutput(new RegExp(`booting pid ${second.pid}\\n`));
  t.equal(f.stdout.split(`booting pid ${second.pid}`).length, 2, 'each live line printed once');
  t.notMatch(f.stdout, /a line on stderr/, '--stream stdout holds for live lines too');
  f.child.kill('SIGINT');
  const end = await f.exited;
  t.equal(end.code, 0, 'Ctrl-C ends -f with exit 0');
  t.equal(end.signal, null, 'by exiting, not by dying of the signal');
  t.equal(end.stderr, '', 'quietly');
});

t.test('events: history, --service, --since, json; -f follows live until SIGINT', async (t) => {
  const h = await harness(t, {
    http: true,
    services: { sleepy: { id: 'sleepy', executable: node('sleeper.mjs'), auto_start: false } },
  });
  const u = ['--url', h.url];
  const hist = await cli(t, ['events', ...u]);
  t.equal(hist.code, 0);
  t.match(hist.stdout, /#\d+\s+-\s+orchestrator_started/, 'history shows orchestrator events');

  const f = startCli(t, ['events', '-f', '-n', '1', ...u]);
  await f.waitOutput(/#\d+/);
  await fetch(`${h.url}/api/services/sleepy/start`, { method: 'PUT' });
  await f.waitOutput(/sleepy\s+state\s+from=starting to=running/);
  f.child.kill('SIGINT');
  const end = await f.exited;
  t.equal(end.code, 0, 'SIGINT ends events -f with exit 0');
  const seqs = [...end.stdout.matchAll(/#(\d+)/g)].map((m) => Number(m[1]));
  t.same(seqs, [...seqs].sort((a, b) => a - b), 'in order');
  t.equal(new Set(seqs).size, seqs.length, 'no event twice');

  const svc = await cli(t, ['events', '--service', 'sleepy', ...u]);
  t.match(svc.stdout, /sleepy\s+state/);
  t.notMatch(svc.stdout, /orchestrator_started/, '--service shows only that service');
  const since = seqs[seqs.length - 1]! - 1;
  const after = (await cli(t, ['events', '--since', String(since), '--json', ...u])).stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { seq: number });
  t.ok(after.length >= 1 && after.every((e) => e.seq > since), '--since SEQ gives events after SEQ, as JSON lines');
});

t.test('register (YAML and JSON), remove, reload', async (t) => {
  const h = await harness(t, { http: true });
  const u = ['--url', h.url];
  const port = await freePort();
  const yamlFile = join(h.dir, 'extra.yaml');
  writeFileSync(yamlFile, stringify({
    id: 'extra', executable: node('healthy.mjs'),
    health_endpoint: `http://127.0.0.1:${port}/health`, environment: { PORT: String(port) },
  }));
  const reg = await cli(t, ['register', yamlFile, ...u]);
  t.equal(reg.code, 0, reg.stderr);
  t.match(reg.stdout, /^registered extra: (starting|running)\n$/);
  await h.waitView('extra', (v) => v.health === 'healthy', 'registered service healthy');
  t.equal(h.o.get('extra').spec.working_dir, h.dir, 'runs in the folder of its file');

  const again = await cli(t, ['register', yamlFile, ...u]);
  t.equal(again.code, 1, 'registering an existing id again is refused');
  t.match(again.stderr, /^orchestrator: cannot register extra: conflict: service "extra" already exists\n$/);

  const jsonFile = join(h.dir, 'other.json');
  writeFileSync(jsonFile, JSON.stringify({ id: 'other', executable: node('sleeper.mjs'), auto_start: false }));
  const regJson = await cli(t, ['register', jsonFile, '--json', ...u]);
  t.equal(regJson.code, 0, regJson.stderr);
  t.equal((JSON.parse(regJson.stdout) as { id: string; state: string }).state, 'stopped');

  const invalid = join(h.dir, 'bad.yaml');
  writeFileSync(invalid, 'id: bad\nexecutable: node x.js\nrestart_policy:\n  max_retries: three\n');
  const bad = await cli(t, ['register', invalid, ...u]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /restart_policy\.max_retries: expected a non-negative integer/, 'validation message names the field');
  t.equal(bad.stderr.trimEnd().split('\n').length, 1, 'one line');
  const missing = await cli(t, ['register', join(h.dir, 'nope.yaml'), ...u]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /cannot read .*nope\.yaml: no such file/);

  const stdin = await cli(t, ['register', '-', ...u], { input: 'id: piped\nexecutable: node x.js\nauto_start: false\n' });
  t.equal(stdin.code, 0, stdin.stderr);
  t.ok(h.o.has('piped'), '"-" reads stdin');

  const extraPid = h.view('extra').pid!;
  const rm = await cli(t, ['remove', 'extra', ...u]);
  t.equal(rm.code, 0, rm.stderr);
  t.equal(rm.stdout, 'removed extra\n');
  t.notOk(h.o.has('extra'));
  t.notOk(alive(extraPid), 'its process was stopped');

  writeFileSync(join(h.dir, 'services', 'late.yaml'), stringify({ id: 'late', executable: node('sleeper.mjs'), auto_start: false }));
  const reload = await cli(t, ['reload', ...u]);
  t.equal(reload.code, 0, reload.stderr);
  t.match(reload.stdout, /^added: late\nremoved: none\nchanged: none\nrestarted: none\n$/);
  t.ok(h.o.has('late'));
  writeFileSync(join(h.dir, 'services', 'broken.yaml'), 'id: broken\nexecutable: [\n');
  const broken = await cli(t, ['reload', ...u]);
  t.equal(broken.code, 1, 'reload with a broken file exits 1');
  t.match(broken.stdout, /problem: \S*broken\.yaml/);
});

t.test('errors: one line and a distinct exit code', async (t) => {
  const h = await harness(t, {
    http: true,
    config: { api: { api_key: 'k', rate_limit: 0 } },
    services: { sleepy: { id: 'sleepy', executable: node('sleeper.mjs'), auto_start: false } },
  });
  const u = ['--url', h.url];
  const oneLine = (s: string) => s.trimEnd().split('\n').length === 1;

  const down = await freePort();
  for (const args of [['status'], ['list'], ['logs', 'x', '-f'], ['events', '-f']]) {
    const r = await cli(t, [...args, '--url', `http://127.0.0.1:${down}`]);
    t.equal(r.code, 3, `${args.join(' ')}: unreachable exits 3`);
    t.match(r.stderr, new RegExp(`^orchestrator: cannot reach the orchestrator at http://127\\.0\\.0\\.1:${down}: connection refused`));
    t.ok(oneLine(r.stderr), 'one line');
    t.equal(r.stdout, '');
  }

  const noKey = await cli(t, ['list', ...u]);
  t.equal(noKey.code, 4, 'no key: exit 4');
  t.match(noKey.stderr, /^orchestrator: unauthorized: this orchestrator needs an API key/);
  for (const args of [['list'], ['start', 'sleepy'], ['logs', 'sleepy', '-f'], ['events', '-f']]) {
    const wrong = await cli(t, [...args, '--api-key', 'wrong', ...u]);
    t.equal(wrong.code, 4, `${args.join(' ')}: wrong key exits 4`);
    t.equal(wrong.stderr, 'orchestrator: unauthorized: the API key was not accepted\n');
  }
  const envKey = await cli(t, ['list', ...u], { env: { ORCHESTRATOR_API_KEY: 'k' } });
  t.equal(envKey.code, 0, 'ORCHESTRATOR_API_KEY is used');
  const health = await cli(t, ['health', ...u]);
  t.equal(health.code, 0, 'health needs no key');

  const k = ['--api-key', 'k', ...u];
  for (const args of [['show', 'nope'], ['start', 'nope'], ['stop', 'nope'], ['restart', 'nope'], ['logs', 'nope'], ['logs', 'nope', '-f'], ['remove', 'nope']]) {
    const r = await cli(t, [...args, ...k]);
    t.equal(r.code, 5, `${args.join(' ')}: unknown id exits 5`);
    t.equal(r.stderr, 'orchestrator: service "nope" not found\n');
  }

  const unknownVerb = await cli(t, ['frobnicate']);
  t.equal(unknownVerb.code, 2);
  const noId = await cli(t, ['show', ...k]);
  t.equal(noId.code, 2);
  t.match(noId.stderr, /^orchestrator show: missing ID\nusage: orchestrator show ID\n$/);
  const badFlag = await cli(t, ['list', '--bogus', ...k]);
  t.equal(badFlag.code, 2);
  const help = await cli(t, ['logs', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /^usage: orchestrator logs ID \[-f\]/);

  // A follow whose orchestrator goes away ends with "unreachable", not a hang.
  const f = startCli(t, ['events', '-f', ...k]);
  await f.waitOutput(/orchestrator_started/);
  await h.shutdown();
  const end = await f.exited;
  t.equal(end.code, 3, 'a lost connection ends -f with exit 3');
  t.match(end.stderr, /^orchestrator: connection to the orchestrator at \S+ lost/);
});
