/**
 * A restarted orchestrator never signals a process group that is not ours. The ledger's pid and
 * process group can point at a stranger after a crash (the id reused by an unrelated group whose
 * leader has exited, or a pid reused with a matching start time), and an adopted group can stop
 * carrying our run mark while we hold it. Strangers are planted for real here: real process groups,
 * the real registry file edited the way a reuse would leave it, a real `orchestrator serve`.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readStat } from '../../src/os/proc.js';
import { Registry } from '../../src/store/index.js';
import { alive, node } from '../helpers/harness.js';
import { until, writeServices } from '../helpers/process.mjs';
import { byId, killHard, reapFolders, type Served, servedFolder, servedPerTest } from '../helpers/serve.js';

t.teardown(reapFolders);

const live = servedPerTest(t, 'SIGKILL');

/** Stop the orchestrator politely (it stops its services) and wait until it has exited. */
async function stop(t: Test, s: Served): Promise<void> {
  s.run.child.kill('SIGTERM');
  t.equal((await s.run.exit).code, 0, 'the orchestrator stopped cleanly');
}

/** Kill a whole process group and wait until its leader is gone. */
async function killGroup(pid: number): Promise<void> {
  process.kill(-pid, 'SIGKILL');
  await until(() => !alive(pid), `group ${pid} gone`);
}

function killLater(t: Test, pgid: number): void {
  t.teardown(() => { try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ } });
}

/** The orchestrator's warn lines about a process group. */
function warnsAbout(dir: string, pgid: number): string[] {
  return readFileSync(join(dir, 'logs', 'orchestrator.log'), 'utf8').split('\n').filter(Boolean)
    .map((line) => JSON.parse(line) as { level: number; pgid?: number; msg: string })
    .filter((r) => r.level === 40 && r.pgid === pgid).map((r) => r.msg);
}

const environOf = (pid: number) => { try { return readFileSync(`/proc/${pid}/environ`, 'latin1'); } catch { return ''; } };

t.test('ledger rows pointing at strangers after a crash: nothing of theirs is adopted or signalled, our services start fresh', async (t) => {
  const { dir, port } = await servedFolder({
    reused: { id: 'reused', executable: node('sleeper.mjs') },
    impostor: { id: 'impostor', executable: node('sleeper.mjs') },
  });
  let s = await live.serve(dir, port);
  const before = byId(await s.waitFor((l) => l.length === 2 && l.every((x) => x.state === 'running'), 'both up'));
  await killHard(s);
  await killGroup(before.reused.pid);
  await killGroup(before.impostor.pid);
  let r = Registry.open(join(dir, 'data', 'registry.db'));
  const rows = Object.fromEntries(r.runs.openRuns().map((row) => [row.service, row]));
  r.close();

  // A reused group id whose leader has exited: a new session leader forks a member and exits.
  // The member even carries a run mark — another orchestrator's, for a service of the same name.
  const leader = spawn('sh', ['-c', 'sleep 300 >/dev/null 2>&1 & echo $!'], {
    detached: true, stdio: ['ignore', 'pipe', 'ignore'],
    env: { PATH: process.env.PATH, ORCHESTRATOR_RUN_ID: `another-registry/reused/${rows.reused!.run_id}` },
  });
  let out = '';
  leader.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  await new Promise((resolve) => leader.once('exit', resolve));
  const reusedPgid = leader.pid!;
  const member = Number(out.trim());
  killLater(t, reusedPgid);
  t.equal(readStat(member)?.pgid, reusedPgid, 'the stranger\'s member is in the planted group');
  t.notOk(alive(reusedPgid), 'and its leader has exited');
  t.ok(readStat(member)!.startTicks >= rows.reused!.proc_start, 'the member is younger than the leader the ledger recorded (it could pass for its child)');

  // A live stranger leading its own group, with the very start time the ledger records.
  const impostor = spawn('sleep', ['300'], { detached: true, stdio: 'ignore', env: { PATH: process.env.PATH } });
  const impostorPid = impostor.pid!;
  killLater(t, impostorPid);
  await until(() => readStat(impostorPid)?.comm === 'sleep', 'the impostor runs');

  r = Registry.open(join(dir, 'data', 'registry.db'));
  const plant = r.db.prepare('UPDATE runs SET pid = ?, pgid = ?, proc_start = ? WHERE service = ? AND ended_at IS NULL');
  plant.run(reusedPgid, reusedPgid, rows.reused!.proc_start, 'reused');
  plant.run(impostorPid, impostorPid, readStat(impostorPid)!.startTicks, 'impostor');
  r.close();

  s = await live.serve(dir, port);
  const after = byId(await s.waitFor((l) => l.every((x) => x.state === 'running' && x.pid !== reusedPgid), 'both running again'));
  for (const id of ['reused', 'impostor']) {
    t.equal(after[id].adopted, false, `${id}: a fresh process of ours, not the stranger`);
    t.not(after[id].state, 'failed', `${id}: not failed`);
  }
  t.not(after.impostor.pid, impostorPid, 'the impostor was not adopted');
  t.ok(alive(member), 'the reused group\'s member was not signalled while the new orchestrator started');
  t.ok(alive(impostorPid), 'the impostor was not signalled while the new orchestrator started');

  await stop(t, s);
  t.notOk(alive(after.reused.pid) || alive(after.impostor.pid), 'our own fresh services were stopped with the orchestrator');
  t.ok(alive(member), 'the reused group\'s member is alive after the orchestrator stopped');
  t.ok(alive(impostorPid), 'the impostor is alive after the orchestrator stopped');
  t.ok(warnsAbout(dir, reusedPgid).length > 0, 'a warning names the reused group\'s pgid');
  t.ok(warnsAbout(dir, impostorPid).length > 0, 'a warning names the impostor\'s pgid');
  r = Registry.open(join(dir, 'data', 'registry.db'));
  for (const id of ['reused', 'impostor']) {
    const history = r.runs.history(id, 10);
    const planted = history.find((row) => row.id === rows[id]!.id);
    t.ok(planted?.ended_at, `${id}: the planted row is ended`);
    t.match(planted?.reason, /belongs to another/, `${id}: with the reason`);
    t.notOk(history.some((row) => /adopted/.test(row.run_id)), `${id}: nothing was handed over`);
  }
  r.close();
});

