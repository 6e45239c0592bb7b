/**
 * Which orchestrator the CLI talks to, and with which key:
 *   URL:  --url, else host:port of --config FILE, else ORCHESTRATOR_URL, else host:port of the
 *         default config file
 *   key:  --api-key, else ORCHESTRATOR_API_KEY, else the config file's api.api_key — the last only
 *         when the URL came from that same file, so a local key is never sent to another host.
 * The config file is --config, else ./config/orchestrator.yaml, else the one of this installation;
 * ORCHESTRATOR_PORT / ORCHESTRATOR_HOST apply as they do for `serve`.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadOrchestratorConfig } from '../config/load.js';
import { UsageError } from './args.js';

export interface Target {
  url: string;
  apiKey?: string;
  /** Where the URL came from, for error messages. */
  origin: string;
}

export interface TargetInput {
  url?: string;
  apiKey?: string;
  config?: string;
}

const DEFAULT_URL = 'http://127.0.0.1:8000';

/** The config file the CLI reads, or undefined when there is none. */
export function findConfig(explicit: string | undefined, cwd = process.cwd()): string | undefined {
  if (explicit) {
    const file = resolve(cwd, explicit);
    if (!existsSync(file)) throw new UsageError(`config file ${file} not found`);
    return file;
  }
  const candidates = [
    resolve(cwd, 'config/orchestrator.yaml'),
    // dist/cli.js (or src/cli/target.ts) → the package root's config.
    fileURLToPath(new URL('../config/orchestrator.yaml', import.meta.url)),
    fileURLToPath(new URL('../../config/orchestrator.yaml', import.meta.url)),
  ];
  return candidates.find((f) => existsSync(f));
}

/** The address a client uses for a bind address: a wildcard bind is reached over loopback. */
export function connectHost(bind: string): string {
  if (bind === '0.0.0.0' || bind === '') return '127.0.0.1';
  if (bind === '::' || bind === '[::]') return '[::1]';
  return bind.includes(':') && !bind.startsWith('[') ? `[${bind}]` : bind;
}

export function resolveTarget(input: TargetInput, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Target {
  const envKey = env.ORCHESTRATOR_API_KEY || undefined;
  // An explicit --config beats ORCHESTRATOR_URL: the scripts ask for their own config's address.
  const explicitUrl = input.url ?? (input.config ? undefined : env.ORCHESTRATOR_URL || undefined);
  if (explicitUrl) {
    return { url: normaliseUrl(explicitUrl), apiKey: input.apiKey ?? envKey, origin: input.url ? '--url' : 'ORCHESTRATOR_URL' };
  }
  const file = findConfig(input.config, cwd);
  if (!file) return { url: DEFAULT_URL, apiKey: input.apiKey ?? envKey, origin: 'the default address' };
  let config;
  try {
    config = loadOrchestratorConfig(file, env);
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as Error).message.split('\n')[0]} (or pass --url)`);
  }
  const url = `http://${connectHost(config.orchestrator.host)}:${config.orchestrator.port}`;
  return { url, apiKey: input.apiKey ?? envKey ?? config.api.api_key ?? undefined, origin: file };
}

function normaliseUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(/^[a-z]+:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new UsageError(`not a URL: "${raw}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`the orchestrator URL must be http:// or https://, got "${raw}"`);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}
