/** kill -9 of the orchestrator, for real: services live on and are re-adopted, never doubled. */
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from '../../src/store/index.js';
import { procTable } from '../../src/os/proc.js';
import { alive, node } from '../helpers/harness.js';
import { freePort } from '../helpers/process.mjs';
import { byId, killHard, reapFolders, servedFolder, servedPerTest } from '../helpers/serve.js';

t.teardown(reapFolders);


const live = servedPerTest(t);

t.test('kill -9 of the orchestrator leaves services running; the next start adopts them with pid and uptime', async (t) => {
  const webPort = await freePort();
  const { dir, port } = await servedFolder({
    web: { id: 'web', executable: node('healthy.mjs'), environment: { PORT: webPort }, health_endpoint: `http://127.0.0.1:${webPort}/health` },
    worker: { id: 'worker', executable: node('sleeper.mjs') },
    parked: { id: 'parked', executable: node('sleeper.mjs') },
  }, { monitoring: { sample_interval: 0.3 } });
  let s = await live.serve(dir, port);
  await s.waitFor((l) => l.length === 3 && l.every((x) => x.state === 'running') && byId(l).web.health === 'healthy', 'all up');
  const before = byId(await s.services());
  // Accepted means durable: kill -9 right after the 202, and the stop still holds.
  t.equal(await s.put('parked', 'stop'), 202);
  await killHard(s);
  t.ok(alive(before.web.pid) && alive(before.worker.pid), 'services outlive a kill -9 of the orchestrator');

  s = await live.serve(dir, port);
  const after = byId(await s.waitFor((l) => byId(l).web.health === 'healthy' && byId(l).worker.usage !== null && byId(l).parked.state === 'stopped', 'adopted, health-checked and sampled'));
  for (const id of ['web', 'worker']) {
    t.equal(after[id].pid, before[id].pid, `${id}: same pid`);
    t.equal(after[id].adopted, true, `${id}: marked adopted`);
    const drift = Math.abs(Date.parse(after[id].started_at) - Date.parse(before[id].started_at));
    t.ok(drift < 100, `${id}: uptime continues (same start time, ${drift} ms apart: /proc has 10 ms ticks)`);
    t.equal(after[id].state, 'running');
  }
  t.equal(after.parked.want, 'down', 'a service stopped by hand (202, then kill -9 at once) stays stopped after a crash');

  // An adopted service is not our child, yet its death is noticed and it is restarted.
  process.kill(after.worker.pid, 'SIGKILL');
  const restarted = byId(await s.waitFor((l) => byId(l).worker.state === 'running' && byId(l).worker.pid !== after.worker.pid, 'worker restarted', 10_000));
  t.equal(restarted.worker.adopted, false, 'the new process is ours');
  // And an adopted service can be stopped.
  t.equal(await s.put('web', 'stop'), 202);
  await s.waitFor((l) => byId(l).web.state === 'stopped', 'web stopped');
  t.notOk(alive(after.web.pid), 'adopted process stopped');
});

