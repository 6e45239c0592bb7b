/**
 * Running the real `orchestrator` command (bin/orchestrator.js → dist/cli.js) as a child process,
 * for the CLI, script and SDK tests. Waits are on output or exit, with a deadline. An orchestrator
 * to talk to comes from harness.ts (in-process) or ../helpers/process.mjs (`orchestrator serve`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { TestLike } from '../helpers/harness.js';
import { BIN, ROOT } from '../helpers/process.mjs';

/** The environment without anything that would point the CLI elsewhere. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k.startsWith('ORCHESTRATOR_') || k === 'FORCE_COLOR' || k === 'NO_COLOR' || k.startsWith('TAP') || k === 'NODE_OPTIONS') delete env[k];
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  input?: string;
  timeoutMs?: number;
}

export class Running {
  stdout = '';
  stderr = '';
  readonly exited: Promise<RunResult>;
  private waiters: Array<() => void> = [];

  constructor(readonly child: ChildProcess, timeoutMs: number, what: string) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { this.stdout += d; this.poke(); });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; this.poke(); });
    this.exited = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${what} did not finish within ${timeoutMs} ms\nstdout: ${this.stdout}\nstderr: ${this.stderr}`));
      }, timeoutMs);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        this.poke();
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  /** Resolves once stdout (or stderr) matches; rejects at the deadline or if the process ends first. */
  waitOutput(pattern: RegExp, timeoutMs = 20_000, stream: 'stdout' | 'stderr' = 'stdout'): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      let ended = false;
      const check = () => {
        const m = this[stream].match(pattern);
        if (m) { done(); resolve(m); return; }
        if (ended || this.child.exitCode !== null || this.child.signalCode !== null) {
          done();
          reject(new Error(`process ended before ${stream} matched ${pattern}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`));
        }
      };
      const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${stream} to match ${pattern}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`)); }, timeoutMs);
      const done = () => { clearTimeout(timer); this.waiters = this.waiters.filter((w) => w !== check); };
      void this.exited.then(() => { ended = true; check(); }, () => { ended = true; check(); });
      this.waiters.push(check);
      check();
    });
  }

  private poke(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** Start a command; killed at teardown if still running. */
export function start(t: TestLike, command: string, args: string[], opts: RunOptions = {}): Running {
  const child = spawn(command, args, { cwd: opts.cwd ?? ROOT, env: cleanEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  else child.stdin!.end();
  const running = new Running(child, opts.timeoutMs ?? 60_000, `${command} ${args.join(' ')}`);
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  return running;
}

/** `orchestrator ARGS...` as a child process. */
export function startCli(t: TestLike, args: string[], opts: RunOptions = {}): Running {
  return start(t, process.execPath, [BIN, ...args], opts);
}

export function cli(t: TestLike, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return startCli(t, args, opts).exited;
}
