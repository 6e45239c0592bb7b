/**
 * A cumulative histogram for /metrics (Prometheus semantics: bucket counts of observations <= le,
 * plus +Inf, sum and count; never reset while the orchestrator runs).
 */

/** Health-check latencies, seconds: from a loopback answer (~1 ms) to a probe timeout (10 s). */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export class Histogram {
  /** counts[i]: observations <= bounds[i] (not cumulative here; rendering sums them). */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[] = LATENCY_BUCKETS) {
    this.counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    const i = this.bounds.findIndex((b) => value <= b);
    if (i >= 0) this.counts[i]!++;
  }

  /** [le, cumulative count] pairs, ending with +Inf. */
  cumulative(): Array<[string, number]> {
    let running = 0;
    const out: Array<[string, number]> = this.bounds.map((b, i) => [String(b), running += this.counts[i]!]);
    out.push(['+Inf', this.count]);
    return out;
  }
}