t.test('an adopted group whose members stop carrying our run mark is treated as gone, never signalled', async (t) => {
  const { dir, port } = await servedFolder({});
  const trigger = join(dir, 'shed-now');
  const script = join(dir, 'sheds-mark.sh');
  // Once told to, the process replaces itself (same pid, group and start time) with one that lacks our mark.
  writeFileSync(script, 'while [ ! -e "$TRIGGER" ]; do sleep 0.05; done\nexec env -u ORCHESTRATOR_RUN_ID sleep 300\n');
  writeServices(dir, { shed: { id: 'shed', executable: `sh ${script}`, environment: { TRIGGER: trigger } } });
  let s = await live.serve(dir, port);
  const before = byId(await s.waitFor((l) => l[0]?.state === 'running', 'up')).shed;
  const pid = before.pid as number;
  killLater(t, pid);
  await killHard(s);

  // Adopted twice: the second orchestrator finds the mark through the first one's hand-over.
  for (const last of [false, true]) {
    s = await live.serve(dir, port);
    await s.waitFor((l) => l[0]?.adopted === true && l[0].pid === pid && l[0].state === 'running', 'adopted');
    if (!last) await killHard(s);
  }
  writeFileSync(trigger, '');
  await until(() => readStat(pid)?.comm === 'sleep' && !environOf(pid).includes('ORCHESTRATOR_RUN_ID='), 'the group no longer carries our mark');

  t.equal(await s.put('shed', 'stop'), 202, 'stop accepted');
  const stopped = byId(await s.waitFor((l) => l[0]?.state === 'stopped', 'stopped')).shed;
  t.not(stopped.state, 'failed', 'not failed');
  t.ok(alive(pid), 'the process that no longer carries our mark was not signalled');
  t.ok(warnsAbout(dir, pid).length > 0, 'a warning names its pgid');
  await stop(t, s);
  t.ok(alive(pid), 'nor when the orchestrator stopped');
  const r = Registry.open(join(dir, 'data', 'registry.db'));
  t.same(r.runs.openRuns(), [], 'its run is ended in the ledger');
  r.close();
});
