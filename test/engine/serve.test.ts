/** The real `orchestrator serve` process: signals, exit codes, and the shipped example services. */
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Registry } from '../../src/store/index.js';
import { alive, node } from '../helpers/harness.js';
import { freePort, ROOT, runBin, stopGracefully, until, writeFolder } from '../helpers/process.mjs';

async function services(url: string): Promise<Array<{ id: string; state: string; health: string; pid: number | null }>> {
  const res = await fetch(`${url}/api/services`);
  return ((await res.json()) as { services: Array<{ id: string; state: string; health: string; pid: number | null }> }).services;
}

t.test('SIGTERM: services stop in reverse dependency order, the registry is closed, exit code 0', async (t) => {
  const port = await freePort();
  const { dir, config } = writeFolder({
    prefix: 'orch-serve-',
    config: { orchestrator: { port } },
    services: {
      a: { id: 'a', executable: node('sleeper.mjs') },
      b: { id: 'b', executable: node('sleeper.mjs'), depends_on: ['a'] },
      c: { id: 'c', executable: node('sleeper.mjs'), depends_on: ['b'] },
    },
  });
  const run = runBin(['serve', '--config', config]);
  t.teardown(() => stopGracefully(run));
  const url = `http://127.0.0.1:${port}`;
  const list = await until(async () => { const s = await services(url); return s.every((x) => x.state === 'running') && s.length === 3 ? s : undefined; }, 'all running');
  const pids = list.map((s) => s.pid!);
  run.child.kill('SIGTERM');
  const { code } = await run.exit;
  t.equal(code, 0, `exit code 0\n${run.output()}`);
  t.same(pids.filter(alive), [], 'every service process is gone');
  const r = Registry.open(join(dir, 'data', 'registry.db'));
  t.teardown(() => r.close());
  t.equal(r.integrityCheck(), 'ok');
  t.equal(r.meta('running'), '0', 'recorded as a clean stop');
  const stopped = r.events.after(0, 1000).filter((e) => e.type === 'state' && e.data.to === 'stopped').map((e) => e.service);
  t.same(stopped, ['c', 'b', 'a'], 'dependents first');
  t.ok(r.events.after(0, 1000).some((e) => e.type === 'orchestrator_stopped'));
});

t.test('exit codes: a bad config (2), a missing config file (2), a busy port (1), a locked registry (3)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orch-serve-'));
  writeFileSync(join(dir, 'bad.yaml'), 'orchestrator:\n  port: "eighty"\n');
  const bad = runBin(['serve', '--config', join(dir, 'bad.yaml')]);
  t.equal((await bad.exit).code, 2);
  t.match(bad.output(), /bad\.yaml:2:3 orchestrator\.port: expected a port number 0-65535, got "eighty"/);

  const missing = runBin(['serve', '--config', join(dir, 'nope.yaml')]);
  t.equal((await missing.exit).code, 2);
  t.match(missing.output(), /config file .*nope\.yaml not found/);

  // Two orchestrators on one registry: the second is refused before touching any service.
  const port = await freePort();
  writeFolder({ dir: join(dir, 'one'), config: { orchestrator: { port } }, services: { s: { id: 's', executable: node('sleeper.mjs') } } });
  const first = runBin(['serve', '--config', join(dir, 'one', 'orchestrator.yaml')]);
  t.teardown(() => stopGracefully(first));
  await until(async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok, 'first orchestrator up');
  const second = runBin(['serve', '--config', join(dir, 'one', 'orchestrator.yaml')], { ORCHESTRATOR_PORT: String(await freePort()) });
  t.equal((await second.exit).code, 3);
  t.match(second.output(), /registry .* is locked: another orchestrator is using it/);

  // A busy port: refused before any service starts.
  const other = join(dir, 'two');
  writeFolder({ dir: other, config: { orchestrator: { port } }, services: { s: { id: 's', executable: node('sleeper.mjs') } } });
  const busy = runBin(['serve', '--config', join(other, 'orchestrator.yaml')]);
  t.equal((await busy.exit).code, 1);
  t.match(busy.output(), new RegExp(`cannot listen on 127.0.0.1:${port}`));
  const r = Registry.open(join(other, 'data', 'registry.db'));
  t.equal(r.events.after(0, 100).filter((e) => e.type === 'state').length, 0, 'no service was started');
  r.close();
  first.child.kill('SIGTERM');
  t.equal((await first.exit).code, 0);
});

t.test('the shipped config and example services: all healthy (Node agent, Python agent, dependent worker)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orch-examples-'));
  const port = await freePort();
  // The shipped config, with data and logs moved to a temporary folder and a free port.
  writeFileSync(join(dir, 'orchestrator.yaml'), stringify({
    orchestrator: { host: '127.0.0.1', port, log_level: 'INFO', data_dir: join(dir, 'data'), log_dir: join(dir, 'logs'), services_dir: join(ROOT, 'services') },
    monitoring: { interval: 1, timeout: 2 },
  }));
  const run = runBin(['serve', '--config', join(dir, 'orchestrator.yaml')]);
  t.teardown(() => stopGracefully(run));
  const url = `http://127.0.0.1:${port}`;
  const list = await until(async () => {
    const s = await services(url);
    const ok = s.length === 3 && s.every((x) => x.state === 'running') && s.filter((x) => x.id !== 'indexer').every((x) => x.health === 'healthy');
    return ok ? s : undefined;
  }, 'example services healthy', 30_000);
  t.same(list.map((s) => s.id).sort(), ['echo-agent', 'indexer', 'summarizer-agent']);
  const chat = await fetch('http://127.0.0.1:8001/v1/chat', { method: 'POST', body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }) });
  t.same(await chat.json(), { role: 'assistant', content: 'You said: hi' }, 'the Node agent answers');
  const sum = await fetch('http://127.0.0.1:8002/summarize', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'First sentence. Second one.' }) });
  t.same(await sum.json(), { summary: 'First sentence' }, 'the Python agent answers');
  run.child.kill('SIGTERM');
  t.equal((await run.exit).code, 0);
  t.same(list.map((s) => s.pid!).filter(alive), [], 'all stopped');
});
