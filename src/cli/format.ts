/**
 * Human output: aligned tables, durations, sizes, and colour — only when stdout is a terminal
 * (NO_COLOR and --no-color turn it off, FORCE_COLOR turns it on).
 */

export type Colour = 'red' | 'green' | 'yellow' | 'blue' | 'cyan' | 'dim' | 'bold';

const CODES: Record<Colour, [number, number]> = {
  red: [31, 39], green: [32, 39], yellow: [33, 39], blue: [34, 39], cyan: [36, 39], dim: [2, 22], bold: [1, 22],
};

export class Style {
  constructor(readonly colour: boolean) {}

  static detect(noColorFlag: boolean, stream: NodeJS.WriteStream = process.stdout, env: NodeJS.ProcessEnv = process.env): Style {
    if (noColorFlag || (env.NO_COLOR !== undefined && env.NO_COLOR !== '')) return new Style(false);
    if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return new Style(true);
    return new Style(!!stream.isTTY && env.TERM !== 'dumb');
  }

  paint(colour: Colour | undefined, text: string): string {
    if (!this.colour || !colour || text === '') return text;
    const [on, off] = CODES[colour];
    return `\u001b[${on}m${text}\u001b[${off}m`;
  }

  /** A service state or health, coloured by what it means. */
  state(value: string): string {
    return this.paint(STATE_COLOURS[value], value);
  }
}

const STATE_COLOURS: Record<string, Colour> = {
  running: 'green', healthy: 'green', ok: 'green',
  starting: 'yellow', draining: 'yellow', stopping: 'yellow', backoff: 'yellow', throttled: 'yellow', exited: 'yellow',
  degraded: 'yellow', stalled: 'yellow', unknown: 'dim',
  failed: 'red', unhealthy: 'red', unavailable: 'red',
  stopped: 'dim',
};

const ANSI = /\u001b\[[0-9;]*m/g;
export const visibleLength = (s: string) => s.replace(ANSI, '').length;

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][], style: Style): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: string[]) => cells
    .map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - visibleLength(c))))
    .join('  ')
    .trimEnd();
  return [style.paint('bold', line(header)), ...rows.map(line)].join('\n') + '\n';
}

/** Key/value lines with aligned keys. */
export function fields(pairs: Array<[string, string]>, style: Style): string {
  const width = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${style.paint('dim', `${k}:`.padEnd(width + 1))} ${v}`).join('\n') + '\n';
}

/** 3725 → "1h2m". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '-';
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? `${Math.floor((s % 3600) / 60)}m` : ''}`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600) ? `${Math.floor((s % 86400) / 3600)}h` : ''}`;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '-';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)}${units[i]}`;
}

/** An ISO time as local "HH:MM:SS" today, or "YYYY-MM-DD HH:MM:SS" otherwise. */
export function clock(iso: string | null | undefined, now = new Date()): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return d.toDateString() === now.toDateString() ? time : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

/** A compact one-line rendering of an event's data: key=value pairs, JSON for nested values. */
export function inline(data: Record<string, unknown>): string {
  return Object.entries(data)
    .filter(([, v]) => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
    .join(' ');
}
