/**
 * `orchestrator serve` refuses a non-loopback bind without an API key (exit 2, saying how to set
 * one) and serves it with one. Runs the built command (`npm run build` first; `npm test` does).
 */
import t from 'tap';
import type { ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { freePort, ROOT, runBin, stopGracefully, until, writeFolder } from '../helpers/process.mjs';
import { req } from './lib.js';

if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `npm run build` before this test');

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** The environment's host, port and key are dropped unless `env` sets them. */
const SCRUBBED = ['ORCHESTRATOR_HOST', 'ORCHESTRATOR_PORT', 'ORCHESTRATOR_API_KEY'];

function serve(t: Tap, orchestrator: Record<string, unknown>, api: Record<string, unknown>, env: Record<string, string> = {}): { child: ChildProcess; done: Promise<Run>; out: () => string } {
  const { dir, config } = writeFolder({ prefix: 'orch-bind-', base: {}, config: { orchestrator: { port: 0, ...orchestrator }, api: { rate_limit: 0, ...api } } });
  const run = runBin(['serve', '--config', config], { ...Object.fromEntries(SCRUBBED.map((k) => [k, undefined])), ...env }, dir);
  const done = run.exit.then(({ code, signal }) => ({ code, signal, stdout: run.stdout(), stderr: run.stderr() }));
  t.teardown(async () => {
    await stopGracefully(run);
    rmSync(dir, { recursive: true, force: true });
  });
  return { child: run.child, done, out: run.stdout };
}
type Tap = { teardown(fn: () => unknown): void };

/** Nothing listens on this port (the refused orchestrator did not bind it). */
function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

t.test('0.0.0.0 without an API key: refused with exit 2 and how to fix it', async (t) => {
  const port = await freePort();
  const run = await serve(t, { host: '0.0.0.0', port }, { api_key: null }).done;
  t.equal(run.code, 2, 'exit code 2');
  t.match(run.stderr, /refusing to listen on 0\.0\.0\.0:\d+ without an API key/);
  t.match(run.stderr, /api\.api_key/, 'names the config key');
  t.match(run.stderr, /ORCHESTRATOR_API_KEY/, 'and the environment variable');
  t.match(run.stderr, /127\.0\.0\.1/, 'or to bind loopback');
  t.ok(await portFree(port, '0.0.0.0'), 'never bound the port');
});

t.test('other non-loopback addresses, and the ORCHESTRATOR_HOST override, are refused too', async (t) => {
  for (const [orchestrator, env] of [
    [{ host: '::' }, {}],
    [{ host: '127.0.0.1' }, { ORCHESTRATOR_HOST: '0.0.0.0' }],
    [{ host: '0.0.0.0' }, { ORCHESTRATOR_API_KEY: '' }],
  ] as Array<[Record<string, unknown>, Record<string, string>]>) {
    const run = await serve(t, orchestrator, { api_key: null }, env).done;
    t.equal(run.code, 2, `${JSON.stringify(orchestrator)} ${JSON.stringify(env)}: exit 2`);
    t.match(run.stderr, /without an API key/);
  }
});

t.test('0.0.0.0 with an API key (from the environment) serves, and requires the key', async (t) => {
  const port = await freePort();
  const s = serve(t, { host: '0.0.0.0', port }, { api_key: null }, { ORCHESTRATOR_API_KEY: 'env-key-123' });
  const up = await until(() => (s.child.exitCode !== null ? `exited early with ${s.child.exitCode}` : /orchestrator listening on/.test(s.out())), { what: 'the listening line', timeoutMs: 20_000 });
  if (up !== true) throw new Error(up);
  const url = `http://127.0.0.1:${port}`;
  t.equal((await req(url, '/health')).status, 200, '/health open');
  t.equal((await req(url, '/api/services')).status, 401, 'API needs the key');
  t.equal((await req(url, '/api/services', { headers: { 'x-api-key': 'env-key-123' } })).status, 200, 'with the key');
  s.child.kill('SIGTERM');
  const run = await s.done;
  t.equal(run.code, 0, 'clean exit on SIGTERM');
});
