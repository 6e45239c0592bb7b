/** The API key prompt: shown after a 401; the key goes to localStorage and into REST and /ws. */
import { useState } from 'preact/hooks';
import { useApp } from '../context.js';
import { html } from '../html.js';
import { Modal } from './modal.js';

export function KeyPrompt({ onDone }: { onDone: () => void }) {
  const { api, feed, store } = useApp();
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const value = key.trim();
    if (!value) { setError('Enter the API key (api.api_key in the orchestrator config).'); return; }
    setBusy(true);
    setError(null);
    const before = api.apiKey;
    api.setKey(value);
    try {
      await api.get('/api/events?limit=1');
      store.setNeedKey(false);
      feed.reconnectNow();
      onDone();
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 401) { api.setKey(before); setError('That key was not accepted.'); }
      else setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const forget = () => { api.setKey(null); feed.reconnectNow(); onDone(); };

  return html`<${Modal} title="API key required" onClose=${onDone} className="narrow">
    <form onSubmit=${submit} novalidate>
      <p>This orchestrator asks for an API key. It is kept in this browser (localStorage) and sent with every request.</p>
      <label class="field">
        <span>API key</span>
        <input type="password" name="api_key" autocomplete="current-password" value=${key} autofocus
          aria-invalid=${!!error} aria-describedby=${error ? 'key-error' : undefined}
          onInput=${(ev: Event) => setKey((ev.target as HTMLInputElement).value)} />
      </label>
      ${error ? html`<p class="field-error" id="key-error" role="alert">${error}</p>` : null}
      <div class="buttons">
        ${api.apiKey ? html`<button type="button" onClick=${forget}>Forget saved key</button>` : null}
        <button type="submit" class="primary" disabled=${busy}>${busy ? 'Checking…' : 'Use key'}</button>
      </div>
    </form>
  </${Modal}>`;
}
