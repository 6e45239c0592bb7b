/**
 * Which sinks an event goes to: a sink's `on` entries are matched against the event's type, the
 * reason it carries and "type:reason"; its `services` globs against the event's service. Pure:
 * called for every event recorded, so it only looks at sets and precompiled patterns.
 */
import { serviceOf } from '../config/instances.js';
import type { StoredEvent } from '../store/events.js';

/** A reason is a word (crashed, failed, memory_limit); free text (a state's explanation) is not one. */
const WORD = /^[a-z][a-z0-9_]*$/;

/**
 * The reason an event is about: for a state or health change the state or health it reached
 * (failed, backoff, unhealthy, stalled), else the word in `data.reason` (an exit's crashed,
 * killed, memory_limit …), else its type.
 */
export function reasonOf(e: Pick<StoredEvent, 'type' | 'data'>): string {
  const to = e.data.to;
  if ((e.type === 'state' || e.type === 'health') && typeof to === 'string' && WORD.test(to)) return to;
  const reason = e.data.reason;
  if (typeof reason === 'string' && WORD.test(reason)) return reason;
  return e.type;
}

/** Every name an `on` entry may use for this event. */
export function keysOf(e: Pick<StoredEvent, 'type' | 'data'>): string[] {
  const keys = [e.type];
  const reason = reasonOf(e);
  if (reason !== e.type) keys.push(reason, `${e.type}:${reason}`);
  const raw = e.data.reason;
  if (typeof raw === 'string' && raw !== reason && WORD.test(raw)) keys.push(raw, `${e.type}:${raw}`);
  return keys;
}

/** `*` any run of characters, `?` one; everything else literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

export interface SinkFilter {
  name: string;
  on: ReadonlySet<string>;
  /** null: every service and the orchestrator's own events. */
  services: RegExp[] | null;
}

export function compileFilter(name: string, on: string[], services: string[] | undefined): SinkFilter {
  return { name, on: new Set(on), services: services ? services.map(globToRegExp) : null };
}

/** Whether the event goes to this sink, and under which reason. */
export function matches(f: SinkFilter, e: StoredEvent, keys: string[]): boolean {
  if (!keys.some((k) => f.on.has(k))) return false;
  // An instance (web#1) matches its own id and its service's (a sink for "web" hears every replica).
  if (f.services && (e.service === null || !f.services.some((re) => re.test(e.service!) || re.test(serviceOf(e.service!))))) return false;
  // A sink's own give-up is not sent to it (it is failing), and a give-up about a give-up goes nowhere:
  // two sinks that are both down must not keep each other busy.
  if (e.type === 'alert_gave_up' && (e.data.sink === f.name || e.data.event_type === 'alert_gave_up')) return false;
  return true;
}
