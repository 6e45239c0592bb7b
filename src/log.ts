/**
 * Structured logging (pino). One logger per process, children carry bindings such as
 * { service }. The orchestrator writes its log to log_dir/orchestrator.log, and to stdout too
 * when running in the foreground on a terminal.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type DestinationStream, type Logger } from 'pino';

/** pino's asynchronous destination (a sonic-boom). */
type SonicBoom = ReturnType<typeof pino.destination>;

export type { Logger };

export interface LogOptions {
  level: string;
  file?: string;
  stdout?: boolean;
}

export interface OrchestratorLog {
  logger: Logger;
  /** The log file, if the log goes to one. */
  file?: string;
  /** Re-open the log file (after rotation). */
  reopen(): void;
  /** Write an already-serialised line (from the actor-host worker). */
  writeRaw(line: string): void;
  /** Write what is buffered now, synchronously; never throws (the file may not be open yet). */
  flush(): void;
  /**
   * Wait, at most timeoutMs, until the log file is open. Resolves null once it is (or when there
   * is no file), else why not. `serve` waits for this before anything can fail, so that a fatal
   * line always has an open file to go to.
   */
  opened(timeoutMs?: number): Promise<string | null>;
  /**
   * Log a fatal record and have it written before returning: the caller is about to exit. Through
   * the open file (flushed synchronously, after every line before it); if the file is not open
   * yet, appended to it synchronously in the same format. Never throws.
   */
  fatal(obj: object, msg: string): void;
  /** Be told when writing the log file fails (a full disk) and when it works again (null). */
  onWriteProblem(cb: (message: string | null) => void): void;
}

export function createLog(opts: LogOptions): OrchestratorLog {
  const streams: pino.StreamEntry[] = [];
  let file: SonicBoom | undefined;
  let out: SonicBoom | undefined;
  // Set by the file's 'ready' event. Until then sonic-boom only buffers: its flushSync throws
  // ("sonic boom is not ready yet"), and so would pino's own flush at process exit.
  let fileOpen = false;
  let openError: string | null = null;
  let problem: string | null = null;
  const watchers: Array<(message: string | null) => void> = [];
  const report = (message: string | null) => {
    if (message === problem) return;
    problem = message;
    for (const w of watchers) w(message);
  };
  if (opts.file) {
    mkdirSync(dirname(opts.file), { recursive: true });
    // While the disk is full, keep at most 16 MB of unwritten log in memory (older lines are dropped).
    const dest = guardFlushSync(pino.destination({ dest: opts.file, append: true, mkdir: true, sync: false, maxLength: 16 * 1024 * 1024 }), () => fileOpen);
    dest.once('ready', () => { fileOpen = true; });
    dest.on('error', (err: NodeJS.ErrnoException) => {
      const message = `cannot write ${opts.file}: ${err.code ?? err.message}`;
      if (!fileOpen) openError = message;
      report(message);
    });
    dest.on('write', () => { if (problem) report(null); });
    file = dest;
    streams.push({ level: 'trace', stream: file as DestinationStream });
  }
  if (opts.stdout) {
    out = guardFlushSync(pino.destination({ fd: 1, sync: false }), () => true);
    streams.push({ level: 'trace', stream: out as DestinationStream });
  }
  const level = opts.level as pino.LevelWithSilent;
  const options = { level, base: { pid: process.pid } };
  const logger = streams.length ? pino(options, pino.multistream(streams)) : pino({ level: 'silent' });
  const flush = () => { file?.flushSync(); out?.flushSync(); };
  return {
    logger,
    file: opts.file,
    reopen: () => file?.reopen(),
    writeRaw: (line) => { for (const s of streams) s.stream.write(line.endsWith('\n') ? line : `${line}\n`); },
    flush,
    opened: (timeoutMs = 5_000) => {
      if (!file || fileOpen) return Promise.resolve(null);
      if (openError) return Promise.resolve(openError);
      const dest = file;
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          dest.off('ready', done);
          dest.off('error', done);
          resolve(fileOpen ? null : openError ?? `${opts.file} is not open after ${timeoutMs} ms`);
        };
        const timer = setTimeout(done, timeoutMs);
        dest.once('ready', done);
        dest.once('error', done);
      });
    },
    fatal: (obj, msg) => {
      try {
        if (!file || fileOpen) {
          logger.fatal(obj, msg);
        } else {
          // The file is not open (yet): a line buffered in sonic-boom would die with the process.
          const path = opts.file!;
          pino(options, {
            write: (line: string) => {
              try { appendFileSync(path, line); } catch { /* cannot be written: stderr has the cause */ }
              out?.write(line);
            },
          }).fatal(obj, msg);
        }
      } catch { /* logging must not mask the failure being reported */ }
      flush();
    },
    onWriteProblem: (cb) => { watchers.push(cb); if (problem) cb(problem); },
  };
}

/**
 * pino flushes every asynchronous destination synchronously when the process exits; if a file is
 * not open yet (or failed to open), sonic-boom throws there, over whatever made the process exit.
 * Make that flush (and ours) a no-op until the destination is open, and never throw.
 */
function guardFlushSync(dest: SonicBoom, isOpen: () => boolean): SonicBoom {
  const flushSync = dest.flushSync.bind(dest);
  dest.flushSync = () => {
    if (!isOpen()) return;
    try { flushSync(); } catch { /* destroyed, or the disk is full: nothing more can be done at exit */ }
  };
  return dest;
}

/** A logger that discards everything (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });
