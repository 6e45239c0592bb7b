/** The dashboard's entry: find the API, then render the app and open the live feed. */
import { render } from 'preact';
import { Api, discoverApiBase } from './api.js';
import { App } from './components/app.js';
import { Ctx } from './context.js';
import { Feed } from './feed.js';
import { html } from './html.js';
import { Store } from './store.js';

async function boot(): Promise<void> {
  const api = new Api(await discoverApiBase());
  const store = new Store();
  const feed = new Feed(api, store);
  api.onUnauthorized = () => store.setNeedKey(true);
  const root = document.getElementById('app')!;
  root.textContent = '';
  render(html`<${Ctx.Provider} value=${{ store, api, feed }}><${App} /></${Ctx.Provider}>`, root);
  feed.start();
}

boot().catch((e: unknown) => console.error('dashboard failed to start', e));
