import { html } from '../html.js';
import { HISTORY_MS, type UsagePoint } from '../store.js';

interface Props {
  points: UsagePoint[] | undefined;
  pick: (p: UsagePoint) => number;
  now: number;
  width?: number;
  height?: number;
  label: string;
  /** Scale from zero with the top at least this (CPU%); without it the scale spans min..max (memory). */
  floor?: number;
}

/** Up to the last ten minutes as a polyline; x is time, so gaps in sampling stay visible. */
export function Sparkline({ points, pick, now, width = 64, height = 18, label, floor }: Props) {
  if (!points || points.length < 2) return html`<svg class="spark" width=${width} height=${height} aria-hidden="true"></svg>`;
  const from = Math.max(now - HISTORY_MS, points[0]!.t);
  const span = Math.max(1, now - from);
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of points) { const v = pick(p); lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (floor !== undefined) { lo = 0; hi = Math.max(hi, floor); }
  else if (hi - lo < hi * 0.02) { const mid = (hi + lo) / 2; lo = mid - hi * 0.01 - 1; hi = mid + hi * 0.01 + 1; }
  const pad = 1.5;
  const coords = points.map((p) => {
    const x = Math.max(0, ((p.t - from) / span) * width);
    const y = height - pad - ((pick(p) - lo) / (hi - lo)) * (height - 2 * pad);
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  }).join(' ');
  return html`<svg class="spark" width=${width} height=${height} viewBox=${`0 0 ${width} ${height}`} role="img" aria-label=${label}>
    <polyline points=${coords} fill="none" stroke="currentColor" stroke-width="1.5" stroke-linejoin="round" />
  </svg>`;
}
