import t from 'tap';
import { harness, node } from '../helpers/harness.js';

t.test('crash loop: exponential backoff, then failed after max_retries; restartable by hand', async (t) => {
  const h = await harness(t, {
    services: { c: { id: 'c', executable: node('crashy.mjs'), environment: { EXIT_CODE: 3 }, restart_policy: { max_retries: 3, backoff_seconds: 0.1, max_backoff_seconds: 10 } } },
  });
  const failed = await h.waitView('c', (v) => v.state === 'failed', 'failed');
  // Views reach the main thread just before the events of the same turn.
  await h.waitFor(() => h.events('c', 'exit').length === 4 && h.events('c', 'state').some((e) => e.data.to === 'failed'), 'all four exits recorded');
  t.match(failed.reason, /gave up after 3 retries/);
  t.same(failed.lastExit && [failed.lastExit.code, failed.lastExit.reason], [3, 'crashed']);
  const backoffs = h.events('c', 'state').filter((e) => e.data.to === 'backoff').map((e) => String(e.data.reason));
  t.equal(backoffs.length, 3, 'three restarts');
  const delays = backoffs.map((r) => Number(/in ([\d.]+)s/.exec(r)![1]));
  const bases = [0.1, 0.2, 0.4];
  delays.forEach((d, i) => t.ok(d >= bases[i]! * 0.8 - 0.01 && d <= bases[i]! * 1.2 + 0.01, `delay ${i + 1}: ${d}s ≈ ${bases[i]}s ±20%`));
  t.equal(h.events('c', 'exit').length, 4, 'every exit is an event with its reason');
  t.ok(h.events('c', 'exit').every((e) => e.data.code === 3 && e.data.reason === 'crashed'));

  await h.o.fleet.command('c', 'start');
  await h.waitFor(() => h.events('c', 'exit').length === 5, 'it runs (and crashes) again after a start by hand');
});

t.test('backoff 0: immediate restart', async (t) => {
  const h = await harness(t, { services: { z: { id: 'z', executable: node('crashy.mjs'), environment: { DELAY_MS: 50 }, restart_policy: { max_retries: 2, backoff_seconds: 0 } } } });
  await h.waitView('z', (v) => v.state === 'failed');
  await h.waitFor(() => h.events('z', 'state').some((e) => e.data.to === 'failed'), 'the failed event');
  const restarts = h.events('z', 'state').filter((e) => e.data.from === 'running' && e.data.to === 'starting').map((e) => String(e.data.reason));
  t.equal(restarts.length, 2, 'two restarts (max_retries 2)');
  t.ok(restarts.every((r) => /restart \d\/2 at once/.test(r)), restarts.join(' | '));
  t.equal(h.events('z', 'state').filter((e) => e.data.to === 'backoff').length, 0, 'no backoff state in between');
});

t.test('transient: a clean exit is final, a crash is restarted; temporary: never restarted', async (t) => {
  const h = await harness(t, {
    services: {
      tclean: { id: 'tclean', restart: 'transient', executable: node('crashy.mjs'), environment: { EXIT_CODE: 0 } },
      tcrash: { id: 'tcrash', restart: 'transient', executable: node('crashy.mjs'), environment: { EXIT_CODE: 2 }, restart_policy: { max_retries: 1, backoff_seconds: 0 } },
      tmpcrash: { id: 'tmpcrash', restart: 'temporary', executable: node('crashy.mjs'), environment: { EXIT_CODE: 2 } },
      tmpclean: { id: 'tmpclean', restart: 'temporary', executable: node('crashy.mjs'), environment: { EXIT_CODE: 0 } },
    },
  });
  await h.waitView('tclean', (v) => v.state === 'stopped' && v.lastExit !== null);
  await h.waitView('tcrash', (v) => v.state === 'failed');
  await h.waitView('tmpcrash', (v) => v.state === 'failed');
  await h.waitView('tmpclean', (v) => v.state === 'stopped' && v.lastExit !== null);
  await h.waitFor(() => ['tclean', 'tcrash', 'tmpcrash', 'tmpclean'].every((id) => h.events(id, 'state').some((e) => e.data.to === 'failed' || e.data.to === 'stopped')), 'the final events');
  t.equal(h.events('tclean', 'exit').length, 1, 'transient clean exit: not restarted');
  t.equal(h.events('tcrash', 'exit').length, 2, 'transient crash: restarted once (max_retries 1)');
  t.equal(h.events('tmpcrash', 'exit').length, 1, 'temporary: never restarted');
  t.equal(h.events('tmpclean', 'exit').length, 1);
});

t.test('a killed process (signal) is restarted with the signal recorded', async (t) => {
  const h = await harness(t, { services: { k: { id: 'k', executable: node('sleeper.mjs'), restart_policy: { backoff_seconds: 0 } } } });
  const v = await h.waitView('k', (v) => v.state === 'running');
  process.kill(v.pid!, 'SIGKILL');
  const again = await h.waitView('k', (x) => x.state === 'running' && x.pid !== v.pid, 'new pid');
  t.same([again.lastExit!.signal, again.lastExit!.reason], ['SIGKILL', 'killed']);
  t.equal(again.restarts, 1);
});

t.test('reset_after_seconds of health resets the attempt counter', async (t) => {
  const h = await harness(t, {
    services: { r: { id: 'r', executable: node('sleeper.mjs'), restart_policy: { backoff_seconds: 0, reset_after_seconds: 0.3, max_retries: 5 } } },
  });
  const v = await h.waitView('r', (v) => v.state === 'running');
  process.kill(v.pid!, 'SIGKILL');
  await h.waitView('r', (x) => x.state === 'running' && x.pid !== v.pid && x.attempts === 1);
  await h.waitView('r', (x) => x.attempts === 0, 'attempts reset');
  await h.waitFor(() => h.events('r', 'attempts_reset').length === 1, 'the attempts_reset event');
  t.pass('recorded as an event');
});
