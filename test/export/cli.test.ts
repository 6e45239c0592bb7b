/**
 * The two ways in: `orchestrator export` as a real child process (bin/orchestrator.js → dist/),
 * reading the config itself, and GET /api/export/{target} on a real orchestrator (JSON, and a tar
 * unpacked by the system's tar). Both give what the export module gives for the same specs.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import t from 'tap';
import { harness, node } from '../helpers/harness.js';
import { req } from '../http/lib.js';
import { cli } from '../cli/run.js';
import { exportFor, FLEET_CONFIG, REPO, tempDir, validateManifests, verifyUnits } from './lib.js';

t.test('orchestrator export systemd|kubernetes', async (t) => {
  const out = tempDir(t);
  const config = relative(REPO, FLEET_CONFIG);
  const run = await cli(t, ['export', 'systemd', '--config', config, '--out', out]);
  t.equal(run.code, 0, `exit 0: the external service is skipped, not refused (${run.stderr})`);
  const want = exportFor(FLEET_CONFIG, { target: 'systemd', realWhich: true });
  for (const [name, text] of Object.entries({ ...want.result.files, 'EXPORT-REPORT.md': want.report })) {
    t.equal(readFileSync(join(out, name), 'utf8'), text, `--out wrote ${name} as the module exports it`);
  }
  t.equal(run.stdout, `${want.report}\nwrote ${Object.keys(want.result.files).length} file(s) and EXPORT-REPORT.md to ${out}\n`, 'prints the report');

  const json = await cli(t, ['export', 'systemd', 'poller', '--config', config, '--json']);
  t.equal(json.code, 0, json.stderr);
  t.same(Object.keys(JSON.parse(json.stdout).files), ['poller.service', 'poller.timer'], '--json: the files of the ids asked for');

  const noImage = await cli(t, ['export', 'kubernetes', '--config', config]);
  t.equal(noImage.code, 1, 'a refused service: exit 1');
  t.match(noImage.stderr, /^orchestrator export: monthly refused: no image: .* pass --image$/m);
  t.match(noImage.stdout, /2 file\(s\) not written \(no --out DIR\): nightly\.yaml, web-api-v2\.yaml\n$/);

  const k8s = await cli(t, ['export', 'kubernetes', '--config', config, '--image', 'reg.example/a:1', '--json']);
  t.equal(k8s.code, 0, k8s.stderr);
  validateManifests(t, JSON.parse(k8s.stdout).files);

  t.equal((await cli(t, ['export', 'launchd', '--config', config])).code, 2, 'an unknown target: usage');
  t.equal((await cli(t, ['export', 'systemd', '--image', 'x', '--config', config])).code, 2, '--image is for kubernetes');
  const unknown = await cli(t, ['export', 'systemd', 'nope', '--config', config]);
  t.equal(unknown.code, 5);
  t.match(unknown.stderr, /no such service: nope/);
  const bad = join(out, 'bad.yaml');
  writeFileSync(bad, 'orchestrator:\n  port: nope\n');
  const broken = await cli(t, ['export', 'systemd', '--config', bad]);
  t.equal(broken.code, 2, 'a configuration problem: exit 2');
  t.match(broken.stderr, /bad\.yaml:2:3 orchestrator\.port: expected a port number/);
});

t.test('GET /api/export/{target}: JSON and tar from the running fleet', async (t) => {
  const h = await harness(t, {
    http: true,
    services: {
      api: { id: 'api', name: 'API', executable: node('sleeper.mjs'), auto_start: false, port: 9400, health_endpoint: 'http://127.0.0.1:9400/health', image: 'reg.example/api:1' },
      batch: { id: 'batch', executable: node('sleeper.mjs'), auto_start: false, depends_on: ['api'], restart: 'transient' },
    },
  });
  const a = await req(h.url, '/api/export/systemd?self=1');
  t.equal(a.status, 200, a.status === 200 ? 'systemd export' : a.text);
  t.same(Object.keys(a.json.files), ['api.service', 'batch.service', 'orchestrator.service']);
  t.match(a.json.report, /^# Export report: systemd\n/);
  t.same(a.json.services.map((s: { id: string }) => s.id), ['api', 'batch']);
  verifyUnits(t, a.json.files);

  const tarred = await req(h.url, '/api/export/systemd?self=1&format=tar');
  t.equal(tarred.status, 200);
  t.equal(tarred.headers['content-type'], 'application/x-tar');
  const dir = tempDir(t);
  writeFileSync(join(dir, 'x.tar'), Buffer.from(tarred.text, 'utf8'));
  t.same(execFileSync('tar', ['-tf', 'x.tar'], { cwd: dir, encoding: 'utf8' }).trim().split('\n'), ['api.service', 'batch.service', 'orchestrator.service', 'EXPORT-REPORT.md'], 'tar -t lists the files and the report');
  execFileSync('tar', ['-xf', 'x.tar'], { cwd: dir });
  for (const [name, text] of Object.entries<string>(a.json.files)) t.equal(readFileSync(join(dir, name), 'utf8'), text, `${name} unpacked intact`);
  t.equal(readFileSync(join(dir, 'EXPORT-REPORT.md'), 'utf8'), a.json.report);
  const byAccept = await req(h.url, '/api/export/systemd?self=1', { headers: { accept: 'application/x-tar' } });
  t.equal(byAccept.text, tarred.text, 'Accept: application/x-tar gives the same tar, byte for byte');

  const k = await req(h.url, '/api/export/kubernetes?ids=api,batch&image=reg.example/all:2');
  t.equal(k.status, 200, k.status === 200 ? 'kubernetes export' : k.text);
  const objects = validateManifests(t, k.json.files);
  t.equal(objects.find((o) => o.kind === 'Deployment')!.spec.template.spec.containers[0].image, 'reg.example/api:1', 'the service\'s own image wins over ?image');
  t.equal(objects.find((o) => o.kind === 'Job')!.spec.template.spec.containers[0].image, 'reg.example/all:2');

  t.equal((await req(h.url, '/api/export/launchd')).status, 404, 'an unknown target');
  t.equal((await req(h.url, '/api/export/systemd?ids=nope')).status, 404, 'an unknown service');
  t.equal((await req(h.url, '/api/export/systemd?systemd_version=new')).status, 400, 'a bad systemd_version');
});
