/**
 * Live log tail of one service: the last lines from the API, then live lines from the feed's
 * logs/<id> topic. Follow keeps the newest line in view; pause freezes the view and counts what
 * arrives meanwhile.
 */
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { useApp } from '../context.js';
import { html } from '../html.js';
import type { LogLine, LogStream } from '../types.js';

const MAX_LINES = 1000;
const RETRIES = 3;
type Which = 'both' | LogStream;

export function LogTail({ id }: { id: string }) {
  const { api, feed, store } = useApp();
  const [lines, setLines] = useState<LogLine[]>([]);
  const [pending, setPending] = useState<LogLine[]>([]);
  const [follow, setFollow] = useState(true);
  const [which, setWhich] = useState<Which>('both');
  const [filter, setFilter] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const box = useRef<HTMLDivElement>(null);
  const followRef = useRef(follow);
  followRef.current = follow;

  // Lines printed while the feed was down never arrive live: a new connection reloads the tail.
  const session = store.sessions;
  useEffect(() => {
    let loaded = false;
    let early: LogLine[] = [];
    setLines([]); setPending([]); setError(null); setLoading(true);
    const add = (incoming: LogLine[]) => {
      if (followRef.current) setLines((l) => cap([...l, ...incoming]));
      else setPending((p) => cap([...p, ...incoming]));
    };
    const off = store.onLog((service, stream, got) => {
      if (service !== id) return;
      const incoming = got.map((line) => ({ stream, line }));
      if (loaded) add(incoming);
      else early = early.concat(incoming);
    });
    feed.subscribe(`logs/${id}`);
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = (attempt: number) => api.request<string>('GET', `/api/services/${encodeURIComponent(id)}/logs?lines=200&stream=both`, undefined, 'application/x-ndjson').then(
      (text) => {
        if (cancelled) return;
        const past = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogLine);
        loaded = true;
        setLoading(false);
        setError(null);
        setLines(cap([...past, ...withoutOverlap(past, early)]));
        early = [];
      },
      (e: { status?: number; message: string }) => {
        if (cancelled) return;
        // A busy orchestrator may time out reading the file: try again before giving up.
        if ((e.status === 0 || (e.status ?? 0) >= 500) && attempt < RETRIES) {
          setError(`${e.message}; retrying…`);
          timer = setTimeout(() => void load(attempt + 1), 1000 * (attempt + 1));
          return;
        }
        loaded = true; setLoading(false); setError(e.message); setLines(cap(early)); early = [];
      },
    );
    void load(0);
    return () => { cancelled = true; clearTimeout(timer); off(); feed.unsubscribe(`logs/${id}`); };
  }, [id, session]);

  const needle = filter.trim().toLowerCase();
  const shown = useMemo(
    () => lines.filter((l) => (which === 'both' || l.stream === which) && (!needle || l.line.toLowerCase().includes(needle))),
    [lines, which, needle],
  );

  useLayoutEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [shown, follow]);

  const toggleFollow = () => {
    if (!follow) { setLines((l) => cap([...l, ...pending])); setPending([]); }
    setFollow(!follow);
  };

  return html`<section class="logs" aria-label="Log tail">
    <div class="log-controls">
      <fieldset class="segmented">
        <legend class="sr-only">Stream</legend>
        ${(['both', 'stdout', 'stderr'] as const).map((w) => html`<label class=${which === w ? 'on' : ''}>
          <input type="radio" name=${`stream-${id}`} value=${w} checked=${which === w} onChange=${() => setWhich(w)} />${w}
        </label>`)}
      </fieldset>
      <label class="inline grow">
        <span class="sr-only">Filter log lines</span>
        <input type="search" placeholder="Filter lines" value=${filter} onInput=${(e: Event) => setFilter((e.target as HTMLInputElement).value)} />
      </label>
      <button type="button" aria-pressed=${follow} onClick=${toggleFollow} class=${follow ? 'on' : ''} title="Keep the newest line in view; off freezes the view">
        Follow
      </button>
      ${follow ? null : html`<span class="paused" role="status">Paused${pending.length ? ` · ${pending.length} new line${pending.length === 1 ? '' : 's'}` : ''}</span>`}
    </div>
    ${error ? html`<p class="error" role="alert">Could not load logs: ${error}</p>` : null}
    <div class="log" ref=${box} tabindex="0" role="log" aria-live="off" aria-label=${`Log lines of ${id}`}>
      ${shown.length === 0
        ? html`<div class="muted">${loading ? 'Loading…' : lines.length ? 'No line matches.' : 'No output yet.'}</div>`
        : shown.map((l) => html`<div class=${`ln ln-${l.stream}`}>${l.line}</div>`)}
    </div>
  </section>`;
}

function cap(lines: LogLine[]): LogLine[] {
  return lines.length > MAX_LINES ? lines.slice(lines.length - MAX_LINES) : lines;
}

/** Live lines that arrived while the history loaded may already be in it: drop the overlap, per stream. */
function withoutOverlap(past: LogLine[], live: LogLine[]): LogLine[] {
  const drop = new Map<LogStream, number>();
  for (const stream of ['stdout', 'stderr'] as const) {
    const a = past.filter((l) => l.stream === stream).map((l) => l.line);
    const b = live.filter((l) => l.stream === stream).map((l) => l.line);
    let k = Math.min(a.length, b.length);
    for (; k > 0; k--) {
      let same = true;
      for (let i = 0; i < k && same; i++) same = a[a.length - k + i] === b[i];
      if (same) break;
    }
    drop.set(stream, k);
  }
  return live.filter((l) => {
    const n = drop.get(l.stream) ?? 0;
    if (n > 0) { drop.set(l.stream, n - 1); return false; }
    return true;
  });
}
