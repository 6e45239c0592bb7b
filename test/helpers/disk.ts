/** Real full disks for tests: a small tmpfs (needs root, as CI has) and a ballast that fills it. */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import type { TestLike } from './harness.js';

/**
 * Mount a tmpfs of `size` (e.g. "4m") on `dir` (created); at the test's end it is unmounted and
 * `remove` (default: `dir`; e.g. the test's whole folder) deleted.
 */
export function mountTmpfs(t: TestLike, dir: string, size: string, remove = dir): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  t.teardown(() => {
    try { execFileSync('umount', ['-l', dir]); } catch { /* already gone */ }
    rmSync(remove, { recursive: true, force: true });
  });
}

/** Fill the file system under `path` to the last byte (files `path` and `path`.tail); returns bytes written. */
export function fill(path: string): number {
  let n = 0;
  for (const [file, size] of [[path, 16 * 1024], [`${path}.tail`, 512]] as const) {
    const fd = openSync(file, 'w');
    const chunk = Buffer.alloc(size, 0x61);
    try {
      for (;;) n += writeSync(fd, chunk);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
    } finally {
      closeSync(fd);
    }
  }
  return n;
}

/** Give the space of fill(path) back. */
export function unfill(path: string): void {
  unlinkSync(path);
  unlinkSync(`${path}.tail`);
}
