/**
 * One service in a side panel: its live state, last exit and health check, start / stop / restart
 * (stop asks first), usage over the last minutes, and tabs for the log tail, events, runs and spec.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { useApp, navigate } from '../context.js';
import { bytes, clock, duration, latency, percent, toYaml } from '../format.js';
import { html } from '../html.js';
import type { UsagePoint } from '../store.js';
import type { Service, ServiceDetail } from '../types.js';
import { HealthBadge, StateBadge } from './badges.js';
import { heartbeatAge, Ready, StateNote } from './lifecycle.js';
import { Timeline } from './events.js';
import { LogTail } from './logs.js';
import { Runs } from './runs.js';
import { Sparkline } from './sparkline.js';

type Tab = 'logs' | 'events' | 'runs' | 'spec';
const TABS: Array<{ key: Tab; label: string }> = [{ key: 'logs', label: 'Logs' }, { key: 'events', label: 'Events' }, { key: 'runs', label: 'Runs' }, { key: 'spec', label: 'Spec' }];

export function Detail({ id }: { id: string }) {
  const { store, api } = useApp();
  const s = store.services.get(id);
  const heading = useRef<HTMLHeadingElement>(null);
  const [tab, setTab] = useState<Tab>('logs');
  const [spec, setSpec] = useState<Record<string, unknown> | null>(null);
  const [specError, setSpecError] = useState<string | null>(null);

  useEffect(() => {
    heading.current?.focus();
    const back = document.activeElement;
    return () => {
      // Back to where the person was: the service's row if it is on screen.
      const row = document.querySelector<HTMLElement>(`tr[data-id="${CSS.escape(id)}"] a`);
      (row ?? (back instanceof HTMLElement ? back : null))?.focus();
    };
  }, [id]);

  useEffect(() => {
    let live = true;
    const load = () => api.get<ServiceDetail>(`/api/services/${encodeURIComponent(id)}`).then(
      (d) => { if (live) { setSpec(d.spec); setSpecError(null); } },
      (e: Error) => { if (live) setSpecError(e.message); },
    );
    setSpec(null);
    void load();
    seedMetrics(id);
    const off = store.onEvent((e) => { if (e !== 'reset' && e.service === id && (e.type === 'updated' || e.type === 'registered')) void load(); });
    return () => { live = false; off(); };
  }, [id]);

  const seedMetrics = (sid: string) => {
    const since = new Date(store.serverNow() - 10 * 60_000).toISOString();
    api.get<unknown>(`/api/services/${encodeURIComponent(sid)}/metrics?since=${encodeURIComponent(since)}`).then(
      (body) => { const pts = metricPoints(body); if (pts.length) store.seedHistory(sid, pts); },
      () => { /* not available on this orchestrator: the feed fills the charts */ },
    );
  };

  // Escape closes the panel wherever focus is, unless a dialog above it takes the key.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && !e.defaultPrevented && !document.querySelector('dialog[open]')) navigate('#/');
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  const onTabKey = (e: KeyboardEvent) => {
    const i = TABS.findIndex((t) => t.key === tab);
    const next = e.key === 'ArrowRight' ? (i + 1) % TABS.length : e.key === 'ArrowLeft' ? (i + TABS.length - 1) % TABS.length : -1;
    if (next < 0) return;
    e.preventDefault();
    setTab(TABS[next]!.key);
    (e.currentTarget as HTMLElement).querySelectorAll<HTMLElement>('[role=tab]')[next]?.focus();
  };

  return html`<aside class="drawer" aria-labelledby="detail-title" data-service=${id}>
    <div class="drawer-head">
      <h2 id="detail-title" ref=${heading} tabindex="-1">${s?.name ?? id}${s && s.name !== id ? html` <span class="sub">${id}</span>` : null}</h2>
      <a class="close" href="#/" aria-label="Close details">×</a>
    </div>
    ${!s
      ? html`<p class="muted">${store.loaded ? `There is no service "${id}" (any more).` : 'Loading…'}</p>`
      : html`
        <${Actions} s=${s} stopSignal=${(spec?.stop as { signal?: string } | undefined)?.signal} />
        <${Summary} s=${s} serverNow=${store.serverNow()} points=${store.history.get(id)}
          readiness=${(spec?.health as { readiness_endpoint?: string } | undefined)?.readiness_endpoint} />
        <div role="tablist" aria-label="Service details" class="tabs" onKeyDown=${onTabKey}>
          ${TABS.map((t) => html`<button type="button" role="tab" id=${`tab-${t.key}`} aria-controls=${`panel-${t.key}`}
              aria-selected=${tab === t.key} tabindex=${tab === t.key ? 0 : -1} onClick=${() => setTab(t.key)}>${t.label}</button>`)}
        </div>
        <div role="tabpanel" id="panel-logs" aria-labelledby="tab-logs" hidden=${tab !== 'logs'}><${LogTail} id=${id} /></div>
        <div role="tabpanel" id="panel-events" aria-labelledby="tab-events" hidden=${tab !== 'events'}><${Timeline} id=${id} /></div>
        <div role="tabpanel" id="panel-runs" aria-labelledby="tab-runs" hidden=${tab !== 'runs'}>${tab === 'runs' ? html`<${Runs} id=${id} />` : null}</div>
        <div role="tabpanel" id="panel-spec" aria-labelledby="tab-spec" hidden=${tab !== 'spec'}>
          ${specError ? html`<p class="error" role="alert">Could not load the spec: ${specError}</p>` : null}
          <pre class="spec" tabindex="0">${spec ? toYaml(spec).trimStart() : 'Loading…'}</pre>
        </div>`}
  </aside>`;
}

