/**
 * Output notices: a service that writes to stdout or stderr tells its actor so (an `output` fact),
 * which is how output silence (the spec's `silence`) is seen. Children write their own log files,
 * so the log store's look at a grown file (logs/store.ts) is the only sign; it is passed on at most
 * once per OUTPUT_EVERY_MS per service (more often only for a silence window under four seconds:
 * a quarter of it), and only for services whose spec watches for silence, so a thousand chatty
 * services cost at most a thousand small facts a second, batched.
 */
import type { Fact } from '../actors/protocol.js';
import { bootNow } from '../clock.js';

/** A service's output reaches its actor at most this often: silence is measured to about a second. */
export const OUTPUT_EVERY_MS = 1000;

export class OutputNotices {
  /** Boot-clock time of the last notice per service. */
  private readonly last = new Map<string, number>();

  /** `silenceMs`: the service's silence window, or null when it has none (no notices then). */
  constructor(private readonly silenceMs: (service: string) => number | null, private readonly deliver: (fact: Fact) => void) {}

  /** The service's log files grew. `now` is bootNow(). */
  wrote(service: string, now = bootNow()): void {
    const window = this.silenceMs(service);
    if (window === null) return;
    const at = this.last.get(service);
    if (at !== undefined && now - at < Math.min(OUTPUT_EVERY_MS, window / 4)) return;
    this.last.set(service, now);
    this.deliver({ id: service, msg: { type: 'output' } });
  }
}
