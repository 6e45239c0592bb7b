/**
 * GPU memory per service, sampled through nvidia-smi when it exists: every sample interval, while
 * some running service has `gpus`, `nvidia-smi --query-compute-apps=pid,used_memory` lists the
 * processes using a GPU; each is charged to the service whose process group it is in (a child of
 * the service's process counts). No nvidia-smi, or one that fails: nothing is sampled and nothing
 * is an error (it is asked again after a minute, in case a driver comes up).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { RunInfo } from '../actors/protocol.js';
import type { Logger } from '../log.js';

const QUERY = ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'];
const TIMEOUT_MS = 5_000;
const RETRY_MS = 60_000;

/** "1234, 2048" lines (used memory in MiB) → pid → bytes. */
export function parseComputeApps(out: string): Map<number, number> {
  const used = new Map<number, number>();
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(line);
    if (m) used.set(Number(m[1]), (used.get(Number(m[1])) ?? 0) + Number(m[2]) * 1024 * 1024);
  }
  return used;
}

async function pgidOf(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command's closing parenthesis: state ppid pgrp …
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return null;
  }
}

export interface GpuSamplerParts {
  intervalMs: number;
  /** Services with `gpus` that run now, with their run (process group). */
  runs(): Array<{ id: string; run: RunInfo }>;
  /** A service's GPU memory changed (null: none measured any more). */
  changed(id: string): void;
  log: Logger;
}

export class GpuSampler {
  private readonly used = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private missingUntil = 0;
  private busy = false;

  constructor(private readonly parts: GpuSamplerParts) {}

  /** GPU memory in bytes of a service's processes at the last sample; null if none was measured. */
  memory(id: string): number | null {
    return this.used.get(id) ?? null;
  }

  start(): void {
    this.timer = setInterval(() => void this.sample(), this.parts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One sample (exposed for tests). */
  async sample(): Promise<void> {
    const runs = this.parts.runs();
    if (this.busy || (runs.length === 0 && this.used.size === 0) || Date.now() < this.missingUntil) return;
    this.busy = true;
    try {
      const apps = runs.length ? await this.query() : new Map<number, number>();
      const byGroup = new Map(runs.map((r) => [r.run.pgid, r.id]));
      const next = new Map<string, number>();
      for (const [pid, bytes] of apps) {
        const id = byGroup.get((await pgidOf(pid)) ?? -1);
        if (id) next.set(id, (next.get(id) ?? 0) + bytes);
      }
      // A running service with gpus that uses none shows 0; one no longer running shows nothing.
      for (const r of runs) if (!next.has(r.id)) next.set(r.id, 0);
      for (const id of new Set([...this.used.keys(), ...next.keys()])) {
        if (this.used.get(id) === next.get(id)) continue;
        if (next.has(id)) this.used.set(id, next.get(id)!); else this.used.delete(id);
        this.parts.changed(id);
      }
    } catch (err) {
      this.missingUntil = Date.now() + RETRY_MS;
      this.parts.log.debug({ err }, 'nvidia-smi is not available: no GPU memory samples for a minute');
    } finally {
      this.busy = false;
    }
  }

  private query(): Promise<Map<number, number>> {
    return new Promise((resolve, reject) => {
      execFile('nvidia-smi', QUERY, { timeout: TIMEOUT_MS, encoding: 'utf8' }, (err, stdout) => (err ? reject(err) : resolve(parseComputeApps(stdout))));
    });
  }
}
