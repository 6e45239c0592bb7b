/**
 * The services table. Only the rows in view (plus a margin) are in the DOM; spacer rows keep the
 * scrollbar honest, so 1,000 services cost what 40 do.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { navigate, serviceHref } from '../context.js';
import { bytes, duration, percent } from '../format.js';
import { html } from '../html.js';
import { tableCommitted } from '../perf.js';
import type { UsagePoint } from '../store.js';
import { STATES, type Service } from '../types.js';
import { HealthBadge, StateBadge } from './badges.js';
import { Heartbeat, Ready, StateNote } from './lifecycle.js';
import { Sparkline } from './sparkline.js';

export type SortKey = 'name' | 'type' | 'state' | 'health' | 'ready' | 'heartbeat' | 'uptime' | 'restarts' | 'cpu' | 'memory' | 'pid';
export interface Sort { key: SortKey; dir: 1 | -1 }
export type StateFilter = 'all' | 'healthy' | 'unhealthy' | Service['state'];

const ROW_H = 44;
const OVERSCAN = 8;

const COLUMNS: Array<{ key: SortKey; label: string }> = [
  { key: 'name', label: 'Service' }, { key: 'type', label: 'Type' }, { key: 'state', label: 'State' },
  { key: 'health', label: 'Health' }, { key: 'ready', label: 'Ready' }, { key: 'heartbeat', label: 'Heartbeat' },
  { key: 'uptime', label: 'Uptime' }, { key: 'restarts', label: 'Restarts' },
  { key: 'cpu', label: 'CPU' }, { key: 'memory', label: 'Memory' }, { key: 'pid', label: 'PID' },
];

export function matches(s: Service, text: string, state: StateFilter): boolean {
  if (state === 'healthy' || state === 'unhealthy') { if (s.health !== state || s.state !== 'running') return false; }
  else if (state !== 'all' && s.state !== state) return false;
  if (!text) return true;
  return s.id.toLowerCase().includes(text) || s.name.toLowerCase().includes(text) || s.type.toLowerCase().includes(text) || s.group.toLowerCase().includes(text);
}

const HEALTH_ORDER = { unhealthy: 0, stalled: 1, unknown: 2, healthy: 3 } as const;

function sortValue(s: Service, key: SortKey): string | number {
  switch (key) {
    case 'name': return s.name.toLowerCase();
    case 'type': return s.type.toLowerCase();
    case 'state': return STATES.indexOf(s.state);
    case 'health': return s.health_check.endpoint || s.health === 'stalled' ? HEALTH_ORDER[s.health] : 3;
    case 'ready': return s.ready ? 1 : 0;
    case 'heartbeat': return s.heartbeat_at ? -Date.parse(s.heartbeat_at) : -Infinity; // by age; none last when stalest first
    case 'uptime': return s.pid !== null && s.started_at ? -Date.parse(s.started_at) : -Infinity;
    case 'restarts': return s.restarts;
    case 'cpu': return s.usage?.cpu_percent ?? -1;
    case 'memory': return s.usage?.rss_bytes ?? -1;
    case 'pid': return s.pid ?? -1;
  }
}

export function sortServices(list: Service[], sort: Sort): Service[] {
  const keyed = list.map((s) => ({ s, v: sortValue(s, sort.key) }));
  keyed.sort((a, b) => (a.v < b.v ? -sort.dir : a.v > b.v ? sort.dir : a.s.id < b.s.id ? -1 : a.s.id > b.s.id ? 1 : 0));
  return keyed.map((k) => k.s);
}

/** A replicated service above its instances: a row of its own. */
export interface GroupRow { group: string; type: string; instances: Service[] }
export type TableRow = Service | GroupRow;
const isGroup = (r: TableRow): r is GroupRow => 'group' in r && 'instances' in r;

/**
 * Sorted services with each replicated service's instances together, in index order, under a row
 * of their service, placed where its first instance sorted.
 */
export function groupRows(sorted: Service[]): TableRow[] {
  const members = new Map<string, Service[]>();
  for (const s of sorted) if (s.replica) members.set(s.replica.service, [...(members.get(s.replica.service) ?? []), s]);
  const out: TableRow[] = [];
  for (const s of sorted) {
    if (!s.replica) { out.push(s); continue; }
    const list = members.get(s.replica.service);
    if (!list) continue; // already placed
    members.delete(s.replica.service);
    out.push({ group: s.replica.service, type: s.type, instances: [...list].sort((a, b) => a.replica!.index - b.replica!.index) }, ...[...list].sort((a, b) => a.replica!.index - b.replica!.index));
  }
  return out;
}

interface TableProps {
  rows: TableRow[];
  /** Rolling restarts by service (store.rollouts). */
  rollouts: Map<string, string>;
  loaded: boolean;
  sort: Sort;
  onSort: (key: SortKey) => void;
  history: Map<string, UsagePoint[]>;
  serverNow: number;
  selected: string | null;
}

