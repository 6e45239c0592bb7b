/**
 * The ServiceActor's side of jobs, on a fake clock (pure logic): exit 0 ends a scheduled run even
 * with restart permanent, a failure is retried within it, and schedule.timeout_seconds stops a run
 * (its stop signal with cause timeout, event run_timeout, then stopped — not retried).
 */
import t from 'tap';
import { driver, eventNames, ofType } from '../helpers/service-driver.js';

const job = (schedule: Record<string, unknown>) => ({ id: 'job', executable: 'sleep 1', schedule, restart_policy: { backoff_seconds: 1, max_retries: 2 } });

t.test('exit 0 ends the run; a failure is retried per restart_policy', async (t) => {
  const a = driver(job({ interval_seconds: 60 })).running();
  a.exit(0);
  t.equal(a.d.state, 'stopped', 'permanent acts as transient: done, not restarted');
  t.equal(a.d.restarts, 0);
  a.send({ type: 'start', reason: 'scheduled run' });
  a.spawned(101);
  a.exit(1);
  t.equal(a.d.state, 'backoff', 'a failed run is retried');
});

t.test('timeout_seconds stops a run that takes too long', async (t) => {
  const a = driver(job({ interval_seconds: 60, timeout_seconds: 2 })).running();
  t.ok(a.due('job_timeout'), 'armed at spawn');
  a.take();
  a.advance(2000);
  const fx = a.take();
  t.same(ofType(fx, 'signal').map((e) => [e.signal, e.cause]), [['SIGTERM', 'timeout']], 'the stop signal, with cause timeout');
  t.ok(eventNames(fx).includes('run_timeout'));
  t.equal(a.d.state, 'stopping');
  a.exit(null, 'SIGTERM');
  t.equal(a.d.state, 'stopped', 'stopped, waiting for the next tick');
  t.match(a.d.lastExit, { reason: 'timeout', signal: 'SIGTERM' });
  t.equal(a.due('job_timeout'), undefined, 'no timer left');
});

t.test('a run that ends in time cancels its timeout', async (t) => {
  const a = driver(job({ interval_seconds: 60, timeout_seconds: 2 })).running();
  a.exit(0);
  a.take();
  a.advance(5000);
  t.notOk(eventNames(a.take()).includes('run_timeout'));
  t.equal(a.d.state, 'stopped');
});
