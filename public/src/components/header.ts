import { useApp } from '../context.js';
import { duration } from '../format.js';
import { html } from '../html.js';
import type { Service } from '../types.js';
import type { StateFilter } from './services-table.js';

interface Chip { label: string; filter: StateFilter; n: number; tone: string; always: boolean }

function chips(services: Iterable<Service>): { total: number; chips: Chip[] } {
  const n = { running: 0, healthy: 0, unhealthy: 0, starting: 0, draining: 0, stopping: 0, backoff: 0, throttled: 0, exited: 0, failed: 0, stopped: 0 };
  let total = 0;
  for (const s of services) {
    total++;
    n[s.state]++;
    if (s.state === 'running' && s.health === 'healthy') n.healthy++;
    if (s.state === 'running' && s.health === 'unhealthy') n.unhealthy++;
  }
  return {
    total,
    chips: [
      { label: 'Running', filter: 'running', n: n.running, tone: 'ok', always: true },
      { label: 'Healthy', filter: 'healthy', n: n.healthy, tone: 'ok', always: true },
      { label: 'Unhealthy', filter: 'unhealthy', n: n.unhealthy, tone: 'bad', always: true },
      { label: 'Starting', filter: 'starting', n: n.starting, tone: 'info', always: false },
      { label: 'Draining', filter: 'draining', n: n.draining, tone: 'info', always: false },
      { label: 'Stopping', filter: 'stopping', n: n.stopping, tone: 'info', always: false },
      { label: 'Exited', filter: 'exited', n: n.exited, tone: 'warn', always: false },
      { label: 'Backoff', filter: 'backoff', n: n.backoff, tone: 'warn', always: true },
      { label: 'Throttled', filter: 'throttled', n: n.throttled, tone: 'warn', always: false },
      { label: 'Failed', filter: 'failed', n: n.failed, tone: 'bad', always: true },
      { label: 'Stopped', filter: 'stopped', n: n.stopped, tone: 'off', always: true },
    ],
  };
}

interface Props {
  filter: StateFilter;
  onFilter: (f: StateFilter) => void;
  now: number;
  onAskKey: () => void;
}

export function Header({ filter, onFilter, now, onAskKey }: Props) {
  const { store, api } = useApp();
  const { total, chips: list } = chips(store.services.values());
  const uptime = store.serverStartedAt !== null ? (store.serverNow() - store.serverStartedAt) / 1000 : null;
  return html`<header class="top">
    <div class="brand">
      <h1>Agent Orchestrator</h1>
      <span class="meta">${store.version ? `v${store.version}` : ''}${uptime !== null ? ` · up ${duration(uptime)}` : ''}</span>
    </div>
    <nav class="counts" aria-label="Services by state">
      <button type="button" class="chip" aria-pressed=${filter === 'all'} onClick=${() => onFilter('all')}>
        <span class="n" data-count="total">${total}</span> Total
      </button>
      ${list.filter((c) => c.always || c.n > 0).map((c) => html`<button type="button" class=${`chip tone-${c.tone}`} aria-pressed=${filter === c.filter}
          onClick=${() => onFilter(filter === c.filter ? 'all' : c.filter)}>
        <span class="n" data-count=${c.filter}>${c.n}</span> ${c.label}
      </button>`)}
    </nav>
    <div class="top-actions">
      <${Connection} now=${now} onAskKey=${onAskKey} />
      ${api.apiKey ? html`<button type="button" class="link" onClick=${onAskKey}>API key</button>` : null}
      ${store.may('admin') ? html`<a class="button primary" href="#/register">Register service</a>` : null}
    </div>
  </header>`;
}

function Connection({ now, onAskKey }: { now: number; onAskKey: () => void }) {
  const { store, feed } = useApp();
  const c = store.conn;
  if (c.state === 'unauthorized') {
    return html`<button type="button" class="conn conn-unauthorized" data-conn="unauthorized" onClick=${onAskKey}>
      <span class="dot" aria-hidden="true"></span>API key needed</button>`;
  }
  const label = c.state === 'live' ? 'Live' : c.state === 'connecting' ? 'Connecting…' : 'Reconnecting';
  // The countdown stays out of the live region: announcing it every second would be noise.
  const countdown = c.state === 'reconnecting' && c.retryAt && c.retryAt > now ? ` in ${Math.ceil((c.retryAt - now) / 1000)}s` : '';
  return html`<span class=${`conn conn-${c.state}`} data-conn=${c.state} title=${c.detail || label}>
    <span class="dot" aria-hidden="true"></span><span role="status">${label}</span><span aria-hidden="true">${countdown}</span>
    ${c.state === 'reconnecting' ? html` <button type="button" class="link" onClick=${() => feed.reconnectNow()}>retry now</button>` : null}
  </span>`;
}
