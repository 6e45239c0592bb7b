#!/usr/bin/env node
// The bench suite: `npm run bench` runs every scenario, `npm run bench -- NAME [NAME…]` some.
// Each scenario is its own process (it starts and stops everything it measures) and prints a table.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(HERE, '..');

/** name → [file, args, env]; in the order the suite runs them. */
const SCENARIOS = {
  'health-load': ['health-load.mjs', ['100,500,1000'], {}],
  'crash-restart': ['crash-restart.mjs', ['200'], {}],
  'cold-start': ['cold-start.mjs', ['200'], {}],
  'ws-fanout': ['ws-fanout.mjs', [], { BENCH_CLIENTS: '1000', BENCH_RATES: '1000,5000' }],
  rest: ['rest-throughput.mjs', [], { BENCH_SERVICES: '1000' }],
  dashboard: ['dashboard-render.mjs', [], {}],
  'log-throughput': ['log-throughput.mjs', [], {}],
  'heartbeat-load': ['heartbeat-load.mjs', ['1000'], {}],
  'idle-footprint': ['idle-footprint.mjs', ['0,200,1000x1'], {}],
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !(w in SCENARIOS));
if (unknown.length) {
  process.stderr.write(`unknown scenario ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}\n`);
  process.exit(2);
}
if (!existsSync(join(ROOT, 'dist', 'cli.js'))) {
  process.stderr.write('dist/ is missing: run `npm run build` (or `npm ci`) first\n');
  process.exit(1);
}

process.stdout.write(`# Bench — ${new Date().toISOString()} — ${cpus().length} cores (${cpus()[0]?.model.trim()}), ${(totalmem() / 2 ** 30).toFixed(0)} GB, Node ${process.version}\n`);
const started = Date.now();
let failed = 0;
for (const name of wanted.length ? wanted : Object.keys(SCENARIOS)) {
  const [file, args, env] = SCENARIOS[name];
  const t0 = Date.now();
  process.stdout.write(`\n## ${name} (${file})\n`);
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, [join(HERE, file), ...args], { stdio: 'inherit', env: { ...process.env, ...env } });
    const stop = () => child.kill('SIGINT');
    process.once('SIGINT', stop);
    child.on('exit', (c, sig) => { process.off('SIGINT', stop); resolve(c ?? (sig ? 1 : 0)); });
  });
  if (code !== 0) failed++;
  process.stdout.write(`\n(${name}: ${((Date.now() - t0) / 1000).toFixed(0)} s${code ? `, failed with code ${code}` : ''})\n`);
}
process.stdout.write(`\nSuite: ${((Date.now() - started) / 60000).toFixed(1)} min${failed ? `, ${failed} scenario(s) failed` : ''}\n`);
process.exit(failed ? 1 : 0);
