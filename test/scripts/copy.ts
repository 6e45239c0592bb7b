/**
 * A temporary copy of the project for script tests: everything but node_modules (symlinked),
 * data, logs, .git, pid files and dist/ (so the first start builds it), with its own services/.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { stringify } from 'yaml';
import { alive, type TestLike } from '../helpers/harness.js';
import { ROOT } from '../helpers/process.mjs';

const SKIP_TOP = new Set(['node_modules', 'data', 'logs', '.git', 'dist', 'bench']);

export interface ProjectCopy {
  dir: string;
  pid(name: 'orchestrator' | 'dashboard'): number | undefined;
}

export function copyProject(t: TestLike, services: Record<string, Record<string, unknown>>): ProjectCopy {
  const dir = mkdtempSync(join(tmpdir(), 'orch-copy-'));
  cpSync(ROOT, dir, {
    recursive: true,
    filter: (src) => {
      const rel = relative(ROOT, src);
      if (rel === '') return true;
      const top = rel.split('/')[0]!;
      return !SKIP_TOP.has(top) && !(rel === top && top.endsWith('.pid'));
    },
  });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  for (const f of readdirSync(join(dir, 'services'))) if (/\.ya?ml$/.test(f)) rmSync(join(dir, 'services', f));
  for (const [name, spec] of Object.entries(services)) writeFileSync(join(dir, 'services', `${name}.yaml`), stringify(spec));

  const pid = (name: string) => {
    const file = join(dir, `${name}.pid`);
    return existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : undefined;
  };
  t.teardown(() => {
    // Whatever a failed test left running in this copy: the scripts' own stop first, then by pid.
    try { execFileSync(join(dir, 'stop-services.sh'), { cwd: dir, stdio: 'ignore', timeout: 60_000 }); } catch { /* fall through */ }
    for (const pid of ourProcesses(dir)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, pid: (name) => pid(name) };
}

/** Live processes running this copy's bin/orchestrator.js. */
export function ourProcesses(dir: string, verb?: string): number[] {
  const entry = join(dir, 'bin', 'orchestrator.js');
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let argv: string[];
    try { argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0'); } catch { continue; }
    const at = argv.indexOf(entry);
    if (at >= 0 && basename(argv[0] ?? '') === 'node' && (!verb || argv[at + 1] === verb) && alive(Number(name))) pids.push(Number(name));
  }
  return pids;
}
