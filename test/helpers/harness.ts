/**
 * Test harness: a real orchestrator (real worker thread, real child processes, real SQLite file,
 * optionally real HTTP) in a temporary folder. Waits are driven by the orchestrator's own events,
 * with a generous overall deadline as a guard, never by fixed sleeps. The orchestrator as a child
 * process, a free port, polling and config folders: process.mjs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServiceView } from '../../src/actors/protocol.js';
import { loadOrchestratorConfig } from '../../src/config/load.js';
import { listen, type HttpHandle } from '../../src/http/index.js';
import { createLog } from '../../src/log.js';
import { openSystem, type System } from '../../src/system.js';
import type { StoredEvent } from '../../src/store/events.js';
import { writeFolder } from './process.mjs';

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
export const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url));

export const fixture = (name: string) => join(FIXTURES, name);
export const node = (script: string, ...args: string[]) => [process.execPath, fixture(script), ...args].map((a) => (a.includes(' ') ? `"${a}"` : a)).join(' ');

export interface TestLike {
  teardown(fn: () => unknown): void;
  comment?(...args: unknown[]): void;
}

export interface HarnessOptions {
  services?: Record<string, Record<string, unknown>>;
  config?: Record<string, any>;
  http?: boolean;
  /** Reuse a folder (to restart an orchestrator on the same registry). */
  dir?: string;
  /** Skip the automatic shutdown at teardown. */
  noTeardown?: boolean;
}

export interface Harness {
  dir: string;
  o: System;
  http?: HttpHandle;
  url: string;
  view(id: string): ServiceView;
  waitFor<T>(check: () => T | undefined | null | false, what: string, timeoutMs?: number): Promise<T>;
  waitView(id: string, pred: (v: ServiceView) => boolean, what?: string, timeoutMs?: number): Promise<ServiceView>;
  events(service?: string | null, type?: string): StoredEvent[];
  shutdown(opts?: { keepServices?: boolean }): Promise<void>;
}

/** ORCHESTRATOR_HTTP_ENGINE, if set: the one variable of the environment a test orchestrator heeds. */
export function engineEnv(): NodeJS.ProcessEnv {
  const engine = process.env.ORCHESTRATOR_HTTP_ENGINE;
  return engine ? { ORCHESTRATOR_HTTP_ENGINE: engine } : {};
}

export async function harness(t: TestLike, opts: HarnessOptions = {}): Promise<Harness> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'orch-test-'));
  writeFolder({ dir, services: opts.services, config: opts.config });
  // Only the engine choice comes from the environment (CI runs the HTTP suites once with `node`).
  const config = loadOrchestratorConfig(join(dir, 'orchestrator.yaml'), engineEnv());
  const log = createLog({ level: 'debug', file: join(dir, 'logs', 'orchestrator.log') });
  const o = openSystem(config, log);
  // Every event, kept in memory too, so tests can look at them after the registry is closed.
  const seen: StoredEvent[] = o.registry.events.after(0, 1_000_000);
  o.history.on('event', (e) => seen.push(e));
  let http: HttpHandle | undefined;
  if (opts.http) http = await listen(o.ports, log.logger, { publicDir: PUBLIC_DIR });
  await o.run();
  let down = false;
  const shutdown = async (s: { keepServices?: boolean } = {}) => {
    if (down) return;
    down = true;
    http?.close();
    await o.shutdown(s);
    log.flush();
  };
  if (!opts.noTeardown) {
    t.teardown(async () => {
      await shutdown();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    });
  }
  const waitFor = <T>(check: () => T | undefined | null | false, what: string, timeoutMs = 20_000) => new Promise<T>((resolve, reject) => {
    const attempt = () => {
      let value: T | undefined | null | false;
      try { value = check(); } catch (e) { finish(); reject(e); return true; }
      if (value !== undefined && value !== null && value !== false) { finish(); resolve(value); return true; }
      return false;
    };
    const onChange = () => { attempt(); };
    // Facts that are not orchestrator events (a process dying) are seen through the slow recheck.
    const recheck = setInterval(onChange, 50);
    const deadline = setTimeout(() => {
      finish();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for: ${what}\nviews: ${JSON.stringify(o.fleet.list().map((e) => [e.view.id, e.view.state, e.view.health, e.view.reason]))}`));
    }, timeoutMs);
    const finish = () => {
      clearInterval(recheck);
      clearTimeout(deadline);
      o.views.off('views', onChange);
      o.history.off('event', onChange);
    };
    o.views.on('views', onChange);
    o.history.on('event', onChange);
    attempt();
  });
  return {
    dir, o, http,
    url: http ? `http://127.0.0.1:${http.port}` : '',
    view: (id) => o.fleet.get(id).view,
    waitFor,
    waitView: (id, pred, what = `${id} to match`, timeoutMs) => waitFor(() => {
      if (!o.fleet.has(id)) return undefined;
      const v = o.fleet.get(id).view;
      return pred(v) ? v : undefined;
    }, what, timeoutMs),
    events: (service, type) => seen.filter((e) => (service === undefined || e.service === service) && (!type || e.type === type)),
    shutdown,
  };
}

/** Is a pid alive (and not a zombie)? */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
