/**
 * A failure is told plainly (issue 12): the real cause on stderr (`orchestrator: ...`) and as the
 * fatal line of orchestrator.log, the documented exit code, nothing thrown by the logger over it,
 * and nothing left running — except, after a failure past start, the services themselves, which
 * are kept for the next start to adopt.
 */
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { isLive, procTable } from '../../src/os/proc.js';
import { Registry } from '../../src/store/index.js';
import { alive, fixture, node } from '../helpers/harness.js';
import { runBin, type Running } from '../helpers/process.mjs';
import { reapFolders, serve, servedFolder } from '../helpers/serve.js';

t.teardown(reapFolders);

interface Ended {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  output: string;
}

/** Collect a running orchestrator's stderr from now on, and wait until it has exited and its pipes are closed. */
function ending(run: Running): Promise<Ended> {
  let stderr = '';
  run.child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  // A guard only: every case here ends by itself in well under a second.
  const guard = setTimeout(() => run.child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) => run.child.once('close', (code, signal) => {
    clearTimeout(guard);
    resolve({ pid: run.child.pid!, code, signal, stderr, output: run.output() });
  }));
}

function serveToEnd(dir: string): Promise<Ended> {
  return ending(runBin(['serve', '--config', join(dir, 'orchestrator.yaml')]));
}

/** A folder with one service that would start at once (its command line carries the folder, to find it). */
async function folder(): Promise<{ dir: string; port: number }> {
  const made = await servedFolder({});
  const { dir } = made;
  mkdirSync(join(dir, 'services'), { recursive: true });
  writeFileSync(join(dir, 'services', 's.yaml'), `id: s\nexecutable: ${node('sleeper.mjs', dir)}\n`);
  return made;
}

interface LogLine { level: number; pid: number; msg: string; exitCode?: number; err?: { message: string; stack: string } }

/** The fatal lines a given orchestrator process wrote to the folder's orchestrator.log. */
function fatalLines(dir: string, pid: number): LogLine[] {
  const file = join(dir, 'logs', 'orchestrator.log');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogLine).filter((l) => l.pid === pid && l.level === 60);
}

/** Live processes of this folder (their command line names it) or children of the given pid. Zombies count as gone. */
function leftovers(dir: string, pid: number, except: number[] = []): string[] {
  const out: string[] = [];
  for (const s of procTable()) {
    if (!isLive(s) || s.pid === process.pid || except.includes(s.pid)) continue;
    let cmd: string;
    try { cmd = readFileSync(`/proc/${s.pid}/cmdline`, 'utf8').replaceAll('\0', ' '); } catch { continue; }
    if (s.pid === pid || s.ppid === pid || cmd.includes(dir)) out.push(`${s.pid} (${s.state}, parent ${s.ppid}): ${cmd}`);
  }
  return out;
}

/** What every failure must show. */
function told(t: Test, end: Ended, dir: string, code: number, cause: RegExp, opts: { stack?: boolean; except?: number[] } = {}): void {
  t.equal(end.code, code, `exit code ${code}\n${end.output}`);
  t.equal(end.signal, null, 'an exit, not a signal');
  const lines = end.stderr.split('\n').filter(Boolean);
  t.match(lines[0], /^orchestrator: /, 'stderr starts with one plain orchestrator: line');
  t.match(lines[0], cause, 'stderr: the real cause');
  if (opts.stack) t.match(lines[1], /^\w*Error: /, 'stderr: then the stack (an internal failure)');
  else t.equal(lines.length, 1, `stderr: that line and nothing else\n${end.stderr}`);
  t.notMatch(end.output, /sonic.?boom|not ready yet/i, 'nothing from the logger over it');
  const fatal = fatalLines(dir, end.pid);
  t.equal(fatal.length, 1, 'orchestrator.log: one fatal line');
  t.match(fatal[0]?.msg, cause, 'orchestrator.log: with the cause');
  t.equal(fatal[0]?.exitCode, code, 'orchestrator.log: and the exit code');
  t.ok(fatal[0]?.err?.stack, 'orchestrator.log: and the error with its stack');
  t.same(leftovers(dir, end.pid, opts.except), [], 'no process of this orchestrator is left');
}

