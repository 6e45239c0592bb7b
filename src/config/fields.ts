/**
 * The building blocks of the configuration schemas (schema.ts, keys.ts, alerts.ts): strict objects,
 * numbers, seconds, sizes, URLs, ids, signals, log levels. Every message follows one pattern —
 * "expected <what>, got <value>" — so that load.ts can prefix it with file:line:col and the field path.
 */
import * as v from 'valibot';
import { constants as osConstants } from 'node:os';
import { parsePercent, parseSize } from './units.js';

export type AnyIssue = v.BaseIssue<unknown>;

export const expected = (what: string) => (issue: AnyIssue) => `expected ${what}, got ${issue.received}`;

/** Messages for strict objects: unknown keys, missing keys and non-mapping values read differently. */
export const objectMessage = (issue: AnyIssue) => {
  if (issue.expected === 'never') return `unknown key ${issue.received}`;
  if (issue.expected?.startsWith('"')) return 'required field is missing';
  return `expected a mapping, got ${issue.received}`;
};

export const obj = <E extends v.ObjectEntries>(entries: E) => v.strictObject(entries, objectMessage);

export const str = (what = 'a string') => v.string(expected(what));
export const nonEmpty = (what: string) => v.pipe(str(what), v.trim(), v.minLength(1, expected(what)));
export const bool = () => v.boolean(expected('true or false'));
export const nonNegInt = (what = 'a non-negative integer') =>
  v.pipe(v.number(expected(what)), v.integer(expected(what)), v.minValue(0, expected(what)));
export const posInt = (what = 'a positive integer') =>
  v.pipe(v.number(expected(what)), v.integer(expected(what)), v.minValue(1, expected(what)));
export const nonNegSeconds = (what = 'a non-negative number of seconds') =>
  v.pipe(v.number(expected(what)), v.minValue(0, expected(what)), v.finite(expected(what)));
export const posSeconds = (what = 'a positive number of seconds') =>
  v.pipe(v.number(expected(what)), v.gtValue(0, expected(what)), v.finite(expected(what)));
export const port = () => v.pipe(v.number(expected('a port number 0-65535')), v.integer(expected('a port number 0-65535')),
  v.minValue(0, expected('a port number 0-65535')), v.maxValue(65535, expected('a port number 0-65535')));

/** A URL; ${VAR} references (expanded per instance: fleet/replicas.ts) are checked as if they were "1". */
export const httpUrl = (what = 'an http:// or https:// URL') =>
  v.pipe(str(what), v.trim(), v.check((s) => {
    try {
      const u = new URL(s.replace(/\$\{[A-Za-z_][A-Za-z0-9_]*\}/g, '1'));
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch { return false; }
  }, expected(what)));

/** Ids name log files and URL segments, so they are strict: nothing can escape a folder. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ID_WHAT = 'an id of letters, digits, ".", "_" or "-" (at most 64, not starting with "." "_" "-")';
export const serviceId = () => v.pipe(str(ID_WHAT), v.regex(ID_PATTERN, expected(ID_WHAT)));

/** A string or number read by `parse` (units.ts); undefined from it is the mistake. */
const parsedWith = (what: string, parse: (raw: string | number) => number | undefined) => v.pipe(
  v.union([v.string(), v.number()], expected(what)),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const value = parse(dataset.value);
    if (value === undefined) {
      addIssue({ message: expected(what) });
      return NEVER;
    }
    return value;
  }),
);

export const size = () => parsedWith('a size like 512MB, 1.5GB or 800KB', parseSize);
export const percent = () => parsedWith('a percentage like 25% (of one core)', parsePercent);

const SIGNALS = Object.keys(osConstants.signals) as NodeJS.Signals[];
export const signal = () => v.pipe(
  str('a signal name like SIGTERM'),
  v.transform((s) => (s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`)),
  v.picklist(SIGNALS, expected('a signal name like SIGTERM, SIGINT or SIGQUIT')),
);

const LOG_LEVELS = {
  TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', WARNING: 'warn',
  ERROR: 'error', CRITICAL: 'fatal', FATAL: 'fatal', SILENT: 'silent',
} as const;
export type LogLevel = (typeof LOG_LEVELS)[keyof typeof LOG_LEVELS];
export const logLevel = () => v.pipe(
  str('a log level (DEBUG, INFO, WARNING, ERROR)'),
  v.transform((s) => s.toUpperCase()),
  v.picklist(Object.keys(LOG_LEVELS) as (keyof typeof LOG_LEVELS)[], expected('a log level (DEBUG, INFO, WARNING, ERROR)')),
  v.transform((s) => LOG_LEVELS[s]),
);

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const envName = () => v.pipe(str('an environment variable name'), v.regex(ENV_NAME, expected('an environment variable name')));
