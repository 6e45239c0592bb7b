/**
 * Where each service's output goes: files under log_dir/services, opened here and written by the
 * child itself (no pipe through the orchestrator), so a service keeps logging across an
 * orchestrator restart and its output costs the event loop nothing. The live file's name is
 * decided here; logs/layout.ts names what the log store adds beside it (archives, marks, state).
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';

export type Stream = 'stdout' | 'stderr';

export function serviceLogDir(logDir: string): string {
  return join(logDir, 'services');
}

/** The live file of one stream, by name within serviceLogDir. */
export function liveLogName(id: string, stream: Stream): string {
  return `${id}.${stream}.log`;
}

export function serviceLogPath(logDir: string, id: string, stream: Stream): string {
  return join(serviceLogDir(logDir), liveLogName(id, stream));
}

export interface ServiceLogFds {
  stdout: number | 'ignore';
  stderr: number | 'ignore';
  /** Close our copies once the child holds its own. */
  close(): void;
}

/**
 * Open a service's stdout and stderr files O_APPEND for a child to inherit. Appends from the child
 * land at the end even after the file is truncated or rotated in place.
 */
export function openServiceLogs(logDir: string, id: string): { stdout: number; stderr: number; close(): void } {
  mkdirSync(serviceLogDir(logDir), { recursive: true });
  const stdout = openSync(serviceLogPath(logDir, id, 'stdout'), 'a');
  let stderr: number;
  try {
    stderr = openSync(serviceLogPath(logDir, id, 'stderr'), 'a');
  } catch (e) {
    closeSync(stdout);
    throw e;
  }
  return { stdout, stderr, close: () => { closeSync(stdout); closeSync(stderr); } };
}

/**
 * The files for a child about to start, or none: supervision does not depend on logging, so
 * without its files a child writes nowhere. `onProblem` hears why (null: they opened again).
 */
export function openServiceLogsOrNone(logDir: string, id: string, log: Logger, onProblem?: (message: string | null) => void): ServiceLogFds {
  try {
    const files = openServiceLogs(logDir, id);
    onProblem?.(null);
    return files;
  } catch (err) {
    log.warn({ err, service: id }, 'cannot open the service log files; starting it without them');
    onProblem?.(`cannot open log files for "${id}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; it runs without logs until its next start`);
    return { stdout: 'ignore', stderr: 'ignore', close: () => undefined };
  }
}
