/**
 * Structured logging (pino). One logger per process, children carry bindings such as
 * { service }. The orchestrator writes its log to log_dir/orchestrator.log, and to stdout too
 * when running in the foreground on a terminal.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type DestinationStream, type Logger } from 'pino';

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
  flush(): void;
  /** Be told when writing the log file fails (a full disk) and when it works again (null). */
  onWriteProblem(cb: (message: string | null) => void): void;
}

export function createLog(opts: LogOptions): OrchestratorLog {
  const streams: pino.StreamEntry[] = [];
  let file: pino.DestinationStream & { reopen?: () => void; flushSync?: () => void } | undefined;
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
    const dest = pino.destination({ dest: opts.file, append: true, mkdir: true, sync: false, maxLength: 16 * 1024 * 1024 });
    const boom = dest as unknown as NodeJS.EventEmitter;
    boom.on('error', (err: NodeJS.ErrnoException) => report(`cannot write ${opts.file}: ${err.code ?? err.message}`));
    boom.on('write', () => { if (problem) report(null); });
    file = dest;
    streams.push({ level: 'trace', stream: file });
  }
  if (opts.stdout) streams.push({ level: 'trace', stream: pino.destination({ fd: 1, sync: false }) as DestinationStream });
  const level = opts.level as pino.LevelWithSilent;
  const logger = streams.length
    ? pino({ level, base: { pid: process.pid } }, pino.multistream(streams))
    : pino({ level: 'silent' });
  return {
    logger,
    file: opts.file,
    reopen: () => file?.reopen?.(),
    writeRaw: (line) => { for (const s of streams) s.stream.write(line.endsWith('\n') ? line : `${line}\n`); },
    flush: () => { try { file?.flushSync?.(); } catch { /* not ready yet, or the disk is full */ } },
    onWriteProblem: (cb) => { watchers.push(cb); if (problem) cb(problem); },
  };
}

/** A logger that discards everything (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });
