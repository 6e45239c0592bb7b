/**
 * The boot clock: milliseconds since the machine booted, monotonic. Timers, backoff and uptime
 * all use it, so a wall-clock jump changes nothing; and /proc/PID/stat start times are on the
 * same clock, so a process's uptime survives an orchestrator restart.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

function readUptimeMs(): number {
  try {
    return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000;
  } catch {
    return performance.now(); // not Linux: process-relative, still monotonic
  }
}

// Computed once per thread: /proc/uptime has 10 ms resolution, performance.now() does the rest.
const offset = readUptimeMs() - performance.now();

export function bootNow(): number {
  return offset + performance.now();
}

/** Convert a boot-clock time to wall-clock epoch ms (for display only). */
export function bootToWall(bootMs: number): number {
  return Date.now() - (bootNow() - bootMs);
}

let ticks: number | undefined;
/** Clock ticks per second (USER_HZ) for /proc/PID/stat times. */
export function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

export const systemClock = { now: bootNow };
