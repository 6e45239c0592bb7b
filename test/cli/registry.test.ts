/**
 * register FILE (YAML, JSON, stdin), remove ID, reload.
 * Each command runs as a real child process (bin/orchestrator.js) against a real orchestrator
 * (test harness: worker thread, child processes, SQLite, uWS on a random port).
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { alive, harness, node } from '../helpers/harness.js';
import { freePort } from '../helpers/process.mjs';
import { cli } from './run.js';

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
  t.equal(h.o.fleet.get('extra').spec.working_dir, h.dir, 'runs in the folder of its file');

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
  t.ok(h.o.fleet.has('piped'), '"-" reads stdin');

  const extraPid = h.view('extra').pid!;
  const rm = await cli(t, ['remove', 'extra', ...u]);
  t.equal(rm.code, 0, rm.stderr);
  t.equal(rm.stdout, 'removed extra\n');
  t.notOk(h.o.fleet.has('extra'));
  t.notOk(alive(extraPid), 'its process was stopped');

  writeFileSync(join(h.dir, 'services', 'late.yaml'), stringify({ id: 'late', executable: node('sleeper.mjs'), auto_start: false }));
  const reload = await cli(t, ['reload', ...u]);
  t.equal(reload.code, 0, reload.stderr);
  t.match(reload.stdout, /^added: late\nremoved: none\nchanged: none\nrestarted: none\n$/);
  t.ok(h.o.fleet.has('late'));
  writeFileSync(join(h.dir, 'services', 'broken.yaml'), 'id: broken\nexecutable: [\n');
  const broken = await cli(t, ['reload', ...u]);
  t.equal(broken.code, 1, 'reload with a broken file exits 1');
  t.match(broken.stdout, /problem: \S*broken\.yaml/);
});
