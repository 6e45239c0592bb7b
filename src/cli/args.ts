/**
 * Command-line parsing for the CLI: each verb declares its flags (boolean or taking a value, with a
 * one-letter alias), parsed by node:util parseArgs; everything else is a positional argument.
 * Accepts `--flag value`, `--flag=value`, `-f`, and `--` to end the options. commandFirst lets the
 * common options come before the command word as well.
 */
import { parseArgs as nodeParseArgs } from 'node:util';

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

/**
 * Node's own parser (util.parseArgs, strict) over the declared flags; its errors become
 * UsageErrors that name the option: "unknown option --x", "option --lines needs a value",
 * "option --wait takes no value".
 */
export function parseArgs(argv: string[], specs: FlagSpecs): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const short = spec.aliases?.find((a) => /^-[A-Za-z]$/.test(a));
    options[name] = { type: spec.value ? 'string' : 'boolean', ...(short ? { short: short.slice(1) } : {}) };
  }
  let parsed;
  try {
    parsed = nodeParseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw usageOf(e as Error & { code?: string });
  }
  const flags = new Map<string, string | true>();
  for (const [name, value] of Object.entries(parsed.values)) if (value !== undefined && value !== false) flags.set(name, value as string | true);
  return { flags, positionals: parsed.positionals };
}

/** util.parseArgs' error, said the way the rest of the CLI says things. */
function usageOf(e: Error & { code?: string }): UsageError {
  const option = /'(?:-\w, )?(--?[\w-]+)/.exec(e.message)?.[1] ?? '';
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return new UsageError(`unknown option ${option}`);
  if (/argument missing/.test(e.message)) return new UsageError(`option ${option} needs a value`);
  if (/does not take an argument/.test(e.message)) return new UsageError(`option ${option} takes no value`);
  if (/ambiguous/.test(e.message)) return new UsageError(`option ${option} needs a value; one starting with "-" is written ${option}=VALUE`);
  return new UsageError(e.message);
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
