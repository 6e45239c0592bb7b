/**
 * api.keys: named API keys with scopes (http/auth.ts checks them). Each key's secret is read here,
 * at load, so a missing file or an unset variable is reported at its line like any other mistake.
 */
import * as v from 'valibot';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expected, nonEmpty, obj } from './fields.js';


/** What a key may do; each scope includes the ones before it (admin ⊇ operate ⊇ read). */
export const SCOPES = ['read', 'operate', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** A key of `api.keys` with its secret resolved (from key, key_file or key_env). */
export interface ApiKey {
  name: string;
  key: string;
  scopes: Scope[];
}

const KEY_SOURCES = ['key', 'key_file', 'key_env'] as const;

/**
 * One entry of api.keys: {name, key | key_file | key_env, scopes}. The secret is read here, so a
 * missing file or an unset variable is reported at its line like any other mistake.
 */
export function apiKeyEntry(baseDir: string, env: NodeJS.ProcessEnv) {
  return v.pipe(
    obj({
      name: v.pipe(nonEmpty('a key name'), v.regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, expected('a key name of letters, digits, ".", "_", "@" or "-" (at most 64)'))),
      key: v.optional(nonEmpty('a non-empty key string')),
      key_file: v.optional(nonEmpty('a path to a file holding the key')),
      key_env: v.optional(nonEmpty('the name of an environment variable holding the key')),
      scopes: v.pipe(
        v.array(v.picklist(SCOPES, expected(`one of ${SCOPES.join(', ')}`)), expected('a list of scopes (read, operate, admin)')),
        v.minLength(1, expected('at least one scope (read, operate, admin)')),
      ),
    }),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const entry = dataset.value;
      const given = KEY_SOURCES.filter((k) => entry[k] !== undefined);
      if (given.length !== 1) {
        addIssue({ message: `give exactly one of key, key_file or key_env${given.length ? ` (got ${given.join(' and ')})` : ''}` });
        return NEVER;
      }
      const secret = readSecret(entry, baseDir, env);
      if ('problem' in secret) {
        addIssue({ message: secret.problem, path: [{ type: 'object', origin: 'value', input: entry, key: given[0]!, value: entry[given[0]!] }] });
        return NEVER;
      }
      return { name: entry.name, key: secret.key, scopes: [...new Set(entry.scopes)] } satisfies ApiKey;
    }),
  );
}

function readSecret(entry: { key?: string; key_file?: string; key_env?: string }, baseDir: string, env: NodeJS.ProcessEnv): { key: string } | { problem: string } {
  if (entry.key !== undefined) return { key: entry.key };
  if (entry.key_env !== undefined) {
    const value = env[entry.key_env]?.trim();
    return value ? { key: value } : { problem: `environment variable ${entry.key_env} is ${value === undefined ? 'not set' : 'empty'}` };
  }
  const file = resolve(baseDir, entry.key_file!);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { problem: `cannot read key file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  }
  const key = text.trim();
  return key ? { key } : { problem: `key file ${file} is empty` };
}

/** Key names and secrets must be unique: an event names the key that acted, and a secret names one key. */
export function uniqueKeys(keys: ApiKey[], addIssue: (i: { message: string; path?: any }) => void): void {
  const names = new Map<string, number>();
  const secrets = new Map<string, number>();
  keys.forEach((k, i) => {
    const item = { type: 'array', origin: 'value', input: keys, key: i, value: k };
    if (names.has(k.name)) addIssue({ message: `the key name "${k.name}" is already used by api.keys[${names.get(k.name)}]`, path: [item, { type: 'object', origin: 'value', input: k, key: 'name', value: k.name }] });
    else names.set(k.name, i);
    if (secrets.has(k.key)) addIssue({ message: `the same secret as api.keys[${secrets.get(k.key)}]: each key must be different`, path: [item] });
    else secrets.set(k.key, i);
  });
}
