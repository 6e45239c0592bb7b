/** `alerts`: the sinks alert delivery (src/alerts/) posts matching events to. */
import * as v from 'valibot';
import { envName, expected, httpUrl, nonEmpty, nonNegSeconds, obj, posInt, posSeconds, serviceId } from './fields.js';

export const ALERT_SINK_TYPES = ['webhook', 'slack'] as const;

/** One alert sink: where to post, which events, and how hard to try. */
export function alertSink() {
  return v.pipe(obj({
    name: serviceId(),
    type: v.picklist(ALERT_SINK_TYPES, expected(`one of ${ALERT_SINK_TYPES.join(', ')}`)),
    /** The URL itself, or the environment variable holding it (a Slack URL is a secret). Exactly one. */
    url: v.optional(httpUrl()),
    url_env: v.optional(envName()),
    /** HMAC-SHA256 key for X-Orchestrator-Signature (webhook sinks). */
    secret_env: v.optional(envName()),
    /** Event types (exit, state, alert_gave_up …) or reasons (crashed, failed, unhealthy …); type:reason for both. */
    on: v.pipe(v.array(nonEmpty('an event type or reason'), expected('a list of event types or reasons')), v.minLength(1, 'expected at least one event type or reason')),
    /** Service ids or globs (* and ?); none: every service and orchestrator-wide events. */
    services: v.optional(v.array(nonEmpty('a service id or glob'), expected('a list of service ids or globs'))),
    /** Matches of one service and reason within this long after a message are folded into one later message with a count. */
    min_interval_seconds: v.optional(nonNegSeconds(), 60),
    /** One attempt (connect, send, answer) may take this long. */
    timeout_seconds: v.optional(posSeconds(), 10),
    /** Retry waits: backoff_seconds, doubling, at most max_backoff_seconds; give up after max_attempts. */
    backoff_seconds: v.optional(posSeconds(), 5),
    max_backoff_seconds: v.optional(posSeconds(), 600),
    max_attempts: v.optional(posInt(), 12),
  }), v.check((s) => (s.url === undefined) !== (s.url_env === undefined), 'give exactly one of url and url_env'));
}
