import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, harness, node } from '../helpers/harness.js';

const grandchildren = (dir: string, id: string) => {
  const m = /grandchildren ([\d ]+)/.exec(readFileSync(join(dir, 'logs', 'services', `${id}.stdout.log`), 'utf8'));
  return m ? m[1]!.trim().split(' ').map(Number) : [];
};

t.test('stop kills the whole process group: no grandchild is left behind', async (t) => {
  const h = await harness(t, { services: { f: { id: 'f', executable: node('forks.mjs'), environment: { CHILDREN: 3 } } } });
  const v = await h.waitView('f', (v) => v.state === 'running');
  const kids = await h.waitFor(() => { const k = grandchildren(h.dir, 'f'); return k.length === 3 ? k : undefined; }, 'grandchildren started');
  t.ok(kids.every(alive), 'grandchildren alive while running');
  await h.o.fleet.command('f', 'stop');
  await h.waitView('f', (v) => v.state === 'stopped');
  t.notOk(alive(v.pid!), 'leader gone');
  t.same(kids.filter(alive), [], 'every grandchild gone when stopped is reported');
});

t.test('a leader that exits and leaves its group behind: the group is cleared before the restart', async (t) => {
  const h = await harness(t, {
    services: { f: { id: 'f', executable: node('forks.mjs'), environment: { CHILDREN: 2, EXIT_AFTER_FORK: 1, EXIT_CODE: 1 }, restart_policy: { max_retries: 1, backoff_seconds: 0 } } },
  });
  await h.waitFor(() => h.events('f', 'state').some((e) => e.data.to === 'exited'), 'the exited state (group still alive)');
  const firstKids = await h.waitFor(() => { const k = grandchildren(h.dir, 'f'); return k.length >= 2 ? k.slice(0, 2) : undefined; }, 'grandchildren');
  await h.waitView('f', (v) => v.state === 'failed', 'f fails after its retry');
  const states = h.events('f', 'state').map((e) => e.data.to);
  const exited = states.indexOf('exited');
  t.ok(exited >= 0 && states.indexOf('starting', exited) > exited, `exited (clearing the group) comes before the restart: ${states.join(' → ')}`);
  t.same(firstKids.filter(alive), [], 'the first run\'s grandchildren are gone');
  t.same(grandchildren(h.dir, 'f').filter(alive), [], 'no grandchild of any run is left');
});

t.test('a service that ignores SIGTERM is SIGKILLed after stop.timeout_seconds', async (t) => {
  const h = await harness(t, { services: { s: { id: 's', executable: node('ignores-sigterm.mjs'), stop: { timeout_seconds: 0.5 } } } });
  const v = await h.waitView('s', (v) => v.state === 'running');
  await h.waitFor(() => readFileSync(join(h.dir, 'logs', 'services', 's.stdout.log'), 'utf8').includes('stubborn'), 'fixture ready');
  const started = performance.now();
  await h.o.fleet.command('s', 'stop');
  const stopped = await h.waitView('s', (v) => v.state === 'stopped');
  const took = performance.now() - started;
  t.ok(took >= 450, `stop waited for the timeout (${took.toFixed(0)} ms)`);
  t.notOk(alive(v.pid!), 'killed');
  t.match(stopped.reason, /SIGKILL after 0.5s/);
  t.equal(stopped.lastExit!.signal, 'SIGKILL');
  t.match(readFileSync(join(h.dir, 'logs', 'services', 's.stdout.log'), 'utf8'), /got SIGTERM, ignoring it/, 'it did get the polite signal first');
});

t.test('grandchildren that ignore SIGTERM are SIGKILLed with the group', async (t) => {
  const h = await harness(t, { services: { f: { id: 'f', executable: node('forks.mjs'), environment: { CHILDREN: 2, IGNORE_TERM: 1 }, stop: { timeout_seconds: 0.3 } } } });
  await h.waitView('f', (v) => v.state === 'running');
  const kids = await h.waitFor(() => { const k = grandchildren(h.dir, 'f'); return k.length === 2 ? k : undefined; }, 'grandchildren');
  await h.o.fleet.command('f', 'stop');
  await h.waitView('f', (v) => v.state === 'stopped');
  t.same(kids.filter(alive), [], 'stubborn grandchildren gone too');
});
