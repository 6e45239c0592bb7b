/**
 * Alert sinks as configured, resolved once at start: the URL and secret read from the environment
 * where the config names a variable, and what is wrong with a sink that cannot be sent to (an
 * unset variable). Secrets stay in here: what leaves (the API, logs) is `presentSink`.
 */
import type { PresentedSink } from '../api/types.js';
import type { OrchestratorConfig } from '../config/schema.js';
import { compileFilter, type SinkFilter } from './match.js';

export type SinkConfig = OrchestratorConfig['alerts'][number];

export interface Sink {
  config: SinkConfig;
  filter: SinkFilter;
  /** Null when it cannot be sent to (see problem). */
  url: string | null;
  secret: string | null;
  /** Why every attempt to this sink fails, said at start and in each attempt's error. */
  problem: string | null;
}

export function resolveSinks(sinks: SinkConfig[], env: NodeJS.ProcessEnv): Sink[] {
  return sinks.map((config, i) => {
    let url: string | null = config.url ?? null;
    let problem: string | null = null;
    if (config.url_env) {
      const value = env[config.url_env]?.trim();
      if (!value) problem = `environment variable ${config.url_env} (alerts[${i}].url_env) is not set`;
      else if (!isHttpUrl(value)) problem = `environment variable ${config.url_env} (alerts[${i}].url_env) is not an http:// or https:// URL`;
      else url = value;
    }
    let secret: string | null = null;
    if (config.secret_env) {
      secret = env[config.secret_env] || null;
      // Sending unsigned when a signature was asked for would teach receivers to accept anything.
      if (!secret) problem ??= `environment variable ${config.secret_env} (alerts[${i}].secret_env) is not set; messages are not sent unsigned`;
    }
    return { config, filter: compileFilter(config.name, config.on, config.services), url: problem ? null : url, secret, problem };
  });
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * A URL safe to show: scheme, host and port only. The path and query of a webhook often are its
 * credential (a Slack URL's path is), and so may be a user:password.
 */
export function redactUrl(url: string | null): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    const hidden = u.pathname !== '/' || u.search !== '' || u.username !== '' || u.password !== '';
    return `${u.protocol}//${u.host}${hidden ? '/…' : '/'}`;
  } catch {
    return '…';
  }
}

/** Remove a sink's URL and secret from a message (an error text may quote the URL). */
export function scrub(text: string, sink: Sink): string {
  let out = text;
  for (const s of [sink.url, sink.secret]) if (s) out = out.split(s).join(s === sink.url ? redactUrl(s)! : '…');
  return out;
}

export function presentSink(s: Sink): PresentedSink {
  const c = s.config;
  return {
    name: c.name, type: c.type, url: redactUrl(s.url ?? c.url ?? null), url_env: c.url_env ?? null,
    signed: !!c.secret_env, secret_env: c.secret_env ?? null, on: c.on, services: c.services ?? null,
    min_interval_seconds: c.min_interval_seconds, timeout_seconds: c.timeout_seconds,
    backoff_seconds: c.backoff_seconds, max_backoff_seconds: c.max_backoff_seconds, max_attempts: c.max_attempts,
    problem: s.problem,
  };
}