export function ServicesTable({ rows, rollouts, loaded, sort, onSort, history, serverNow, selected }: TableProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 900 });

  useEffect(() => {
    const el = scroller.current!;
    const update = () => setView({ top: el.scrollTop, height: el.clientHeight });
    el.addEventListener('scroll', update, { passive: true });
    const ro = new ResizeObserver(update);
    ro.observe(el);
    update();
    return () => { el.removeEventListener('scroll', update); ro.disconnect(); };
  }, []);

  useLayoutEffect(() => { if (loaded) tableCommitted(); });

  const first = Math.max(0, Math.floor(view.top / ROW_H) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((view.top + view.height) / ROW_H) + OVERSCAN);
  const visible = rows.slice(first, last);

  return html`<div class="table-scroll" ref=${scroller} tabindex="-1">
    <table class="services" aria-rowcount=${rows.length + 1} aria-label="Services">
      <thead>
        <tr aria-rowindex="1">
          ${COLUMNS.map((c) => html`<th scope="col" class=${`c-${c.key}`} aria-sort=${sort.key === c.key ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none'}>
            <button type="button" class="sort" onClick=${() => onSort(c.key)} title=${`Sort by ${c.label.toLowerCase()}`}>
              ${c.label}<span class="arrow" aria-hidden="true">${sort.key === c.key ? (sort.dir === 1 ? '▲' : '▼') : ''}</span>
            </button>
          </th>`)}
        </tr>
      </thead>
      <tbody>
        ${first > 0 ? html`<tr class="spacer" aria-hidden="true" style=${`height:${first * ROW_H}px`}><td colspan=${COLUMNS.length}></td></tr>` : null}
        ${visible.map((s, i) => (isGroup(s)
    ? html`<${Group} key=${`group:${s.group}`} g=${s} index=${first + i} rollout=${rollouts.get(s.group)} />`
    : html`<${Row} key=${s.id} s=${s} index=${first + i} points=${history.get(s.id)} serverNow=${serverNow} selected=${selected === s.id} />`))}
        ${last < rows.length ? html`<tr class="spacer" aria-hidden="true" style=${`height:${(rows.length - last) * ROW_H}px`}><td colspan=${COLUMNS.length}></td></tr>` : null}
        ${rows.length === 0 ? html`<tr class="empty"><td colspan=${COLUMNS.length}>${loaded ? 'No services match.' : 'Connecting to the orchestrator…'}</td></tr>` : null}
      </tbody>
    </table>
  </div>`;
}

/** A replicated service's row: how many of its instances run, are healthy and ready; its rolling restart. */
function Group({ g, index, rollout }: { g: GroupRow; index: number; rollout: string | undefined }) {
  const n = g.instances.length;
  const count = (pred: (s: Service) => boolean) => `${g.instances.filter(pred).length}/${n}`;
  const probed = g.instances.some((s) => s.health_check.endpoint);
  return html`<tr class="group" data-group=${g.group} aria-rowindex=${index + 2}>
    <td class="c-name"><strong>${g.group}</strong> <span class="sub">${n} replica${n === 1 ? '' : 's'}</span></td>
    <td class="c-type">${g.type}</td>
    <td class="c-state">${count((s) => s.state === 'running')} running${rollout ? html`<span class="note" data-field="rollout">${rollout}</span>` : null}</td>
    <td class="c-health">${probed ? `${count((s) => s.health === 'healthy')} healthy` : '—'}</td>
    <td class="c-ready">${count((s) => s.ready)}</td>
    <td class="c-heartbeat"></td><td class="c-uptime"></td>
    <td class="c-restarts num">${g.instances.reduce((r, s) => r + s.restarts, 0)}</td>
    <td class="c-cpu"></td><td class="c-memory"></td><td class="c-pid"></td>
  </tr>`;
}

interface RowProps { s: Service; index: number; points: UsagePoint[] | undefined; serverNow: number; selected: boolean }

const cpuOf = (p: UsagePoint) => p.cpu;
const rssOf = (p: UsagePoint) => p.rss;

function Row({ s, index, points, serverNow, selected }: RowProps) {
  const uptime = s.pid !== null && s.started_at ? (serverNow - Date.parse(s.started_at)) / 1000 : null;
  return html`<tr data-id=${s.id} data-state=${s.state} data-health=${s.health} data-ready=${String(s.ready)} aria-rowindex=${index + 2}
      class=${selected ? 'selected' : undefined} onClick=${(e: MouseEvent) => { if (!(e.target as Element).closest('a')) navigate(serviceHref(s.id)); }}>
    <td class="c-name">
      <a href=${serviceHref(s.id)} class="name">${s.name}</a>
      ${s.name !== s.id ? html`<span class="sub">${s.id}</span>` : null}
    </td>
    <td class="c-type">${s.type}</td>
    <td class="c-state"><${StateBadge} service=${s} /><${StateNote} s=${s} serverNow=${serverNow} /></td>
    <td class="c-health"><${HealthBadge} service=${s} /></td>
    <td class="c-ready"><${Ready} s=${s} /></td>
    <td class="c-heartbeat"><${Heartbeat} s=${s} serverNow=${serverNow} /></td>
    <td class="c-uptime num">${duration(uptime)}</td>
    <td class="c-restarts num">${s.restarts}</td>
    <td class="c-cpu"><span class="num">${percent(s.usage?.cpu_percent)}</span>
      <${Sparkline} points=${points} pick=${cpuOf} now=${serverNow} floor=${10} label=${`CPU of ${s.id}, last 10 minutes`} /></td>
    <td class="c-memory"><span class="num">${bytes(s.usage?.rss_bytes)}</span>
      <${Sparkline} points=${points} pick=${rssOf} now=${serverNow} label=${`Memory of ${s.id}, last 10 minutes`} /></td>
    <td class="c-pid num">${s.pid ?? '—'}</td>
  </tr>`;
}
