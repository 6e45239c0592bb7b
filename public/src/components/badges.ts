import { html } from '../html.js';
import { latency } from '../format.js';
import type { Service } from '../types.js';

const STATE_TONE: Record<Service['state'], string> = {
  running: 'ok', starting: 'info', draining: 'info', stopping: 'info', throttled: 'warn', exited: 'warn', backoff: 'warn', failed: 'bad', stopped: 'off',
};

export function StateBadge({ service }: { service: Service }) {
  return html`<span class=${`badge tone-${STATE_TONE[service.state]}`} title=${service.reason}>${service.state}</span>`;
}

const HEALTH_TONE: Record<Service['health'], string> = { healthy: 'ok', unhealthy: 'bad', stalled: 'warn', unknown: 'off' };

export function HealthBadge({ service }: { service: Service }) {
  const hc = service.health_check;
  // Stalled comes from heartbeats or output silence, so it shows with or without a health endpoint.
  if (!hc.endpoint && service.health === 'stalled') return html`<span class=${`badge tone-${HEALTH_TONE.stalled}`} title=${service.reason}>stalled</span>`;
  if (!hc.endpoint) return html`<span class="muted" title="no health endpoint">—</span>`;
  const last = hc.last;
  const title = last ? `${last.ok ? 'passed' : 'failed'}${last.status ? ` (HTTP ${last.status})` : ''}${last.error ? `: ${last.error}` : ''}` : 'not probed yet';
  return html`<span class="health" title=${title}>
    <span class=${`badge tone-${HEALTH_TONE[service.health]}`}>${service.health}</span>
    ${last ? html`<span class="latency">${latency(last.latency_ms)}</span>` : null}
  </span>`;
}
