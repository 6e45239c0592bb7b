/** The service's recorded runs (GET /api/services/{id}/runs), newest first; reloaded when a run starts or ends. */
import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../context.js';
import { clock } from '../format.js';
import { html } from '../html.js';
import type { RunsPage } from '../types.js';

const PAGE = 20;

function seconds(s: number | null): string {
  if (s === null) return '—';
  return s < 10 ? `${s.toFixed(2)} s` : s < 120 ? `${s.toFixed(1)} s` : `${Math.round(s)} s`;
}

export function Runs({ id }: { id: string }) {
  const { api, store } = useApp();
  const [page, setPage] = useState<RunsPage | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    const load = () => api.get<RunsPage>(`/api/services/${encodeURIComponent(id)}/runs?limit=${PAGE}`).then(
      (r) => { if (live) { setPage(r); setError(null); } },
      (e: Error) => { if (live) setError(e.message); },
    );
    setPage(null);
    void load();
    // A run begins or ends with a state change of its service.
    const off = store.onEvent((e) => { if (e === 'reset' || (e.service === id && e.type === 'state')) void load(); });
    return () => { live = false; off(); };
  }, [id]);

  return html`<section aria-label="Runs">
    ${error ? html`<p class="error" role="alert">Could not load runs: ${error}</p>` : null}
    ${!page ? html`<p class="muted">Loading…</p>` : page.runs.length === 0 ? html`<p class="muted">No runs recorded.</p>` : html`
      <table class="runs">
        <caption class="muted">${page.runs.length} of ${page.total} run${page.total === 1 ? '' : 's'}, newest first</caption>
        <thead><tr><th scope="col">Run</th><th scope="col">Started</th><th scope="col">Duration</th><th scope="col">Exit</th><th scope="col">Reason</th></tr></thead>
        <tbody>${page.runs.map((r) => html`<tr data-run=${r.run_id}>
          <td>${r.run_id}${r.pid ? html` <span class="muted">pid ${r.pid}</span>` : null}</td>
          <td>${clock(r.started_at)}</td>
          <td class="num">${r.ended_at ? seconds(r.duration_seconds) : 'running'}</td>
          <td class=${r.ended_at === null ? '' : r.exit_code === 0 && !r.signal ? 'ok' : 'bad'}>${r.ended_at === null ? '—' : r.signal ?? (r.exit_code ?? '—')}</td>
          <td>${r.reason ?? ''}</td>
        </tr>`)}</tbody>
      </table>`}
  </section>`;
}
