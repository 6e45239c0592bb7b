/** The service's events from the registry, newest first, kept current from the feed. */
import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../context.js';
import { clock } from '../format.js';
import { html } from '../html.js';
import type { FeedEvent } from '../types.js';

const KEEP = 200;

export function Timeline({ id }: { id: string }) {
  const { api, store } = useApp();
  const [events, setEvents] = useState<FeedEvent[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);

  useEffect(() => {
    let live = true;
    const merge = (more: FeedEvent[]) => setEvents((have) => {
      const bySeq = new Map(have.map((e) => [e.seq, e]));
      for (const e of more) bySeq.set(e.seq, e);
      return [...bySeq.values()].sort((a, b) => b.seq - a.seq).slice(0, KEEP);
    });
    const load = () => api.get<{ events: FeedEvent[] }>(`/api/services/${encodeURIComponent(id)}/events?limit=${KEEP}`).then(
      (r) => { if (live) { setLoading(false); setError(null); merge(r.events); } },
      (e: Error) => { if (live) { setLoading(false); setError(e.message); } },
    );
    setEvents([]);
    setLoading(true);
    void load();
    const off = store.onEvent((e) => {
      if (e === 'reset') void load();
      else if (e.service === id) merge([e]);
    });
    return () => { live = false; off(); };
  }, [id]);

  return html`<section aria-label="Events">
    ${error ? html`<p class="error" role="alert">Could not load events: ${error}</p>` : null}
    ${events.length === 0 ? html`<p class="muted">${loading ? 'Loading…' : 'No events yet.'}</p>` : null}
    <ol class="timeline">
      ${events.map((e) => html`<li key=${e.seq} data-type=${e.type}>
        <time datetime=${e.at}>${clock(e.at)}</time>
        <span class=${`etype et-${e.type}`}>${e.type}</span>
        <span class="esum">${summary(e)}</span>
      </li>`)}
    </ol>
  </section>`;
}

function summary(e: FeedEvent): string {
  const d = e.data;
  const s = (k: string) => (d[k] === null || d[k] === undefined ? '' : String(d[k]));
  switch (e.type) {
    case 'state':
      return `${s('from')} → ${s('to')}${d.reason ? ` · ${s('reason')}` : ''}`;
    case 'health':
      return `${s('from')} → ${s('to')}${d.error ? ` · ${s('error')}` : d.status ? ` · HTTP ${s('status')}` : ''}`;
    case 'exit': {
      const how = d.signal ? `signal ${s('signal')}` : d.code !== null && d.code !== undefined ? `code ${s('code')}` : '';
      return [s('reason'), how, d.pid ? `pid ${s('pid')}` : '', s('error')].filter(Boolean).join(' · ');
    }
    default: {
      const text = JSON.stringify(d);
      return text === '{}' ? '' : text.length > 200 ? `${text.slice(0, 200)}…` : text;
    }
  }
}
