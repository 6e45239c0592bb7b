/**
 * An operator's start or stop outlasts an orchestrator restart, a clean one as well as a crash;
 * auto_start decides only for services nobody ever commanded.
 */
import t from 'tap';
import { node } from '../helpers/harness.js';
import { byId, killHard, reapFolders, type Served, servedFolder, servedPerTest } from '../helpers/serve.js';

t.teardown(reapFolders);

const live = servedPerTest(t);

async function stopCleanly(s: Served): Promise<void> {
  s.run.child.kill('SIGTERM');
  const { code } = await s.run.exit;
  if (code !== 0) throw new Error(`the orchestrator exited with ${code} on SIGTERM`);
}

t.test('a stop or start by an operator holds across clean restarts and crashes; auto_start governs only the never-commanded', async (t) => {
  const { dir, port } = await servedFolder({
    parked: { id: 'parked', executable: node('sleeper.mjs') }, // auto_start true, stopped by hand
    manual: { id: 'manual', executable: node('sleeper.mjs'), auto_start: false }, // started by hand
    auto: { id: 'auto', executable: node('sleeper.mjs') }, // never commanded
    idle: { id: 'idle', executable: node('sleeper.mjs'), auto_start: false }, // never commanded
  });
  const settled = (l: Array<{ id: string; state: string }>) => {
    const s = byId(l);
    return s.parked?.state === 'stopped' && s.manual?.state === 'running' && s.auto?.state === 'running' && s.idle?.state === 'stopped';
  };

  let s = await live.serve(dir, port);
  await s.waitFor((l) => byId(l).auto?.state === 'running' && byId(l).parked?.state === 'running', 'auto_start services up');
  t.equal(await s.put('parked', 'stop'), 202);
  t.equal(await s.put('manual', 'start'), 202);
  await s.waitFor(settled, 'the commands carried out');

  await stopCleanly(s);
  s = await live.serve(dir, port);
  let after = byId(await s.waitFor(settled, 'after a clean restart'));
  t.equal(after.parked.want, 'down', 'stopped by hand: still stopped after a clean restart');
  t.equal(after.manual.want, 'up', 'started by hand (auto_start: false): running after a clean restart');
  t.equal(after.auto.want, 'up', 'never commanded, auto_start true: started');
  t.equal(after.idle.want, 'down', 'never commanded, auto_start false: left stopped');

  // Once more, through a crash.
  await killHard(s);
  s = await live.serve(dir, port);
  after = byId(await s.waitFor(settled, 'after a crash'));
  t.equal(after.parked.want, 'down', 'still stopped after a crash');

  // Starting it again is a command too: it holds from then on.
  t.equal(await s.put('parked', 'start'), 202, 'start accepted');
  await s.waitFor((l) => byId(l).parked?.state === 'running', 'parked started again');
  await stopCleanly(s);
  s = await live.serve(dir, port);
  after = byId(await s.waitFor((l) => byId(l).parked?.state === 'running' && byId(l).auto?.state === 'running', 'parked up after a clean restart'));
  t.equal(after.parked.want, 'up', 'the later start is what holds');
});
