/**
 * Register a service: a form for the common keys, or a service file pasted as YAML (parsed here
 * with the yaml package, loaded on first use). The API validates; its errors are shown next to the
 * field they name (in YAML, with the line).
 */
import { useRef, useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { navigate, serviceHref, useApp } from '../context.js';
import { html } from '../html.js';
import type { Problem, ServiceDetail } from '../types.js';
import { Modal } from './modal.js';

interface Field {
  name: string;
  label: string;
  kind?: 'text' | 'number' | 'textarea' | 'checkbox' | 'select';
  placeholder?: string;
  hint?: string;
  required?: boolean;
  options?: string[];
}

const FIELDS: Field[] = [
  { name: 'id', label: 'ID', required: true, placeholder: 'my-agent', hint: 'Letters, digits, ".", "_" or "-".' },
  { name: 'name', label: 'Name', placeholder: 'My AI Service' },
  { name: 'type', label: 'Type', placeholder: 'ai-agent' },
  { name: 'executable', label: 'Command', required: true, placeholder: 'python3 /path/to/agent.py', hint: 'Split shell-style and run without a shell.' },
  { name: 'health_endpoint', label: 'Health endpoint', placeholder: 'http://localhost:8001/health' },
  { name: 'api_endpoint', label: 'API endpoint', placeholder: 'http://localhost:8001' },
  { name: 'working_dir', label: 'Working directory', placeholder: '/path/to/agent' },
  { name: 'restart', label: 'Restart', kind: 'select', options: ['', 'permanent', 'transient', 'temporary'] },
  { name: 'restart_policy.max_retries', label: 'Max retries', kind: 'number', placeholder: '3' },
  { name: 'restart_policy.backoff_seconds', label: 'Backoff seconds', kind: 'number', placeholder: '30' },
  { name: 'resources.max_memory', label: 'Max memory', placeholder: '512MB' },
  { name: 'resources.max_cpu', label: 'Max CPU', placeholder: '25%' },
  { name: 'depends_on', label: 'Depends on', placeholder: 'other-service, another', hint: 'Service ids, comma separated.' },
  { name: 'environment', label: 'Environment', kind: 'textarea', placeholder: 'SERVICE_PORT=8001\nLOG_LEVEL=INFO', hint: 'One NAME=value per line.' },
  { name: 'auto_start', label: 'Start it now', kind: 'checkbox' },
];

const EXAMPLE = `id: my-agent
name: My AI Service
type: ai-agent
executable: python3 /path/to/my_service.py
health_endpoint: http://localhost:8001/health
restart_policy:
  max_retries: 3
  backoff_seconds: 30
environment:
  SERVICE_PORT: "8001"
`;

type Errors = Record<string, string>;
const fieldId = (name: string) => `f-${name.replace(/[^\w-]/g, '-')}`;

/** The form field a server path like "environment.FOO" or "depends_on[1]" belongs to. */
function formFieldOf(path: string): string | null {
  let best: string | null = null;
  for (const f of FIELDS) {
    if ((path === f.name || path.startsWith(`${f.name}.`) || path.startsWith(`${f.name}[`)) && (!best || f.name.length > best.length)) best = f.name;
  }
  return best;
}

function problemsOf(err: ApiError): Problem[] {
  if (err.problems.length) return err.problems;
  const field = err.field ?? '';
  return [{ field, message: field && err.message.startsWith(`${field}: `) ? err.message.slice(field.length + 2) : err.message }];
}

export function Register() {
  const { api } = useApp();
  const [mode, setMode] = useState<'form' | 'yaml'>('form');
  const [values, setValues] = useState<Record<string, string | boolean>>({ auto_start: true });
  const [yamlText, setYamlText] = useState(EXAMPLE);
  const [errors, setErrors] = useState<Errors>({});
  const [general, setGeneral] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);

  const set = (name: string, v: string | boolean) => setValues((old) => ({ ...old, [name]: v }));

  const fail = (fieldErrors: Errors, other: string[]) => {
    setErrors(fieldErrors);
    setGeneral(other);
    // Take the person to the first field that needs attention.
    requestAnimationFrame(() => form.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus());
  };

  const post = async (body: unknown): Promise<ServiceDetail> => api.post<ServiceDetail>('/api/services', body);

  const submitForm = async () => {
    const { body, errors: local } = buildBody(values);
    if (Object.keys(local).length) { fail(local, []); return; }
    try {
      const created = await post(body);
      navigate(serviceHref(created.id));
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      const fe: Errors = {};
      const other: string[] = [];
      for (const p of problemsOf(e)) {
        const f = p.field ? formFieldOf(p.field) : null;
        if (f && !fe[f]) fe[f] = f === p.field ? p.message : `${p.field}: ${p.message}`;
        else if (!f) other.push(p.field ? `${p.field}: ${p.message}` : p.message);
      }
      fail(fe, other);
    }
  };

  const submitYaml = async () => {
    const { parseDocument, LineCounter, isNode } = await import('yaml');
    const lines = new LineCounter();
    const doc = parseDocument(yamlText, { lineCounter: lines, prettyErrors: false });
    if (doc.errors.length) {
      fail({ yaml: doc.errors.map((er) => `line ${er.linePos?.[0].line ?? '?'}: ${er.message.split('\n')[0]}`).join('\n') }, []);
      return;
    }
    const body: unknown = doc.toJS();
    if (!body || typeof body !== 'object' || Array.isArray(body)) { fail({ yaml: 'Expected a mapping of service keys (id, executable, …).' }, []); return; }
    try {
      const created = await post(body);
      navigate(serviceHref(created.id));
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      const msgs = problemsOf(e).map((p) => {
        const path = p.field ? p.field.split(/\.|\[(\d+)\]/).filter((x) => x !== undefined && x !== '').map((x) => (/^\d+$/.test(x) ? Number(x) : x)) : [];
        let line: number | undefined;
        for (let n = path.length; n > 0 && line === undefined; n--) {
          const node = doc.getIn(path.slice(0, n), true);
          if (isNode(node) && node.range) line = lines.linePos(node.range[0]).line;
        }
        return `${line ? `line ${line}: ` : ''}${p.field ? `${p.field}: ` : ''}${p.message}`;
      });
      fail({ yaml: msgs.join('\n') }, []);
    }
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setGeneral([]);
    try {
      await (mode === 'form' ? submitForm() : submitYaml());
    } catch (err) {
      fail({}, [(err as Error).message]);
    } finally {
      setBusy(false);
    }
  };

  const err = (name: string) => errors[name] ? html`<p class="field-error" id=${`${fieldId(name)}-error`} data-field=${name} role="alert">${errors[name]}</p>` : null;
  const a11y = (name: string, hint?: string) => ({
    id: fieldId(name),
    name,
    'aria-invalid': errors[name] ? 'true' : undefined,
    'aria-describedby': [errors[name] ? `${fieldId(name)}-error` : '', hint ? `${fieldId(name)}-hint` : ''].filter(Boolean).join(' ') || undefined,
  });

  return html`<${Modal} title="Register a service" onClose=${() => navigate('#/')}>
    <form ref=${form} onSubmit=${submit} novalidate class="register">
      <fieldset class="segmented">
        <legend class="sr-only">Define the service with</legend>
        <label class=${mode === 'form' ? 'on' : ''}><input type="radio" name="mode" value="form" checked=${mode === 'form'} onChange=${() => { setMode('form'); setErrors({}); }} />Form</label>
        <label class=${mode === 'yaml' ? 'on' : ''}><input type="radio" name="mode" value="yaml" checked=${mode === 'yaml'} onChange=${() => { setMode('yaml'); setErrors({}); }} />Paste YAML</label>
      </fieldset>
      ${mode === 'form' ? html`<div class="grid">
        ${FIELDS.map((f) => html`<div class=${`field ${f.kind === 'textarea' ? 'wide' : ''} ${f.kind === 'checkbox' ? 'check' : ''}`} data-field=${f.name}>
          ${f.kind === 'checkbox'
            ? html`<label><input type="checkbox" ...${a11y(f.name)} checked=${values[f.name] !== false} onChange=${(e: Event) => set(f.name, (e.target as HTMLInputElement).checked)} /> ${f.label}</label>`
            : html`<label for=${fieldId(f.name)}>${f.label}${f.required ? html`<span aria-hidden="true"> *</span>` : null}</label>
              ${f.kind === 'textarea'
                ? html`<textarea ...${a11y(f.name, f.hint)} rows="3" placeholder=${f.placeholder} value=${values[f.name] ?? ''}
                    onInput=${(e: Event) => set(f.name, (e.target as HTMLTextAreaElement).value)}></textarea>`
                : f.kind === 'select'
                  ? html`<select ...${a11y(f.name)} value=${values[f.name] ?? ''} onChange=${(e: Event) => set(f.name, (e.target as HTMLSelectElement).value)}>
                      ${f.options!.map((o) => html`<option value=${o}>${o || '(default: permanent)'}</option>`)}</select>`
                  : html`<input type="text" ...${a11y(f.name, f.hint)} inputmode=${f.kind === 'number' ? 'decimal' : undefined}
                      required=${f.required} autofocus=${f.name === 'id'} aria-required=${f.required ? 'true' : undefined} placeholder=${f.placeholder} value=${values[f.name] ?? ''}
                      onInput=${(e: Event) => set(f.name, (e.target as HTMLInputElement).value)} />`}`}
          ${f.hint ? html`<small id=${`${fieldId(f.name)}-hint`}>${f.hint}</small>` : null}
          ${err(f.name)}
        </div>`)}
      </div>` : html`<div class="field wide" data-field="yaml">
        <label for=${fieldId('yaml')}>Service file (YAML)</label>
        <textarea ...${a11y('yaml', 'yes')} class="code" rows="14" spellcheck="false" value=${yamlText}
          onInput=${(e: Event) => setYamlText((e.target as HTMLTextAreaElement).value)}></textarea>
        <small id=${`${fieldId('yaml')}-hint`}>The same keys as a file in services/.</small>
        ${err('yaml')}
      </div>`}
      ${general.length ? html`<div class="error" role="alert">${general.map((g) => html`<p>${g}</p>`)}</div>` : null}
      <div class="buttons">
        <a class="button" href="#/">Cancel</a>
        <button type="submit" class="primary" disabled=${busy}>${busy ? 'Registering…' : 'Register'}</button>
      </div>
    </form>
  </${Modal}>`;
}

