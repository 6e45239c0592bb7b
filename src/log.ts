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
}

export function createLog(opts: LogOptions): OrchestratorLog {
  const streams: pino.StreamEntry[] = [];
  let file: pino.DestinationStream & { reopen?: () => void; flushSync?: () => void } | undefined;
  if (opts.file) {
    mkdirSync(dirname(opts.file), { recursive: true });
    file = pino.destination({ dest: opts.file, append: true, mkdir: true, sync: false });
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
    flush: () => { try { file?.flushSync?.(); } catch { /* not ready yet */ } },
  };
}

/** A logger that discards everything (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });
