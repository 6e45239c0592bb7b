/** Human-friendly quantities used in service files: sizes like 512MB, percentages like 25%. */

const SIZE_UNITS: Record<string, number> = {
  '': 1, B: 1,
  K: 1024, KB: 1024, KIB: 1024,
  M: 1024 ** 2, MB: 1024 ** 2, MIB: 1024 ** 2,
  G: 1024 ** 3, GB: 1024 ** 3, GIB: 1024 ** 3,
  T: 1024 ** 4, TB: 1024 ** 4, TIB: 1024 ** 4,
};

/** "512MB" → bytes; "1.5GB", "800KB", "1024" and plain numbers (bytes) are accepted. Binary units, as RSS is. */
export function parseSize(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input > 0 ? Math.round(input) : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(input);
  if (!m) return undefined;
  const factor = SIZE_UNITS[m[2]!.toUpperCase()];
  if (factor === undefined) return undefined;
  const bytes = Math.round(Number(m[1]) * factor);
  return bytes > 0 ? bytes : undefined;
}

/** "25%" → 25 (percent of one core; above 100 means more than one core). A bare number is taken as percent. */
export function parsePercent(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input > 0 ? input : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(input);
  if (!m) return undefined;
  const pct = Number(m[1]);
  return pct > 0 ? pct : undefined;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes}B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${v >= 10 ? v.toFixed(0) : v.toFixed(1)}${units[u]}`;
}