/** Form values → the JSON the API takes: empty fields left out, numbers as numbers when they are. */
function buildBody(values: Record<string, string | boolean>): { body: Record<string, unknown>; errors: Errors } {
  const body: Record<string, unknown> = {};
  const errors: Errors = {};
  const put = (path: string, v: unknown) => {
    const parts = path.split('.');
    let at = body;
    for (const p of parts.slice(0, -1)) at = (at[p] ??= {}) as Record<string, unknown>;
    at[parts[parts.length - 1]!] = v;
  };
  for (const f of FIELDS) {
    const raw = values[f.name];
    if (f.kind === 'checkbox') { put(f.name, raw !== false); continue; }
    const text = typeof raw === 'string' ? raw.trim() : '';
    if (!text) continue;
    if (f.kind === 'number') put(f.name, /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text);
    else if (f.name === 'depends_on') put(f.name, text.split(',').map((s) => s.trim()).filter(Boolean));
    else if (f.name === 'environment') {
      const env: Record<string, string> = {};
      for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
        const eq = line.indexOf('=');
        if (eq <= 0) { errors.environment = `"${line}" is not NAME=value`; break; }
        env[line.slice(0, eq).trim()] = line.slice(eq + 1);
      }
      put(f.name, env);
    } else put(f.name, text);
  }
  return { body, errors };
}