t.test('services that died while the orchestrator was down: restarted per policy, the gap recorded', async (t) => {
  const { dir, port } = await servedFolder({
    perm: { id: 'perm', executable: node('sleeper.mjs') },
    temp: { id: 'temp', executable: node('sleeper.mjs'), restart: 'temporary' },
    forky: { id: 'forky', executable: node('forks.mjs'), environment: { CHILDREN: 2 } },
  });
  let s = await live.serve(dir, port);
  const before = byId(await s.waitFor((l) => l.length === 3 && l.every((x) => x.state === 'running'), 'up'));
  const grandkids = await (async () => {
    for (;;) {
      const m = /grandchildren ([\d ]+)/.exec(readFileSync(join(dir, 'logs', 'services', 'forky.stdout.log'), 'utf8'));
      if (m) return m[1]!.trim().split(' ').map(Number);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  await killHard(s);
  for (const id of ['perm', 'temp']) process.kill(before[id].pid, 'SIGKILL');
  process.kill(before.forky.pid, 'SIGKILL'); // the leader only: its grandchildren live on in the group
  t.ok(grandkids.every(alive), 'grandchildren still alive while we are down');

  s = await live.serve(dir, port);
  const after = byId(await s.waitFor((l) => byId(l).perm.state === 'running' && byId(l).temp.state === 'failed' && byId(l).forky.state === 'running' && byId(l).forky.pid !== before.forky.pid, 'settled'));
  t.not(after.perm.pid, before.perm.pid, 'permanent: restarted');
  t.equal(after.perm.last_exit.reason, 'gone_while_down');
  t.match(after.temp.reason, /temporary: not restarted/);
  t.same(grandkids.filter(alive), [], 'the old group was cleared before the new start');
  const pgids = new Set(procTable().filter((p) => p.state !== 'Z' && [before.forky.pid, after.forky.pid].includes(p.pgid)).map((p) => p.pgid));
  t.same([...pgids], [after.forky.pid], 'exactly one process group for forky');
  const ev = await (await fetch(`${s.url}/api/events?limit=1000`)).json() as { events: Array<{ type: string; service: string }> };
  t.same(ev.events.filter((e) => e.type === 'gone_while_down').map((e) => e.service).sort(), ['perm', 'temp'], 'the gap is an event');
});

t.test('killed while clearing the group of an exited leader: the run stays open and the next start finds and clears it', async (t) => {
  // The leader exits at once; its grandchildren ignore SIGTERM and the stop timeout is long, so the
  // group outlives the leader for a while — the orchestrator is killed inside that window.
  const { dir, port } = await servedFolder({
    forky: { id: 'forky', executable: node('forks.mjs'), environment: { CHILDREN: 2, EXIT_AFTER_FORK: 1, IGNORE_TERM: 1 }, stop: { timeout_seconds: 5 }, restart_policy: { max_retries: 0 } },
  });
  let s = await live.serve(dir, port);
  await s.waitFor((l) => l[0]!.state === 'exited', 'the leader exited, its group being cleared');
  await killHard(s);
  const r = Registry.open(join(dir, 'data', 'registry.db'));
  const open = r.runs.openRuns();
  // Harder still: as if it had been killed before it even learnt the leader's pid. The next one
  // must find the leaderless group by the run mark its members carry.
  r.db.prepare('UPDATE runs SET pid = 0, pgid = 0, proc_start = 0 WHERE ended_at IS NULL').run();
  r.close();
  const leader = open[0]?.pid ?? -1;
  const grandkids = procTable().filter((p) => p.pgid === leader && p.state !== 'Z').map((p) => p.pid);
  t.teardown(() => { for (const pid of grandkids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone, as it should be */ } } });
  t.equal(grandkids.length, 2, 'two grandchildren left in the group');
  t.same(open.map((row) => [row.service, row.exit_code, row.reason]), [['forky', 0, 'exited with code 0']],
    'the run is still open in the ledger, with the leader\'s exit recorded');

  s = await live.serve(dir, port);
  // max_retries 0: once the group is cleared, the crash-looping service is not started again.
  await s.waitFor((l) => l[0]!.state !== 'exited' && l[0]!.state !== 'stopping', 'the old group cleared');
  t.same(grandkids.filter(alive), [], 'the grandchildren were stopped by the next orchestrator');
});

t.test('a reused pid is never taken for ours', async (t) => {
  const { dir, port } = await servedFolder({ s: { id: 's', executable: node('sleeper.mjs') } });
  let s = await live.serve(dir, port);
  const before = await s.service('s').then(async () => byId(await s.waitFor((l) => l[0]!.state === 'running', 'up')).s);
  await killHard(s);
  process.kill(before.pid, 'SIGKILL');
  // An unrelated process now sits where the ledger points: same pid slot, different start time.
  const stranger = spawn('sleep', ['300'], { stdio: 'ignore', detached: true });
  t.teardown(() => { try { process.kill(stranger.pid!, 'SIGKILL'); } catch { /* gone */ } });
  const r = Registry.open(join(dir, 'data', 'registry.db'));
  r.db.prepare('UPDATE runs SET pid = ?, pgid = ? WHERE ended_at IS NULL').run(stranger.pid, stranger.pid);
  r.close();

  s = await live.serve(dir, port);
  const after = byId(await s.waitFor((l) => l[0]!.state === 'running', 'running again')).s;
  t.not(after.pid, stranger.pid, 'the stranger was not adopted');
  t.equal(after.adopted, false, 'a fresh process of ours');
  t.ok(alive(stranger.pid!), 'and the stranger was not killed');
});

t.test('killed between recording a spawn and learning its pid: each process is found by its own run mark', async (t) => {
  // Run ids count per service, so both first runs are "<epoch>.1": the mark must tell them apart.
  const { dir, port } = await servedFolder({ a: { id: 'a', executable: node('sleeper.mjs') }, b: { id: 'b', executable: node('sleeper.mjs') } });
  let s = await live.serve(dir, port);
  const before = byId(await s.waitFor((l) => l.every((x) => x.state === 'running'), 'both up'));
  await killHard(s);
  const r = Registry.open(join(dir, 'data', 'registry.db'));
  const runIds = r.runs.openRuns().map((row) => row.run_id);
  t.equal(new Set(runIds).size, 1, `both services' open runs share one run id (${runIds.join(', ')})`);
  r.db.prepare('UPDATE runs SET pid = 0, pgid = 0, proc_start = 0 WHERE ended_at IS NULL').run();
  r.close();
  s = await live.serve(dir, port);
  const after = byId(await s.waitFor((l) => l.every((x) => x.state === 'running'), 'both running'));
  for (const id of ['a', 'b']) {
    t.equal(after[id].pid, before[id].pid, `${id}: its own process adopted, not started a second time`);
    t.equal(after[id].adopted, true, `${id}: adopted`);
  }
});

t.test('serve --keep-services leaves services running on SIGTERM; the next start adopts them', async (t) => {
  const { dir, port } = await servedFolder({ a: { id: 'a', executable: node('sleeper.mjs') } });
  let s = await live.serve(dir, port, ['--keep-services']);
  const before = byId(await s.waitFor((l) => l[0]!.state === 'running', 'up')).a;
  s.run.child.kill('SIGTERM');
  t.equal((await s.run.exit).code, 0);
  t.ok(alive(before.pid), 'left running for an upgrade');
  s = await live.serve(dir, port);
  const after = byId(await s.waitFor((l) => l[0]!.adopted === true, 'adopted')).a;
  t.equal(after.pid, before.pid);
});

t.test('a failed service stays failed across a kill -9 (no fresh retries)', async (t) => {
  const { dir, port } = await servedFolder({ c: { id: 'c', executable: node('crashy.mjs'), restart_policy: { max_retries: 1, backoff_seconds: 0 } } });
  let s = await live.serve(dir, port);
  const failed = byId(await s.waitFor((l) => l[0]!.state === 'failed', 'failed')).c;
  await killHard(s);
  s = await live.serve(dir, port);
  const after = byId(await s.services()).c;
  t.equal(after.state, 'failed');
  t.equal(after.reason, failed.reason);
  t.equal(after.restarts, failed.restarts, 'counters carried over');
});
