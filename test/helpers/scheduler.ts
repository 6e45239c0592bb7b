/** A scheduler driven by hand: nothing happens until the test says so (actor timers without waiting). */
import type { Scheduler } from '../../src/actors/runtime.js';

export function manualScheduler() {
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let now = 0;
  const scheduler: Scheduler & { advance(ms: number): void; now(): number; pending(): number } = {
    setTimeout: (fn, ms) => { const id = ++seq; timers.set(id, { at: now + ms, fn }); return id; },
    clearTimeout: (h) => { timers.delete(h as number); },
    advance(ms: number) {
      const until = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, v]) => v.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].fn();
      }
      now = until;
    },
    now: () => now,
    pending: () => timers.size,
  };
  return scheduler;
}
