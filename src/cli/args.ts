/**
 * Command-line parsing for the CLI: a small declarative parser. Each verb declares its flags
 * (boolean or taking a value, with aliases); everything else is a positional argument.
 * Accepts `--flag value`, `--flag=value`, `-f`, and `--` to end the options.
 */

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface FlagSpec {
  /** Takes a value (`--lines 50`); otherwise a boolean switch. */
  value?: boolean;
  /** Short or alternative names, e.g. ['-f']. */
  aliases?: string[];
}

export type FlagSpecs = Record<string, FlagSpec>;

export interface Parsed {
  flags: Map<string, string | true>;
  positionals: string[];
}

/** Flags every verb that talks to an orchestrator understands. */
export const COMMON_FLAGS: FlagSpecs = {
  url: { value: true },
  'api-key': { value: true },
  config: { value: true, aliases: ['-c'] },
  json: {},
  'no-color': {},
  help: { aliases: ['-h'] },
};

/**
 * `orchestrator --url U list` as well as `orchestrator list --url U`: options of `specs` given
 * before the command word are moved after it (with their values), where every command reads them.
 */
export function commandFirst(argv: string[], specs: FlagSpecs): string[] {
  const leading: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    const key = arg.startsWith('--') && arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg;
    const spec = Object.entries(specs).find(([name, s]) => key === `--${name}` || s.aliases?.includes(key))?.[1];
    if (!spec) break;
    leading.push(arg);
    if (spec.value && key === arg && i + 1 < argv.length) leading.push(argv[++i]!);
  }
  return i === 0 ? argv : [...argv.slice(i, i + 1), ...leading, ...argv.slice(i + 1)];
}

export function parseArgs(argv: string[], specs: FlagSpecs): Parsed {
  const byName = new Map<string, [string, FlagSpec]>();
  for (const [name, spec] of Object.entries(specs)) {
    byName.set(`--${name}`, [name, spec]);
    for (const alias of spec.aliases ?? []) byName.set(alias, [name, spec]);
  }
  const flags = new Map<string, string | true>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') { positionals.push(...argv.slice(i + 1)); break; }
    if (!arg.startsWith('-') || arg === '-') { positionals.push(arg); continue; }
    const eq = arg.indexOf('=');
    const key = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const entry = byName.get(key);
    if (!entry) throw new UsageError(`unknown option ${key}`);
    const [name, spec] = entry;
    if (spec.value) {
      const value = key !== arg ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UsageError(`option ${key} needs a value`);
      flags.set(name, value);
    } else {
      if (key !== arg) throw new UsageError(`option ${key} takes no value`);
      flags.set(name, true);
    }
  }
  return { flags, positionals };
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function bool(p: Parsed, name: string): boolean {
  return p.flags.get(name) === true;
}

/** An integer flag within [min, max], or the default. */
export function int(p: Parsed, name: string, def: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = str(p, name);
  if (raw === undefined) return def;
  if (!/^\d+$/.test(raw)) throw new UsageError(`--${name} must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** A number of seconds (fractions allowed). */
export function seconds(p: Parsed, name: string, def: number): number {
  const raw = str(p, name);
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number of seconds, got "${raw}"`);
  return n;
}

/** Exactly `names.length` positionals, named for the error message. */
export function positionals(p: Parsed, names: string[]): string[] {
  if (p.positionals.length < names.length) throw new UsageError(`missing ${names.slice(p.positionals.length).map((n) => n.toUpperCase()).join(' ')}`);
  if (p.positionals.length > names.length) throw new UsageError(`unexpected argument "${p.positionals[names.length]}"`);
  return p.positionals;
}