function Actions({ s, stopSignal }: { s: Service; stopSignal: string | undefined }) {
  const { api, store } = useApp();
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const confirmBtn = useRef<HTMLButtonElement>(null);
  const stopBtn = useRef<HTMLButtonElement>(null);

  useEffect(() => { setConfirming(false); setError(null); }, [s.id]);
  useEffect(() => { if (confirming) confirmBtn.current?.focus(); }, [confirming]);

  // An instance's buttons act on it; "rolling" restarts every instance of its service, one at a time.
  const run = async (cmd: 'start' | 'stop' | 'restart' | 'rolling') => {
    if (busy) return;
    if (confirming) { setConfirming(false); stopBtn.current?.focus(); }
    setBusy(cmd);
    setError(null);
    try {
      await api.put(cmd === 'rolling'
        ? `/api/services/${encodeURIComponent(s.replica!.service)}/restart?rolling=true`
        : `/api/services/${encodeURIComponent(s.id)}/${cmd}`);
    } catch (e) {
      setError(`${cmd === 'rolling' ? 'rolling restart' : cmd} failed: ${(e as Error).message}`);
    } finally {
      setBusy(null);
    }
  };
  const rollout = s.replica ? store.rollouts.get(s.replica.service) : undefined;

  if (!store.may('operate')) {
    return html`<div class="actions"><p class="note" data-field="read-only">The key "${store.principal?.name}" may only read (scopes: ${store.principal?.scopes.join(', ')}); start, stop and restart need operate.</p></div>`;
  }
  // aria-disabled rather than disabled while a command runs: a disabled button would drop keyboard focus.
  return html`<div class="actions">
    <button type="button" onClick=${() => run('start')} aria-disabled=${busy ? 'true' : undefined}>${busy === 'start' ? 'Starting…' : 'Start'}</button>
    <button type="button" ref=${stopBtn} onClick=${() => { if (!busy) setConfirming(true); }} aria-disabled=${busy ? 'true' : undefined} aria-expanded=${confirming}>${busy === 'stop' ? 'Stopping…' : 'Stop'}</button>
    <button type="button" onClick=${() => run('restart')} aria-disabled=${busy ? 'true' : undefined}>${busy === 'restart' ? 'Restarting…' : 'Restart'}</button>
    ${s.replica ? html`<button type="button" data-action="rolling" onClick=${() => run('rolling')} aria-disabled=${busy ? 'true' : undefined}
        title=${`Restart the ${s.replica.count} instances of ${s.replica.service} one at a time, each healthy before the next`}>
        ${busy === 'rolling' ? 'Starting…' : `Rolling restart of ${s.replica.service}`}</button>` : null}
    ${rollout ? html`<p class="note" data-field="rollout" role="status">${rollout}</p>` : null}
    ${confirming ? html`<div class="confirm" role="group" aria-label="Confirm stop">
      <span>Stop ${s.name}? It gets ${stopSignal ?? 'its stop signal'}, then SIGKILL if it does not exit in time.</span>
      <button type="button" class="danger" ref=${confirmBtn} onClick=${() => run('stop')}>Stop service</button>
      <button type="button" onClick=${() => { setConfirming(false); stopBtn.current?.focus(); }}>Cancel</button>
    </div>` : null}
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
  </div>`;
}

