import { useEffect, useMemo, useState } from 'preact/hooks';
import { useApp, useNow, useRoute, useStore } from '../context.js';
import { html } from '../html.js';
import { STATES, type Service } from '../types.js';
import { Detail } from './detail.js';
import { Header } from './header.js';
import { KeyPrompt } from './key-prompt.js';
import { Register } from './register.js';
import { groupRows, matches, ServicesTable, sortServices, type Sort, type SortKey, type StateFilter } from './services-table.js';

const FILTERS: Array<{ value: StateFilter; label: string }> = [
  { value: 'all', label: 'All states' }, { value: 'healthy', label: 'Healthy' }, { value: 'unhealthy', label: 'Unhealthy' },
  ...STATES.map((s) => ({ value: s, label: s[0]!.toUpperCase() + s.slice(1) })),
];

export function App() {
  const { store, api } = useApp();
  useStore(store);
  const route = useRoute();
  const now = useNow(1000);
  const [text, setText] = useState('');
  const [state, setState] = useState<StateFilter>('all');
  const [sort, setSort] = useState<Sort>({ key: 'name', dir: 1 });
  const [askKey, setAskKey] = useState(false);
  // A dismissed key prompt stays away until the header's button asks again or a new 401 comes.
  const [keyDismissed, setKeyDismissed] = useState(false);
  useEffect(() => { if (store.needKey) setKeyDismissed(false); }, [store.needKey]);
  const openKeyPrompt = () => { setKeyDismissed(false); setAskKey(true); };

  // Version and uptime of the orchestrator itself, refreshed on every (re)connection.
  const live = store.conn.state === 'live';
  useEffect(() => {
    if (!live) return;
    fetch(`${api.base}/health`, { cache: 'no-store' }).then((r) => r.json()).then(
      (h: { started_at?: string }) => store.setServerInfo({ startedAt: h.started_at ?? null }),
      () => { /* header shows no uptime */ },
    );
  }, [live]);

  const all = useMemo(() => [...store.services.values()], [store.rev]);
  const needle = text.trim().toLowerCase();
  const shown = useMemo(() => sortServices(all.filter((s: Service) => matches(s, needle, state)), sort), [all, needle, state, sort]);
  // Instances of a replicated service come together, under a row of their service.
  const rows = useMemo(() => groupRows(shown), [shown]);
  const onSort = (key: SortKey) => setSort((old) => ({ key, dir: old.key === key ? (old.dir === 1 ? -1 : 1) : key === 'name' || key === 'type' ? 1 : -1 }));

  return html`
    <a class="skip" href="#services-table">Skip to services</a>
    <${Header} filter=${state} onFilter=${setState} now=${now} onAskKey=${openKeyPrompt} />
    <div class="body">
    <main id="services-table">
      <div class="toolbar" role="search">
        <label class="inline grow">
          <span class="sr-only">Filter services by name, id, type or group</span>
          <input type="search" placeholder="Filter by name, id, type or group" value=${text}
            onInput=${(e: Event) => setText((e.target as HTMLInputElement).value)} />
        </label>
        <span class="inline">
          <label for="state-filter">State</label>
          <select id="state-filter" value=${state} onChange=${(e: Event) => setState((e.target as HTMLSelectElement).value as StateFilter)}>
            ${FILTERS.map((f) => html`<option value=${f.value}>${f.label}</option>`)}
          </select>
        </span>
        <span class="shown" aria-live="polite">${shown.length === all.length ? `${all.length} services` : `${shown.length} of ${all.length} services`}</span>
      </div>
      <${ServicesTable} rows=${rows} rollouts=${store.rollouts} loaded=${store.loaded} sort=${sort} onSort=${onSort} history=${store.history}
        serverNow=${store.serverNow()} selected=${route.kind === 'service' ? route.id : null} />
    </main>
    ${route.kind === 'service' ? html`<${Detail} key=${route.id} id=${route.id} />` : null}
    </div>
    ${route.kind === 'register' ? html`<${Register} />` : null}
    ${(store.needKey && !keyDismissed) || askKey ? html`<${KeyPrompt} onDone=${() => { setAskKey(false); setKeyDismissed(true); }} />` : null}
  `;
}
