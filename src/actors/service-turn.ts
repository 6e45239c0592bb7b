/**
 * One transition of a ServiceActor in progress, and the smallest steps every other part takes
 * with it: set the state, arm or cancel a timer. Kept apart so the run steps (service-run.ts) and
 * the watch of a run (service-watch.ts) share them without importing each other.
 */
import type { LogicContext, ServiceEffect, ServiceState, TimerName } from './protocol.js';
import type { ServiceData } from './service-data.js';

/** One transition in progress: the draft data, the effects so far, the time and randomness. */
export interface Turn {
  d: ServiceData;
  fx: ServiceEffect[];
  ctx: LogicContext;
}

export function setState(t: Turn, state: ServiceState, reason: string): void {
  t.d.state = state;
  t.d.reason = reason;
}

/** (Re)arm a timer under a new generation: any message of the old one is stale from now on. */
export function arm(t: Turn, name: TimerName, delayMs: number): void {
  const gen = ++t.d.timers[name];
  t.fx.push({ type: 'set_timer', name, gen, delayMs });
}

export function cancel(t: Turn, name: TimerName): void {
  t.d.timers[name]++;
  t.fx.push({ type: 'cancel_timer', name });
}
