/**
 * `orchestrator serve` as PID 1 (a container started without an init). PID 1 inherits every
 * orphaned process of its PID namespace — grandchildren a service leaves behind, processes in a
 * group the orchestrator SIGKILLed — and must reap them, or they stay zombies forever. Node cannot
 * do that (no waitpid(-1), no prctl(PR_SET_CHILD_SUBREAPER)), so at PID 1 the orchestrator puts a
 * real init under itself: this process stays PID 1 as a thin launcher that runs
 * `tini -s -- <node> <same arguments>`, forwards the stop and reload signals to it and exits with
 * its exit code. Orphans go to the closest subreaper ancestor, which is tini, and tini reaps them.
 * (Node 20 has no execve to become tini; one code path on every Node keeps this testable.)
 *
 * Without a tini to use, the start is refused with the remedies (exit 78, EX_CONFIG), unless
 * ORCHESTRATOR_ALLOW_PID1=1 says to run anyway.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { constants as os } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

/** Set by the launcher on the orchestrator it starts under tini: the init's path. */
export const WRAPPED_ENV = 'ORCHESTRATOR_INIT_WRAPPED';

/** tini binaries looked for on PATH (Debian's tini package ships both; docker's --init is tini). */
const TINI_NAMES = ['tini', 'tini-static', 'docker-init'];

export type Pid1Plan =
  /** Not PID 1: nothing to do. */
  | { kind: 'none' }
  /** PID 1 with a tini to use: become its launcher. */
  | { kind: 'wrap'; init: string }
  /** PID 1, no init, ORCHESTRATOR_ALLOW_PID1=1: run, and say what that costs. */
  | { kind: 'allowed'; warning: string }
  /** PID 1 and no init: refuse to start, with this message. */
  | { kind: 'refuse'; message: string };

const REMEDY =
  'start it under an init: `docker run --init ...`, or `ENTRYPOINT ["tini", "--", "orchestrator", "serve"]` in the image, ' +
  'or in Kubernetes `shareProcessNamespace: true` on the pod (its pause process then reaps); ' +
  'or install tini in the image (`apt-get install tini`) or set ORCHESTRATOR_INIT=/path/to/tini, and the orchestrator starts itself under it';
const OPT_OUT = 'ORCHESTRATOR_ALLOW_PID1=1 runs it as PID 1 anyway';

/** What `serve` must do about being PID 1, from the environment (pure but for PATH look-ups). */
export function pid1Plan(env: NodeJS.ProcessEnv = process.env, pid = process.pid): Pid1Plan {
  if (pid !== 1) return { kind: 'none' };
  const chosen = env.ORCHESTRATOR_INIT;
  if (chosen) {
    const init = findExecutable(chosen, env.PATH);
    if (init) return { kind: 'wrap', init };
    return { kind: 'refuse', message: `running as PID 1 and ORCHESTRATOR_INIT=${chosen} is not an executable file; point it at a tini binary, or ${REMEDY}; ${OPT_OUT}` };
  }
  for (const name of TINI_NAMES) {
    const init = findExecutable(name, env.PATH);
    if (init) return { kind: 'wrap', init };
  }
  if (env.ORCHESTRATOR_ALLOW_PID1 === '1') {
    return { kind: 'allowed', warning: `running as PID 1 without an init (ORCHESTRATOR_ALLOW_PID1=1): processes orphaned by services are never reaped and stay zombies; to fix it, ${REMEDY}` };
  }
  return { kind: 'refuse', message: `running as PID 1 without an init: processes orphaned by services would never be reaped and pile up as zombies; ${REMEDY}; ${OPT_OUT}` };
}

/**
 * Become the thin launcher: run the same command under `init -s --` (tini as a child subreaper),
 * forward signals to it, exit with its code (128 + signal number if it was killed). `fail` is called
 * if the init cannot be started at all.
 */
export function runUnderInit(init: string, fail: (message: string) => void): void {
  const args = ['-s', '--', process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  const child = spawn(init, args, { stdio: 'inherit', env: { ...process.env, [WRAPPED_ENV]: init } });
  child.once('error', (e) => fail(`running as PID 1 and cannot start the init ${init}: ${e.message}`));
  // SIGUSR1 is left alone: Node keeps it for its inspector.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'] as const) {
    process.on(signal, () => { child.kill(signal); });
  }
  child.once('exit', (code, signal) => {
    process.exit(code ?? 128 + (signal ? os.signals[signal] : 0));
  });
}

/** An executable regular file: `name` itself if it has a slash, else the first one on PATH. */
function findExecutable(name: string, path = ''): string | undefined {
  const candidates = name.includes('/') ? [resolve(name)] : path.split(delimiter).filter((d) => isAbsolute(d)).map((d) => join(d, name));
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}
