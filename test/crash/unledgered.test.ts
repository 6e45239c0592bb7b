/**
 * Processes of ours that the ledger lost: while the registry's disk is full a spawn goes ahead with
 * its ledger row held in memory, and a kill -9 of the orchestrator then loses the row. The next
 * orchestrator finds such groups by this registry's run mark, stops them before any service starts
 * (stop signal, SIGKILL after the stop timeout) and records orphan_stopped; the service then runs
 * once, afresh. A process carrying another registry's mark is never touched. The lost rows are
 * made for real: a real `orchestrator serve` is killed -9 and the rows deleted from its registry file.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { envValue, procTable, readStat } from '../../src/os/proc.js';
import { Registry } from '../../src/store/index.js';
import { alive, fixture, node } from '../helpers/harness.js';
import { until } from '../helpers/process.mjs';
import { byId, killHard, reapFolders, servedFolder, servedPerTest } from '../helpers/serve.js';

t.teardown(reapFolders);

const live = servedPerTest(t, 'SIGKILL');

/** Live processes carrying a run mark of this registry for this service. */
const ours = (registryId: string, service: string) => procTable()
  .filter((p) => p.state !== 'Z' && envValue(p.pid, 'ORCHESTRATOR_RUN_ID')?.startsWith(`${registryId}/${service}/`))
  .map((p) => p.pid);

t.test('after a kill -9 that lost their ledger rows, our processes are stopped and each service runs once; another registry\'s are left alone', async (t) => {
  const { dir, port } = await servedFolder({
    worker: { id: 'worker', executable: node('sleeper.mjs') },
    stubborn: { id: 'stubborn', executable: node('ignores-sigterm.mjs'), stop: { timeout_seconds: 1 } },
    kept: { id: 'kept', executable: node('sleeper.mjs') },
  });
  let s = await live.serve(dir, port);
  const before = byId(await s.waitFor((l) => l.length === 3 && l.every((x) => x.state === 'running'), 'all up'));
  await killHard(s);
  for (const id of ['worker', 'stubborn', 'kept']) t.teardown(() => { try { process.kill(-before[id].pid, 'SIGKILL'); } catch { /* gone */ } });

  // The rows the full disk held in memory, lost with the kill -9: worker's and stubborn's runs.
  let r = Registry.open(join(dir, 'data', 'registry.db'));
  const registryId = r.identity();
  const workerRun = r.runs.openRuns().find((row) => row.service === 'worker')!.run_id;
  t.equal(r.db.prepare("DELETE FROM runs WHERE service IN ('worker', 'stubborn')").run().changes, 2, 'the two services\' run rows are gone');
  r.close();

  // Another orchestrator's process: its mark names a service and run of the same names.
  const stranger = spawn(process.execPath, [fixture('sleeper.mjs')], {
    detached: true, stdio: 'ignore',
    env: { PATH: process.env.PATH, ORCHESTRATOR_RUN_ID: `another-registry/worker/${workerRun}` },
  });
  const strangerPid = stranger.pid!;
  t.teardown(() => { try { process.kill(-strangerPid, 'SIGKILL'); } catch { /* gone */ } });
  await until(() => envValue(strangerPid, 'ORCHESTRATOR_RUN_ID') !== undefined, 'the stranger runs');
  t.same(ours(registryId, 'worker'), [before.worker.pid], 'before the restart: one worker of ours, the unledgered one');

  s = await live.serve(dir, port);
  const after = byId(await s.waitFor((l) => l.length === 3 && l.every((x) => x.state === 'running'), 'all running again'));
  for (const id of ['worker', 'stubborn']) {
    t.notOk(alive(before[id].pid), `${id}: the unledgered process was stopped`);
    t.not(after[id].pid, before[id].pid, `${id}: a fresh process runs`);
    t.equal(after[id].adopted, false, `${id}: ours, not adopted`);
    t.same(ours(registryId, id), [after[id].pid], `${id}: exactly one process of it runs`);
  }
  t.equal(after.kept.pid, before.kept.pid, 'a service whose row was kept is adopted as before');
  t.equal(after.kept.adopted, true);

  const events = ((await (await fetch(`${s.url}/api/events?limit=1000`)).json()) as { events: Array<{ type: string; service: string; data: any }> }).events;
  const stopped = byId(events.filter((e) => e.type === 'orphan_stopped').map((e) => ({ id: e.service, ...e.data })));
  t.same(Object.keys(stopped).sort(), ['stubborn', 'worker'], 'orphan_stopped is recorded for each, and only for them');
  for (const id of ['worker', 'stubborn']) {
    t.equal(stopped[id].pid, before[id].pid, `${id}: the event names its pid`);
    t.equal(stopped[id].pgid, before[id].pid, `${id}: and its process group`);
    t.equal(stopped[id].gone, true, `${id}: gone`);
  }
  t.equal(stopped.worker.signal, 'SIGTERM', 'worker ended on its stop signal');
  t.equal(stopped.stubborn.signal, 'SIGKILL', 'stubborn ignored SIGTERM and was killed after its stop timeout');

  t.ok(alive(strangerPid) && readStat(strangerPid)?.pgid === strangerPid, 'the process with another registry\'s mark was not signalled');
  s.run.child.kill('SIGTERM');
  t.equal((await s.run.exit).code, 0, 'the orchestrator stopped cleanly');
  t.ok(alive(strangerPid), 'nor when the orchestrator stopped its services');
  t.same([...ours(registryId, 'worker'), ...ours(registryId, 'stubborn'), ...ours(registryId, 'kept')], [], 'no process of ours is left');
});
