/**
 * A run's environment from its env files and secrets, built at each start (never at load), and the
 * masks that keep secret values out of the log lines the API and the feed serve.
 *
 * Precedence, lowest first: the orchestrator's own environment (filtered, kernel.ts childBaseEnv),
 * env_file entries in their order, `environment`, `secrets`, then the variables the orchestrator
 * sets for every run (ORCHESTRATOR_URL, ORCHESTRATOR_SERVICE_ID, ORCHESTRATOR_TOKEN, the run mark).
 *
 * Everything here is asynchronous (file reads, the secret command), so a slow secret never holds
 * the main thread's event loop. A failure names the file or the secret, never a value.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { parseEnv } from 'node:util';
import type { SecretSource, ServiceSpec } from '../config/schema.js';

/** A secret command gets this long; then it is killed and the start fails. */
export const SECRET_COMMAND_TIMEOUT_MS = 10_000;
/** Secret values shorter than this are not masked in logs (too likely to match ordinary text). */
export const MASK_MIN_LENGTH = 8;
/** What a masked value becomes. */
export const MASK = '***';

export type RunEnv =
  | { ok: true; fromFiles: Record<string, string>; secrets: Record<string, string> }
  | { ok: false; cause: 'env_file' | 'secret'; error: string };

/** True when a spec needs anything read before its process can start. */
export function needsRunEnv(spec: Pick<ServiceSpec, 'env_file' | 'secrets'>): boolean {
  return (spec.env_file?.length ?? 0) > 0 || Object.keys(spec.secrets ?? {}).length > 0;
}

/** Read the spec's env files and secrets now. `env` is where {env: VAR} secrets look and what a secret command runs with. */
export async function resolveRunEnv(
  spec: Pick<ServiceSpec, 'env_file' | 'secrets' | 'working_dir'>, env: NodeJS.ProcessEnv, commandEnv: Record<string, string>,
): Promise<RunEnv> {
  const fromFiles: Record<string, string> = {};
  for (const file of spec.env_file ?? []) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      return { ok: false, cause: 'env_file', error: `env file ${file}: ${describeFsError(err)}` };
    }
    Object.assign(fromFiles, parseEnv(text));
  }
  const entries = Object.entries(spec.secrets ?? {});
  const values = await Promise.all(entries.map(([name, source]) => secretValue(name, source, spec.working_dir, env, commandEnv)));
  const secrets: Record<string, string> = {};
  for (let i = 0; i < entries.length; i++) {
    const r = values[i]!;
    if ('error' in r) return { ok: false, cause: 'secret', error: r.error };
    secrets[entries[i]![0]] = r.value;
  }
  return { ok: true, fromFiles, secrets };
}

async function secretValue(
  name: string, source: SecretSource, cwd: string, env: NodeJS.ProcessEnv, commandEnv: Record<string, string>,
): Promise<{ value: string } | { error: string }> {
  const empty = (where: string) => ({ error: `secret ${name}: ${where} is empty` });
  if (source.file !== undefined) {
    try {
      const value = (await readFile(source.file, 'utf8')).trim();
      return value ? { value } : empty(`file ${source.file}`);
    } catch (err) {
      return { error: `secret ${name}: file ${source.file}: ${describeFsError(err)}` };
    }
  }
  if (source.env !== undefined) {
    const value = env[source.env];
    if (value === undefined) return { error: `secret ${name}: environment variable ${source.env} is not set in the orchestrator's environment` };
    return value ? { value } : empty(`environment variable ${source.env}`);
  }
  const r = await runSecretCommand(source.command!, cwd, commandEnv);
  if ('error' in r) return { error: `secret ${name}: command ${r.error}` };
  return r.value ? { value: r.value } : empty('the command\'s output');
}

/**
 * Run a secret command in its own process group: a timeout kills the whole group (a grandchild
 * holding stdout open cannot keep the start waiting). Its stdout, the would-be value, never goes
 * into an error; the last line of its stderr does.
 */