function Summary({ s, serverNow, points, readiness }: { s: Service; serverNow: number; points: UsagePoint[] | undefined; readiness: string | undefined }) {
  const uptime = s.pid !== null && s.started_at ? (serverNow - Date.parse(s.started_at)) / 1000 : null;
  const exit = s.last_exit;
  const probe = s.health_check.last;
  const age = heartbeatAge(s, serverNow);
  return html`<dl class="summary">
    <div><dt>State</dt><dd><${StateBadge} service=${s} /> <span class="reason">${s.reason}</span> <${StateNote} s=${s} serverNow=${serverNow} /></dd></div>
    <div><dt>Health</dt><dd><${HealthBadge} service=${s} />
      ${probe && !probe.ok ? html` <span class="reason">${probe.error ?? `HTTP ${probe.status}`}</span>` : null}</dd></div>
    <div data-field="ready"><dt>Ready</dt><dd><${Ready} s=${s} />${readiness ? html` <span class="reason">${readiness}</span>` : null}</dd></div>
    <div data-field="heartbeat"><dt>Heartbeat</dt><dd>${age === null ? '—' : `${duration(age)} ago${s.heartbeat_at ? ` · ${clock(s.heartbeat_at)}` : ''}`}</dd></div>
    ${s.progress !== null ? html`<div data-field="progress"><dt>Progress</dt><dd class="num">${s.progress}</dd></div>` : null}
    ${s.inflight !== null ? html`<div data-field="inflight"><dt>In flight</dt><dd class="num">${s.inflight}${s.state === 'draining' ? ' · draining: stops at 0' : ''}</dd></div>` : null}
    ${s.throttled_until ? html`<div data-field="throttled"><dt>Throttled until</dt><dd>${clock(s.throttled_until)}</dd></div>` : null}
    ${s.status_text ? html`<div data-field="status" class="wide"><dt>Status</dt><dd>${s.status_text}</dd></div>` : null}
    <div><dt>PID</dt><dd>${s.pid ?? '—'}${s.adopted ? ' (adopted)' : ''}</dd></div>
    <div><dt>Uptime</dt><dd>${duration(uptime)}</dd></div>
    <div><dt>Restarts</dt><dd>${s.restarts}${s.attempts ? ` · attempt ${s.attempts}` : ''}</dd></div>
    <div><dt>Last exit</dt><dd>${exit
      ? `${exit.reason}${exit.signal ? ` · ${exit.signal}` : exit.code !== null ? ` · code ${exit.code}` : ''} · ${clock(exit.at)}${exit.detail ? ` · ${exit.detail}` : ''}`
      : '—'}</dd></div>
    ${s.next_start_at ? html`<div><dt>Next start</dt><dd>${clock(s.next_start_at)}</dd></div>` : null}
    ${s.next_run_at ? html`<div data-field="next-run"><dt>Next run</dt><dd>${clock(s.next_run_at)}</dd></div>` : null}
    ${s.waiting_for.length ? html`<div><dt>Waiting for</dt><dd>${s.waiting_for.join(', ')}</dd></div>` : null}
    <div><dt>Health check</dt><dd>${s.health_check.endpoint ?? 'none'}${probe ? ` · ${latency(probe.latency_ms)}` : ''}</dd></div>
    ${s.api_endpoint ? html`<div><dt>API</dt><dd>${s.api_endpoint}</dd></div>` : null}
    <div><dt>Type · group</dt><dd>${s.type} · ${s.group}${s.external ? ' · external' : ''} · from ${s.source}</dd></div>
  </dl>
  <div class="charts">
    <figure>
      <figcaption>CPU <strong>${percent(s.usage?.cpu_percent)}</strong></figcaption>
      <${Sparkline} points=${points} pick=${cpuOf} now=${serverNow} width=${300} height=${44} floor=${10} label="CPU, last 10 minutes" />
    </figure>
    <figure>
      <figcaption>Memory <strong>${bytes(s.usage?.rss_bytes)}</strong>${s.usage ? ` · ${s.usage.pids} process${s.usage.pids === 1 ? '' : 'es'}` : ''}</figcaption>
      <${Sparkline} points=${points} pick=${rssOf} now=${serverNow} width=${300} height=${44} label="Memory, last 10 minutes" />
    </figure>
  </div>`;
}

const cpuOf = (p: UsagePoint) => p.cpu;
const rssOf = (p: UsagePoint) => p.rss;

/** GET …/metrics answers in a shape still to be settled: accept a list of samples under a few names. */
function metricPoints(body: unknown): UsagePoint[] {
  const b = body as Record<string, unknown>;
  const list = Array.isArray(body) ? body : [b?.points, b?.samples, b?.metrics, b?.history].find(Array.isArray) ?? [];
  const out: UsagePoint[] = [];
  for (const raw of list as Array<Record<string, unknown>>) {
    const at = raw.t ?? raw.at ?? raw.time ?? raw.ts ?? raw.bucket;
    const t = typeof at === 'number' ? at : typeof at === 'string' ? Date.parse(at) : NaN;
    const cpu = Number(raw.cpu_percent ?? raw.cpu ?? raw.cpu_avg);
    const rss = Number(raw.rss_bytes ?? raw.rss ?? raw.rss_avg ?? raw.memory);
    if (Number.isFinite(t) && Number.isFinite(cpu) && Number.isFinite(rss)) out.push({ t, cpu, rss });
  }
  return out.sort((a, b) => a.t - b.t);
}
