/**
 * The one way `orchestrator serve` ends on a failure. The cause is told plainly on stderr (one line,
 * `orchestrator: ...`, plus the stack for an internal failure), the same cause is written to
 * orchestrator.log before the process goes (synchronously, even if the file is not open yet), and
 * the process exits with the documented code. Nothing the logger does at exit can mask it.
 *
 * What is still running is the caller's business, before calling this: services already spawned
 * are always left running (in their own process groups, in the registry's pid ledger) for the next
 * start to adopt; the listening socket, the worker threads and the registry end with the process.
 */
import type { OrchestratorLog } from './log.js';

/** Exit codes of `orchestrator serve` (README, "Crash safety"). */
export const SERVE_EXIT = {
  ok: 0,
  /** Any other start-up failure: cannot listen, the log directory, the supervision tree did not start. */
  startFailed: 1,
  /** Bad or missing configuration. */
  config: 2,
  /** The registry is locked, corrupt, newer, or cannot be opened. */
  registry: 3,
  /** An internal failure after start: an uncaught exception, an unhandled rejection, the actor host giving up. */
  internal: 70,
  /** Running as PID 1 without an init to reap orphans (EX_CONFIG; src/os/init.ts says the remedies). */
  noInit: 78,
} as const;

let exiting = false;

export interface FatalOptions {
  /** An internal failure: the stack goes to stderr as well (it is always in the log). */
  stack?: boolean;
}

/**
 * Tell the cause and exit with `code`. `message` is the whole plain cause (it already includes the
 * error's message where that helps); `err`, if given, goes into the log record with its stack.
 * A failure while already failing exits at once with its own code: the first cause has been told.
 */
export function fatalExit(log: OrchestratorLog | undefined, code: number, message: string, err?: unknown, opts: FatalOptions = {}): never {
  if (exiting) process.exit(code);
  exiting = true;
  const stack = opts.stack ? stackOf(err) : '';
  // stderr is written synchronously for files and pipes (and terminals) on Linux.
  try { process.stderr.write(`orchestrator: ${message}\n${stack ? `${stack}\n` : ''}`); } catch { /* nowhere to tell it */ }
  log?.fatal(err === undefined ? { exitCode: code } : { err: err instanceof Error ? err : { message: causeOf(err) }, exitCode: code }, message);
  process.exit(code);
}

/**
 * Wait for a clean-up before a fatal exit, but not forever: a failure is told even when closing
 * things hangs. Resolves (never rejects) when `work` settles or after `ms`.
 */
export function settle(work: Promise<unknown>, ms = 5_000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    work.then(() => undefined, () => undefined).finally(() => { clearTimeout(timer); resolve(); });
  });
}

/** The message of whatever was thrown or rejected (not always an Error). */
export function causeOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  try { return typeof err === 'string' ? err : JSON.stringify(err) ?? String(err); } catch { return String(err); }
}

function stackOf(err: unknown): string {
  return err instanceof Error && err.stack ? err.stack : '';
}
