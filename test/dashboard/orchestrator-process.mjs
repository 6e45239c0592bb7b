// Runs the real `orchestrator serve` (bin/orchestrator.js, from dist/) in a temporary folder with
// the given services, for scripts that need a whole orchestrator process: the dashboard
// screenshot and bench/dashboard-render.mjs. Tests use test/helpers/harness.ts instead.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const BIN = fileURLToPath(new URL('../../bin/orchestrator.js', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
export const fixture = (name) => `${process.execPath} ${join(FIXTURES, name)}`;

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Start an orchestrator. `services` maps file names to specs; `config` is merged over quick test
 * defaults. Resolves once GET /health answers; `stop()` ends it (and its services).
 */
export async function startOrchestrator({ services = {}, config = {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'orch-dash-'));
  const port = await freePort();
  mkdirSync(join(dir, 'services'), { recursive: true });
  const base = {
    orchestrator: { host: '127.0.0.1', port, log_level: 'WARNING', data_dir: './data', log_dir: './logs', services_dir: './services' },
    monitoring: { interval: 1, timeout: 1, enabled: true, sample_interval: 1 },
    recovery: { enabled: true, max_retries: 3, backoff_seconds: 1, max_backoff_seconds: 5, reset_after_seconds: 30 },
    api: { cors_origins: [], api_key: null, rate_limit: 0 },
  };
  for (const [k, v] of Object.entries(config)) base[k] = { ...base[k], ...v };
  writeFileSync(join(dir, 'orchestrator.yaml'), stringify(base));
  for (const [file, spec] of Object.entries(services)) writeFileSync(join(dir, 'services', `${file}.yaml`), stringify(spec));
  const child = spawn(process.execPath, [BIN, 'serve', '--config', join(dir, 'orchestrator.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`orchestrator exited (${child.exitCode}): ${stderr}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`orchestrator did not answer /health within 60 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    dir,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
