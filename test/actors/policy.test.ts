import t from 'tap';
import { addRestart, backoffDelayMs, isAbnormal, nextFastProbeDelay, restartType, shouldRestart, startupGraceMs } from '../../src/actors/policy.js';

t.test('backoff doubles from backoff_seconds and is capped at max_backoff_seconds', async (t) => {
  const policy = { backoff_seconds: 1, max_backoff_seconds: 10 };
  const noJitter = () => 0.5; // jitter factor exactly 1
  const table: Array<[number, number]> = [[1, 1000], [2, 2000], [3, 4000], [4, 8000], [5, 10_000], [50, 10_000]];
  for (const [attempt, expected] of table) t.equal(backoffDelayMs(policy, attempt, noJitter), expected, `attempt ${attempt}`);
});

t.test('jitter stays within ±20 %', async (t) => {
  const policy = { backoff_seconds: 10, max_backoff_seconds: 100 };
  t.equal(backoffDelayMs(policy, 1, () => 0), 8000, 'lowest');
  t.equal(backoffDelayMs(policy, 1, () => 0.999999), 12000, 'highest');
  for (let i = 0; i < 200; i++) {
    const d = backoffDelayMs(policy, 2, Math.random);
    if (d < 16000 || d > 24000) t.fail(`out of range: ${d}`);
  }
  t.pass('200 random draws in range');
});

t.test('backoff_seconds 0 means restart at once', async (t) => {
  t.equal(backoffDelayMs({ backoff_seconds: 0, max_backoff_seconds: 300 }, 5, Math.random), 0);
});

t.test('restart types (OTP)', async (t) => {
  const table: Array<[Parameters<typeof shouldRestart>[0], boolean, boolean, boolean]> = [
    ['permanent', false, true, true], ['permanent', true, true, true],
    ['transient', false, true, false], ['transient', true, true, true],
    ['temporary', false, true, false], ['temporary', true, true, false],
    ['permanent', true, false, false], // recovery disabled
  ];
  for (const [type, abnormal, enabled, expected] of table) {
    t.equal(shouldRestart(type, abnormal, enabled), expected, `${type} abnormal=${abnormal} recovery=${enabled}`);
  }
  t.equal(isAbnormal(0, null), false, 'exit 0 is normal');
  t.equal(isAbnormal(1, null), true, 'exit 1 is abnormal');
  t.equal(isAbnormal(null, 'SIGTERM'), true, 'a signal is abnormal');
});

t.test('fast probe delays grow and are capped by the interval and 50 ms', async (t) => {
  const seq: number[] = [];
  let d = 0;
  for (let i = 0; i < 7; i++) { d = nextFastProbeDelay(d, 30_000); seq.push(d); }
  t.same(seq, [20, 25, 31, 39, 49, 50, 50]);
  t.equal(nextFastProbeDelay(39, 40), 40, 'never above the interval');
});

t.test('start-up grace: what interval probing would give, at least 2 s', async (t) => {
  t.equal(startupGraceMs({ initial_delay_seconds: 0, failure_threshold: 3, interval_seconds: 30 }), 90_000);
  t.equal(startupGraceMs({ initial_delay_seconds: 5, failure_threshold: 3, interval_seconds: 1 }), 8_000);
  t.equal(startupGraceMs({ initial_delay_seconds: 0, failure_threshold: 2, interval_seconds: 0.05 }), 2_000);
});

t.test('addRestart: one restart window (OTP add_restart) — times within the period, plus now; exceeded past the intensity', async (t) => {
  let w = addRestart([], 1_000, 10_000, 2);
  t.same(w, { times: [1_000], exceeded: false });
  w = addRestart(w.times, 2_000, 10_000, 2);
  t.same(w, { times: [1_000, 2_000], exceeded: false }, 'two within the period: at the intensity, not past it');
  w = addRestart(w.times, 3_000, 10_000, 2);
  t.same(w, { times: [1_000, 2_000, 3_000], exceeded: true }, 'the third within 10 s exceeds intensity 2');
  w = addRestart([1_000, 2_000], 11_500, 10_000, 2);
  t.same(w, { times: [2_000, 11_500], exceeded: false }, 'restarts older than the period drop out');
  t.same(addRestart([1_000], 11_000, 10_000, 0), { times: [11_000], exceeded: true }, 'intensity 0: the first restart exceeds it');
});

t.test('a scheduled job runs to completion: permanent acts as transient, the others as they are', async (t) => {
  const schedule = { interval_seconds: 1 };
  t.equal(restartType({ restart: 'permanent', schedule }), 'transient');
  t.equal(restartType({ restart: 'transient', schedule }), 'transient');
  t.equal(restartType({ restart: 'temporary', schedule }), 'temporary');
  t.equal(restartType({ restart: 'permanent', schedule: null }), 'permanent', 'no schedule: unchanged');
  t.notOk(shouldRestart(restartType({ restart: 'permanent', schedule }), false, true), 'exit 0 ends the run');
  t.ok(shouldRestart(restartType({ restart: 'permanent', schedule }), true, true), 'a failure is retried within the run');
});
