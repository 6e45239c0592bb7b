/** Where each service's output goes: files under log_dir/services, written by the child itself. */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';

export type Stream = 'stdout' | 'stderr';

export function serviceLogDir(logDir: string): string {
  return join(logDir, 'services');
}

export function serviceLogPath(logDir: string, id: string, stream: Stream): string {
  return join(serviceLogDir(logDir), `${id}.${stream}.log`);
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