t.test('an unreadable registry (a directory where the file should be): exit 3, told plainly, nothing started', async (t) => {
  const { dir } = await folder();
  mkdirSync(join(dir, 'data', 'registry.db'), { recursive: true });
  const end = await serveToEnd(dir);
  told(t, end, dir, 3, /cannot open registry \S*registry\.db: unable to open database file/);
  t.notOk(existsSync(join(dir, 'logs', 'services', 's.stdout.log')), 'the service was never spawned');
});

t.test('a corrupt registry: exit 3, told plainly on one line, nothing started', async (t) => {
  const { dir } = await folder();
  // A real registry whose pages after the first are overwritten: it opens, and quick_check fails.
  const path = join(dir, 'data', 'registry.db');
  mkdirSync(join(dir, 'data'), { recursive: true });
  Registry.open(path).close();
  const size = statSync(path).size;
  const fd = openSync(path, 'r+');
  writeSync(fd, randomBytes(size - 4096), 0, size - 4096, 4096);
  closeSync(fd);
  const end = await serveToEnd(dir);
  told(t, end, dir, 3, /registry \S*registry\.db is corrupt \(quick_check: [^\n]+\); move it aside to start with an empty one/);
  t.notOk(existsSync(join(dir, 'logs', 'services', 's.stdout.log')), 'the service was never spawned');
});

t.test('a registry file that is not a database at all: exit 3, told plainly', async (t) => {
  const { dir } = await folder();
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'data', 'registry.db'), randomBytes(8192));
  const end = await serveToEnd(dir);
  told(t, end, dir, 3, /registry \S*registry\.db is corrupt or not a database \(file is not a database\)/);
});

t.test('the port is already in use: exit 1, told plainly, the registry closed, nothing started', async (t) => {
  const { dir, port } = await folder();
  const squatter = createServer();
  await new Promise<void>((resolve, reject) => { squatter.once('error', reject); squatter.listen(port, '127.0.0.1', resolve); });
  t.teardown(() => new Promise<void>((resolve) => squatter.close(() => resolve())));
  const end = await serveToEnd(dir);
  told(t, end, dir, 1, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}`));
  const r = Registry.open(join(dir, 'data', 'registry.db'));
  t.teardown(() => r.close());
  t.equal(r.events.after(0, 100).filter((e) => e.type === 'state').length, 0, 'no service was started');
  t.notOk(existsSync(join(dir, 'logs', 'services', 's.stdout.log')), 'the service was never spawned');
});

t.test('an uncaught exception and an unhandled rejection after start: exit 70 with the stack; services kept and adopted', async (t) => {
  const { dir, port } = await folder();
  const preload = [`--import=${fixture('fail-on-signal.mjs')}`];
  const failures = [
    { env: {}, cause: /uncaught exception: injected failure; exiting and leaving services running for the next start to adopt/ },
    { env: { FAIL_WITH: 'rejection' }, cause: /unhandled promise rejection: injected rejection; exiting and leaving services running for the next start to adopt/ },
  ];
  let servicePid: number | undefined;
  for (const { env, cause } of failures) {
    const s = await serve(dir, port, [], env, preload);
    const [svc] = await s.waitFor((l) => l.length === 1 && l[0]!.state === 'running', 'the service running');
    if (servicePid === undefined) servicePid = svc!.pid!;
    else t.equal(svc!.pid, servicePid, 'the service kept by the failed orchestrator is adopted, not started again');
    const end = ending(s.run);
    s.run.child.kill('SIGUSR2');
    told(t, await end, dir, 70, cause, { stack: true, except: [servicePid] });
    t.ok(alive(servicePid), 'the service is left running for the next start to adopt');
  }
  // The next start adopts it, and a clean stop leaves nothing at all.
  const s = await serve(dir, port);
  const [svc] = await s.waitFor((l) => l.length === 1 && l[0]!.state === 'running', 'the service adopted');
  t.equal(svc!.pid, servicePid, 'same process');
  t.equal(svc!.adopted, true, 'marked adopted');
  const end = ending(s.run);
  s.run.child.kill('SIGTERM');
  t.equal((await end).code, 0, 'a clean stop');
  t.notOk(alive(servicePid!), 'the service is stopped');
  t.same(leftovers(dir, s.run.child.pid!), [], 'nothing left');
});
