/**
 * What an agent reports about itself (issue 15): ready, heartbeat age, progress, in-flight work and
 * status text, and the throttled wait counting down. Ages and countdowns are worked out from the
 * server's clock (store.serverNow) at each render, so they move every second without new data.
 */
import { duration } from '../format.js';
import { html } from '../html.js';
import type { Service } from '../types.js';

/** Seconds since the last heartbeat, or null before the first. */
export function heartbeatAge(s: Service, serverNow: number): number | null {
  if (s.heartbeat_at) return Math.max(0, (serverNow - Date.parse(s.heartbeat_at)) / 1000);
  return s.heartbeat_age_seconds;
}

/** Seconds left of a throttled wait (rounded up), or null when not throttled. */
export function throttleLeft(s: Service, serverNow: number): number | null {
  if (s.state !== 'throttled' || !s.throttled_until) return null;
  return Math.max(0, Math.ceil((Date.parse(s.throttled_until) - serverNow) / 1000));
}

/** Yes / no while there is something to be ready; a dash when stopped, failed or waiting. */
export function Ready({ s }: { s: Service }) {
  if (s.ready) return html`<span class="ready tone-ok" title="ready for traffic and for dependents">yes</span>`;
  return ['running', 'starting', 'draining'].includes(s.state)
    ? html`<span class="ready tone-warn" title="alive, but not ready">no</span>`
    : html`<span class="muted" title="not running">—</span>`;
}

/** Under the state badge: the throttled countdown, or the work a draining service still has in flight. */
export function StateNote({ s, serverNow }: { s: Service; serverNow: number }) {
  const left = throttleLeft(s, serverNow);
  if (left !== null) return html`<span class="state-note num" title=${`starts again at ${new Date(s.throttled_until!).toLocaleTimeString([], { hour12: false })}`}>retry in ${duration(left)}</span>`;
  if (s.state === 'draining') return html`<span class="state-note">${s.inflight === null ? 'finishing work' : `${s.inflight} in flight`}</span>`;
  return null;
}

/** The last heartbeat's age, with progress and status text beneath. */
export function Heartbeat({ s, serverNow }: { s: Service; serverNow: number }) {
  const age = heartbeatAge(s, serverNow);
  if (age === null) return html`<span class="muted" title="no heartbeat from this run">—</span>`;
  const sub = [s.progress !== null ? `progress ${s.progress}` : '', s.status_text ?? ''].filter(Boolean).join(' · ');
  return html`<span class="num">${duration(age)} ago</span>${sub ? html`<span class="sub" title=${sub}>${sub}</span>` : null}`;
}
