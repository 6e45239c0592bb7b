/**
 * `orchestrator serve` as PID 1 of its own PID namespace (`unshare --pid --fork --mount-proc`), the
 * way a container without an init runs it (issue 13). A service whose leader exits and leaves a
 * grandchild behind is restarted over and over; the orchestrator SIGKILLs each leftover group, and
 * those orphans must be reaped, not pile up as zombies. With tini on PATH it runs itself under tini;
 * without one it refuses (exit 78) unless ORCHESTRATOR_ALLOW_PID1=1 — where the zombies do pile up,
 * which shows the count below sees them.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { procTable, type ProcStat } from '../../src/os/proc.js';
import { Registry } from '../../src/store/index.js';
import { node } from '../helpers/harness.js';
import { BIN, ROOT, until, type Running as BinRunning } from '../helpers/process.mjs';
import { reapFolders, servedFolder, type ApiService } from '../helpers/serve.js';

t.teardown(reapFolders);

const RESTARTS = 13;
const UNSHARE = '/usr/bin/unshare';
const TINI = '/usr/bin/tini';

/** A service that forks a grandchild and exits, leaving it behind: restarted at once, forever. */
const leaver = {
  f: {
    id: 'f', executable: node('forks.mjs'),
    environment: { CHILDREN: 1, EXIT_AFTER_FORK: 1, EXIT_CODE: 1 },
    restart_policy: { max_retries: 1000, backoff_seconds: 0 },
  },
};

/** A PATH with every command of this one but no tini (a folder of links): a machine without an init. */
function pathWithoutTini(): string {
  const bin = mkdtempSync(join(tmpdir(), 'orch-no-tini-'));
  for (const dir of process.env.PATH!.split(delimiter)) {
    let names: string[];
    try { names = readdirSync(dir); } catch { continue; }
    for (const name of names) {
      if (['tini', 'tini-static', 'docker-init'].includes(name) || existsSync(join(bin, name))) continue;
      symlinkSync(join(dir, name), join(bin, name));
    }
  }
  return bin;
}

/** The environment of the test, without any PID 1 setting of its own, PATH replaced. */
function env(path: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, PATH: path, ...extra };
  for (const k of ['ORCHESTRATOR_INIT', 'ORCHESTRATOR_ALLOW_PID1', 'ORCHESTRATOR_INIT_WRAPPED']) if (!(k in extra)) delete e[k];
  return e;
}

/** The orchestrator's child process here is unshare (its output and exit are the orchestrator's). */
type Running = Pick<BinRunning, 'child' | 'output' | 'exit'>;

/** `orchestrator serve` as PID 1 of a new PID namespace; --kill-child ends the namespace if unshare goes. */
function serveAsPid1(t: Test, dir: string, environment: NodeJS.ProcessEnv): Running {
  const child = spawn(UNSHARE, ['--pid', '--fork', '--mount-proc', '--kill-child', process.execPath, BIN, 'serve', '--config', join(dir, 'orchestrator.yaml')], { cwd: ROOT, env: environment, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exit;
  });
  return { child, output: () => out, exit };
}

/** The namespace's PID 1, as the host sees it: unshare's only child. */
function nsInit(run: Running): Promise<number> {
  return until(() => procTable().find((p) => p.ppid === run.child.pid)?.pid, 'the namespace\'s PID 1');
}

/** Every process under the namespace's PID 1 (itself included), zombies too: they keep their parent. */
function tree(init: number): ProcStat[] {
  const table = procTable();
  const out = table.filter((p) => p.pid === init);
  for (let i = 0; i < out.length; i++) out.push(...table.filter((p) => p.ppid === out[i]!.pid));
  return out;
}

const zombies = (init: number) => tree(init).filter((p) => p.state === 'Z');
/** A process running this Node binary (by its executable: Node 24 names its main thread "MainThread", so comm says nothing). */
const NODE_EXE = realpathSync(process.execPath);
function isNode(p: ProcStat): boolean {
  try { return readlinkSync(`/proc/${p.pid}/exe`) === NODE_EXE; } catch { return false; }
}
const describe = (ps: ProcStat[]) => ps.map((p) => `${p.pid} ${p.comm} ${p.state} (parent ${p.ppid})`).join('\n');

async function service(port: number): Promise<ApiService | undefined> {
  const res = await fetch(`http://127.0.0.1:${port}/api/services`);
  return ((await res.json()) as { services: ApiService[] }).services.find((s) => s.id === 'f');
}

