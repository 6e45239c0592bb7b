/** What every component may reach: the store, the REST client and the feed; plus small hooks. */
import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import type { Api } from './api.js';
import type { Feed } from './feed.js';
import type { Store } from './store.js';

export interface AppContext {
  store: Store;
  api: Api;
  feed: Feed;
}

export const Ctx = createContext<AppContext | null>(null);

export function useApp(): AppContext {
  const ctx = useContext(Ctx);
  if (!ctx) throw new Error('useApp outside <Ctx.Provider>');
  return ctx;
}

/** Re-render on every store change (at most once per frame). */
export function useStore(store: Store): number {
  const [n, setN] = useState(0);
  useEffect(() => store.subscribe(() => setN((x) => x + 1)), [store]);
  return n;
}

/** The current time, refreshed every `ms` (uptimes tick without server traffic). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export type Route = { kind: 'list' } | { kind: 'service'; id: string } | { kind: 'register' };

export function parseRoute(hash: string): Route {
  const m = /^#\/services\/([^/?#]+)$/.exec(hash);
  if (m) return { kind: 'service', id: decodeURIComponent(m[1]!) };
  if (hash === '#/register') return { kind: 'register' };
  return { kind: 'list' };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function navigate(hash: string): void {
  if (location.hash !== hash) location.hash = hash;
}

export const serviceHref = (id: string) => `#/services/${encodeURIComponent(id)}`;
