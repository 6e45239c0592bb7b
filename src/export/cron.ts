/**
 * Cron expressions (as croner reads them) turned into what the targets understand: systemd
 * OnCalendar= lines and a Kubernetes CronJob schedule (five fields). Each field is read into the
 * set of values it matches, then written back out, so every form croner accepts and both targets
 * can express comes out the same: lists, ranges, steps, month and day names, `?`, the @nicknames.
 * Croner's L, W and # have no counterpart and throw CronUnsupported.
 */

export class CronUnsupported extends Error {
  override name = 'CronUnsupported';
}

const NICKNAMES: Record<string, string> = {
  '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *', '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0', '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@hourly': '0 * * * *',
};
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const SYSTEMD_DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

interface FieldDef { name: string; min: number; max: number; names?: string[]; nameBase?: number }
const FIELDS: FieldDef[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, nameBase: 1 },
  { name: 'day of week', min: 0, max: 7, names: DAYS, nameBase: 0 },
];

/** A parsed expression: each field's values, or null for "every". */
export interface CronFields { second: number[]; minute: number[] | null; hour: number[] | null; dom: number[] | null; month: number[] | null; dow: number[] | null }

function value(raw: string, f: FieldDef): number {
  const named = f.names?.indexOf(raw.toLowerCase()) ?? -1;
  if (named >= 0) return named + f.nameBase!;
  if (!/^\d+$/.test(raw)) throw new CronUnsupported(`"${raw}" in the ${f.name} field has no counterpart (only numbers, names, *, ranges, lists and steps do)`);
  const n = Number(raw);
  if (n < f.min || n > f.max) throw new CronUnsupported(`${n} is outside the ${f.name} field (${f.min}-${f.max})`);
  return n;
}

/** The values one field matches; null when it matches every value. */
function field(text: string, f: FieldDef): number[] | null {
  if (text === '*' || text === '?') return null;
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/') as [string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new CronUnsupported(`bad step "${stepText}" in the ${f.name} field`);
    let lo: number; let hi: number;
    if (range === '*' || range === '?') { lo = f.min; hi = f.name === 'day of week' ? 6 : f.max; }
    else if (range.includes('-')) { const [a, b] = range.split('-'); lo = value(a!, f); hi = value(b!, f); }
    else { lo = value(range, f); hi = stepText === undefined ? lo : (f.name === 'day of week' ? 6 : f.max); }
    if (hi < lo) throw new CronUnsupported(`range ${range} runs backwards in the ${f.name} field`);
    for (let n = lo; n <= hi; n += step) out.add(f.name === 'day of week' && n === 7 ? 0 : n);
  }
  const values = [...out].sort((a, b) => a - b);
  const full = f.name === 'day of week' ? 7 : f.max - f.min + 1;
  return values.length === full ? null : values;
}

export function parseCron(expr: string): CronFields {
  const text = NICKNAMES[expr.trim().toLowerCase()] ?? expr.trim();
  const parts = text.split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) throw new CronUnsupported(`expected five or six fields, got ${parts.length}`);
  const all = parts.length === 5 ? ['0', ...parts] : parts;
  const [s, m, h, dom, mon, dow] = all.map((p, i) => field(p, FIELDS[i]!));
  return { second: s ?? Array.from({ length: 60 }, (_, i) => i), minute: m!, hour: h!, dom: dom!, month: mon!, dow: dow! };
}

/** Consecutive runs written as a..b (systemd) or a-b (cron). */
function compress(values: number[], name: (n: number) => string, dots: string): string {
  const out: string[] = [];
  for (let i = 0; i < values.length;) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j]! + 1) j++;
    out.push(j - i >= 2 ? `${name(values[i]!)}${dots}${name(values[j]!)}` : values.slice(i, j + 1).map(name).join(','));
    i = j + 1;
  }
  return out.join(',');
}

const two = (n: number) => String(n).padStart(2, '0');
const sdField = (values: number[] | null) => (values === null ? '*' : compress(values, two, '..'));

/**
 * OnCalendar= values for an expression: one, or two when both day fields are restricted (cron and
 * croner then match either day; systemd would need both, so each gets a line of its own).
 */
export function onCalendar(expr: string, timezone?: string): string[] {
  const c = parseCron(expr);
  const time = `${sdField(c.hour)}:${sdField(c.minute)}:${sdField(c.second.length === 60 ? null : c.second)}`;
  const tz = timezone ? ` ${timezone}` : '';
  const line = (dow: number[] | null, dom: number[] | null) =>
    `${dow ? `${compress(dow, (n) => SYSTEMD_DAYS[n]!, '..')} ` : ''}*-${sdField(c.month)}-${sdField(dom)} ${time}${tz}`;
  if (c.dom && c.dow) return [line(null, c.dom), line(c.dow, null)];
  return [line(c.dow, c.dom)];
}

/** A five-field schedule for a Kubernetes CronJob (which has no seconds field). */
export function fiveFields(expr: string): string {
  const c = parseCron(expr);
  if (c.second.length !== 1 || c.second[0] !== 0) throw new CronUnsupported('it runs at seconds other than :00, and a CronJob schedule has no seconds field');
  const f = (values: number[] | null) => (values === null ? '*' : compress(values, String, '-'));
  return [f(c.minute), f(c.hour), f(c.dom), f(c.month), f(c.dow)].join(' ');
}

/** A cron schedule for a fixed interval, when one exists (it then runs aligned to the clock). */
export function intervalCron(seconds: number): string | null {
  if (seconds % 60 !== 0) return null;
  const minutes = seconds / 60;
  if (minutes < 60 && 60 % minutes === 0) return minutes === 1 ? '* * * * *' : `*/${minutes} * * * *`;
  if (minutes % 60 !== 0) return null;
  const hours = minutes / 60;
  if (hours < 24 && 24 % hours === 0) return hours === 1 ? '0 * * * *' : `0 */${hours} * * *`;
  if (hours === 24) return '0 0 * * *';
  if (hours === 168) return '0 0 * * 0';
  return null;
}