/** The orchestrator's log records (orchestrator.log is JSON lines). */
function logLines(dir: string): Array<{ level: number; msg: string; signal?: string }> {
  return readFileSync(join(dir, 'logs', 'orchestrator.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** SIGTERM to the namespace's PID 1 (from the host, as `docker stop` does): a clean stop, exit 0. */
async function stopsCleanly(t: Test, run: Running, init: number, dir: string): Promise<void> {
  process.kill(init, 'SIGTERM');
  const { code, signal } = await run.exit;
  t.equal(code, 0, `SIGTERM to PID 1: exit code 0\n${run.output()}`);
  t.equal(signal, null);
  t.ok(logLines(dir).some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM'), 'the orchestrator itself got the SIGTERM and shut down');
  const r = Registry.open(join(dir, 'data', 'registry.db'));
  t.teardown(() => r.close());
  t.equal(r.meta('running'), '0', 'recorded as a clean stop');
  t.ok(r.events.after(0, 100_000).some((e) => e.service === 'f' && e.type === 'state' && e.data.to === 'stopped'), 'the service was stopped');
}

t.test('as PID 1 with tini on PATH: it runs itself under tini, every orphan is reaped across restarts, SIGTERM stops it all with 0', async (t) => {
  t.ok(existsSync(TINI), `${TINI} is installed (apt-get install tini)`);
  const { dir, port } = await servedFolder(leaver);
  const run = serveAsPid1(t, dir, env(process.env.PATH!));
  const init = await nsInit(run);
  await until(async () => {
    if (run.child.exitCode !== null) throw new Error(`exited ${run.child.exitCode}: ${run.output()}`);
    return ((await service(port))?.restarts ?? 0) >= RESTARTS;
  }, `${RESTARTS} restarts`, 60_000);

  // PID 1 (node) → tini as a subreaper → the orchestrator → the service.
  const [root, ...rest] = tree(init);
  t.ok(isNode(root!), 'PID 1 is the launcher (node)');
  const tini = rest.filter((p) => p.ppid === init);
  t.same(tini.map((p) => p.comm), ['tini'], `its one child is tini\n${describe(tree(init))}`);
  const orchestrator = rest.filter((p) => p.ppid === tini[0]?.pid && isNode(p));
  t.equal(orchestrator.length, 1, 'tini runs the orchestrator');
  t.ok(logLines(dir).some((l) => /under \S*tini \(a subreaper\)/.test(l.msg)), 'the orchestrator logs that it runs under tini');

  // Every grandchild the restarts left behind was SIGKILLed with its group and then reaped.
  const stop = await fetch(`http://127.0.0.1:${port}/api/services/f/stop`, { method: 'PUT' });
  t.ok(stop.ok, `stop accepted (${stop.status})`);
  await until(async () => (await service(port))?.state === 'stopped', 'f stopped');
  const restarts = (await service(port))!.restarts;
  t.ok(restarts >= RESTARTS, `${restarts} restarts`);
  await until(() => zombies(init).length === 0, 'no zombie in the namespace', 10_000).catch(() => undefined);
  t.same(describe(zombies(init)), '', `no zombie in the namespace after ${restarts} restarts`);

  await stopsCleanly(t, run, init, dir);
});

t.test('as PID 1 with no init and ORCHESTRATOR_ALLOW_PID1=1: it warns and runs, and the orphans pile up as zombies', async (t) => {
  const { dir, port } = await servedFolder(leaver);
  const run = serveAsPid1(t, dir, env(pathWithoutTini(), { ORCHESTRATOR_ALLOW_PID1: '1' }));
  const init = await nsInit(run);
  // Each restart leaves one SIGKILLed grandchild whose parent is PID 1, which cannot reap it.
  const piled = await until(() => { const z = zombies(init); return z.length >= RESTARTS ? z : undefined; }, `${RESTARTS} zombies`, 60_000);
  t.ok(piled.every((z) => z.ppid === init), 'every zombie is a child of PID 1, the orchestrator');
  t.ok(logLines(dir).some((l) => l.level === 40 && /running as PID 1 without an init \(ORCHESTRATOR_ALLOW_PID1=1\).*docker run --init/.test(l.msg)), 'the warning is logged, with the remedy');
  t.ok(((await service(port))?.restarts ?? 0) >= RESTARTS - 1, 'the service was restarted as often');
  await stopsCleanly(t, run, init, dir);
});

t.test('as PID 1 with no init and no opt-out: refused with exit 78 and the remedies, nothing started', async (t) => {
  const { dir } = await servedFolder(leaver);
  const run = serveAsPid1(t, dir, env(pathWithoutTini()));
  const { code } = await run.exit;
  t.equal(code, 78, `exit code 78\n${run.output()}`);
  const lines = run.output().split('\n').filter(Boolean);
  t.equal(lines.length, 1, 'one line on stderr');
  t.match(lines[0], /^orchestrator: running as PID 1 without an init: processes orphaned by services would never be reaped/);
  for (const remedy of ['`docker run --init ...`', '"tini", "--", "orchestrator", "serve"', 'shareProcessNamespace: true', '`apt-get install tini`', 'ORCHESTRATOR_INIT=/path/to/tini', 'ORCHESTRATOR_ALLOW_PID1=1']) {
    t.ok(lines[0]!.includes(remedy), `names the remedy ${remedy}`);
  }
  t.ok(logLines(dir).some((l) => l.level === 60 && l.msg.startsWith('running as PID 1 without an init')), 'the same cause is the fatal line of orchestrator.log');
  t.notOk(existsSync(join(dir, 'logs', 'services', 'f.stdout.log')), 'the service was never spawned');

  // An ORCHESTRATOR_INIT that is not there is refused the same way, naming it.
  const named = serveAsPid1(t, dir, env(process.env.PATH!, { ORCHESTRATOR_INIT: '/nonexistent/tini' }));
  t.equal((await named.exit).code, 78, named.output());
  t.match(named.output(), /^orchestrator: running as PID 1 and ORCHESTRATOR_INIT=\/nonexistent\/tini is not an executable file/);
});
