/** A real `orchestrator serve` process on a folder that survives it (for kill -9 and restart tests). */
import { join } from 'node:path';
import { isSameProcess } from '../../src/os/proc.js';
import { Registry } from '../../src/store/index.js';
import { freePort, startOrchestrator, until, writeFolder, type Running } from './process.mjs';

export interface ApiService {
  id: string; state: string; health: string; pid: number | null; adopted: boolean; started_at: string | null;
  restarts: number; reason: string; want: string; last_exit: { reason: string } | null; usage: unknown;
}

export interface Served {
  dir: string;
  url: string;
  run: Running;
  services(): Promise<ApiService[]>;
  service(id: string): Promise<ApiService>;
  waitFor(pred: (list: ApiService[]) => boolean | Promise<boolean>, what: string, timeoutMs?: number): Promise<ApiService[]>;
  put(id: string, command: 'start' | 'stop' | 'restart'): Promise<number>;
}

const folders: string[] = [];

export async function servedFolder(services: Record<string, Record<string, unknown>>, config: Record<string, any> = {}): Promise<{ dir: string; port: number }> {
  const port = await freePort();
  const { dir } = writeFolder({ services, config: { ...config, orchestrator: { port, ...(config.orchestrator ?? {}) } }, prefix: 'orch-crash-' });
  folders.push(dir);
  return { dir, port };
}

/** Start `orchestrator serve` on a folder made by servedFolder and wait for /health. */
export async function serve(dir: string, port: number, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Promise<Served> {
  const { run, url } = await startOrchestrator({ dir, port, args: extraArgs, env, nodeArgs });
  const services = async () => ((await (await fetch(`${url}/api/services`)).json()) as { services: ApiService[] }).services;
  return {
    dir, url, run, services,
    service: async (id) => (await services()).find((s) => s.id === id)!,
    waitFor: (pred, what, timeoutMs = 20_000) => until(async () => { const l = await services(); return (await pred(l)) ? l : undefined; }, { what, timeoutMs }),
    put: async (id, command) => (await fetch(`${url}/api/services/${id}/${command}`, { method: 'PUT' })).status,
  };
}

/** GET /api/services rows by id. */
export const byId = (list: Array<{ id: string }>) => Object.fromEntries(list.map((s) => [s.id, s])) as Record<string, any>;

/**
 * Orchestrators for the tests of `t`, one at a time: `live.serve(…)` starts one (as serve() does)
 * and remembers it; after each test, one still running gets `signal` (SIGTERM: it stops its
 * services first; SIGKILL: it leaves them to reapFolders) and is waited for.
 */
export function servedPerTest(t: { afterEach(fn: () => Promise<void>): void }, signal: NodeJS.Signals = 'SIGTERM'): { serve: typeof serve } {
  let current: Served | undefined;
  t.afterEach(async () => {
    if (current && current.run.child.exitCode === null) { current.run.child.kill(signal); await current.run.exit; }
    current = undefined;
  });
  return { serve: async (...args) => (current = await serve(...args)) };
}

/** kill -9 the orchestrator and wait for it to be gone. */
export async function killHard(s: Served): Promise<void> {
  s.run.child.kill('SIGKILL');
  await s.run.exit;
}

/**
 * Kill whatever a test's orchestrators left running in their folders (a test that failed between
 * a kill -9 of the orchestrator and its restart would otherwise leave its services behind).
 * Uses the folder's own pid ledger, with the same start-time check the orchestrator uses.
 */
export function reapFolders(): void {
  for (const dir of folders.splice(0)) {
    let r: Registry;
    try { r = Registry.open(join(dir, 'data', 'registry.db')); } catch { continue; }
    try {
      for (const row of r.runs.openRuns()) {
        if (row.pid > 0 && isSameProcess(row.pid, row.proc_start)) {
          try { process.kill(-row.pgid, 'SIGKILL'); } catch { /* gone */ }
        }
      }
    } finally {
      r.close();
    }
  }
}
