/** Changing what the orchestrator supervises: register FILE, remove ID, reload. */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { formatProblem, type Problem } from '../../config/load.js';
import { positionals, UsageError } from '../args.js';
import { CliError, EXIT } from '../client.js';
import { type Command, withCommon } from '../context.js';

/**
 * Service definitions from a YAML or JSON file (JSON is YAML), or stdin for "-": one mapping or a
 * list of them. A relative working_dir resolves against the file's folder, as it does for files in
 * services/, and a service with an executable and no working_dir runs in the file's folder.
 */
export function readDefinitions(file: string, cwd = process.cwd()): Array<Record<string, unknown>> {
  let text: string;
  const abs = file === '-' ? undefined : resolve(cwd, file);
  try {
    text = readFileSync(abs ?? 0, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  const items = Array.isArray(doc) ? doc : [doc];
  if (items.length === 0 || items.some((i) => !i || typeof i !== 'object' || Array.isArray(i))) {
    throw new UsageError(`${file}: expected a service definition (a mapping with at least "id"), or a list of them`);
  }
  const base = abs ? dirname(abs) : cwd;
  return (items as Array<Record<string, unknown>>).map((def) => {
    const wd = def.working_dir;
    if (typeof wd === 'string' && !isAbsolute(wd)) return { ...def, working_dir: resolve(base, wd) };
    if (wd === undefined && def.executable) return { ...def, working_dir: base };
    return def;
  });
}

interface Registered { id: string; state: string; external?: boolean }

const register: Command = {
  name: 'register',
  usage: 'register FILE',
  summary: 'add the service(s) defined in a YAML or JSON file ("-" reads stdin)',
  flags: withCommon(),
  async run(ctx) {
    const [file] = positionals(ctx.args, ['file']);
    const defs = readDefinitions(file!);
    const client = ctx.client();
    const results: Registered[] = [];
    for (const def of defs) {
      const id = typeof def.id === 'string' ? def.id : '(no id)';
      try {
        const answer = await client.raw('POST', '/api/services', { body: def });
        const s = JSON.parse(answer.text) as Registered;
        results.push(s);
        if (!ctx.json) ctx.out(`${answer.status === 201 ? 'registered' : 'updated'} ${s.id}: ${ctx.style.state(s.state)}${s.external ? ' (external)' : ''}\n`);
      } catch (e) {
        if (e instanceof CliError) throw new CliError(`cannot register ${id}: ${e.message}`, e.exitCode);
        throw e;
      }
    }
    if (ctx.json) ctx.out(`${JSON.stringify(defs.length === 1 ? results[0] : results, null, 2)}\n`);
  },
};

const remove: Command = {
  name: 'remove',
  usage: 'remove ID',
  summary: 'stop a service registered over the API and forget it',
  flags: withCommon(),
  async run(ctx) {
    const [id] = positionals(ctx.args, ['id']);
    const body = await ctx.client().json<{ id: string; removed: boolean }>('DELETE', `/api/services/${encodeURIComponent(id!)}`);
    ctx.out(ctx.json ? `${JSON.stringify(body)}\n` : `removed ${body.id}\n`);
  },
};

interface ReloadResult {
  added: string[]; removed: string[]; changed: string[]; restarted: string[];
  problems: Problem[];
}

const reload: Command = {
  name: 'reload',
  usage: 'reload',
  summary: 're-read services/ and apply the differences',
  flags: withCommon(),
  async run(ctx) {
    positionals(ctx.args, []);
    const r = await ctx.client().json<ReloadResult>('POST', '/api/reload');
    if (ctx.json) { ctx.out(`${JSON.stringify(r, null, 2)}\n`); return r.problems.length ? EXIT.refused : EXIT.ok; }
    const list = (ids: string[]) => (ids.length ? ids.join(', ') : ctx.style.paint('dim', 'none'));
    ctx.out(`added: ${list(r.added)}\nremoved: ${list(r.removed)}\nchanged: ${list(r.changed)}\nrestarted: ${list(r.restarted)}\n`);
    for (const p of r.problems) {
      ctx.out(`${ctx.style.paint('red', 'problem:')} ${formatProblem(p)}\n`);
    }
    return r.problems.length ? EXIT.refused : EXIT.ok;
  },
};

export const registryCommands: Command[] = [register, remove, reload];