function runSecretCommand(command: string, cwd: string, env: Record<string, string>): Promise<{ value: string } | { error: string }> {
  return new Promise((done) => {
    let settled = false;
    const finish = (r: { value: string } | { error: string }) => { if (!settled) { settled = true; clearTimeout(timer); done(r); } };
    const child = spawn('/bin/sh', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    const take = (into: Buffer[]) => (b: Buffer) => { size += b.length; if (size <= 1024 * 1024) into.push(b); };
    child.stdout.on('data', take(out));
    child.stderr.on('data', take(err));
    const killGroup = () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } };
    const timer = setTimeout(() => {
      killGroup();
      finish({ error: `did not finish within ${SECRET_COMMAND_TIMEOUT_MS / 1000}s` });
    }, SECRET_COMMAND_TIMEOUT_MS);
    child.once('error', (e) => finish({ error: `could not run: ${e.message}` }));
    child.once('close', (code, signal) => {
      const said = Buffer.concat(err).toString('utf8').trim().split('\n').pop()?.slice(0, 200);
      if (code === 0) { finish({ value: Buffer.concat(out).toString('utf8').trim() }); return; }
      finish({ error: `${signal ? `killed by ${signal}` : `exited with code ${code}`}${said ? ` (stderr: ${said})` : ''}` });
    });
    // The group is ours to clear once its shell is done: nothing of it outlives the start.
    child.once('exit', () => killGroup());
  });
}

/**
 * For a run adopted after an orchestrator restart (whose values this process never read): the
 * values its {file} and {env} secrets have now — what the run got, unless they changed since — for
 * masking only. Commands are not run again; what cannot be read is skipped.
 */
export async function currentSecretValues(spec: Pick<ServiceSpec, 'secrets'>, env: NodeJS.ProcessEnv): Promise<string[]> {
  const values = await Promise.all(Object.values(spec.secrets ?? {}).map(async (source) => {
    if (source.env !== undefined) return env[source.env] ?? '';
    if (source.file !== undefined) return readFile(source.file, 'utf8').then((t) => t.trim(), () => '');
    return '';
  }));
  return values.filter((v) => v !== '');
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT': return 'not found';
    case 'EACCES': return 'permission denied';
    case 'EISDIR': return 'is a folder';
    default: return (err as Error).message;
  }
}

/**
 * The secret values to mask in each service's logs: those of its current run and of its earlier runs
 * under this orchestrator (a rotated secret still appears in older lines), at most MAX_KEPT values.
 * Main-thread memory only — never written to the registry or a log; forgotten when the service is removed.
 */
export class SecretMasks {
  private static readonly MAX_KEPT = 64;
  private readonly byService = new Map<string, string[]>();

  /** A run of `id` starts with these secret values. */
  add(id: string, values: string[]): void {
    const fresh = values.filter((v) => v.length >= MASK_MIN_LENGTH);
    if (!fresh.length && !this.byService.has(id)) return;
    const kept = (this.byService.get(id) ?? []).filter((v) => !fresh.includes(v));
    // Longest first, so a value that contains another is masked whole.
    const all = [...fresh, ...kept].slice(0, SecretMasks.MAX_KEPT).sort((a, b) => b.length - a.length);
    this.byService.set(id, all);
  }

  forget(id: string): void {
    this.byService.delete(id);
  }

  /** The values to mask for `id` (empty: nothing to mask). */
  values(id: string): string[] {
    return this.byService.get(id) ?? [];
  }

  mask(id: string, line: string): string {
    const values = this.byService.get(id);
    return values ? maskLine(line, values) : line;
  }
}

/** `line` with every occurrence of each value replaced by MASK (values longest first). */
export function maskLine(line: string, values: readonly string[]): string {
  let out = line;
  for (const v of values) if (out.includes(v)) out = out.split(v).join(MASK);
  return out;
}
