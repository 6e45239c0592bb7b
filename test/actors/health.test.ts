/**
 * Probe and limit accounting as pure functions: a track and an observation in, a track and a
 * decision out. No actor, no timer, no clock but the numbers given.
 */
import t from 'tap';
import {
  afterProbe, afterSample, describeBreach, describeProbeFailure, idleLimits, startProbing, type ProbeRules, type ProbeTrack,
} from '../../src/actors/health.js';
import { FAST_PROBE_MAX_MS, LIMIT_BREACH_SAMPLES, probeSlot, STARTUP_GRACE_MIN_MS } from '../../src/actors/policy.js';
import type { Health } from '../../src/actors/protocol.js';
import { makeSpec } from '../helpers/specs.js';

const rules = (health: Record<string, unknown>): ProbeRules => makeSpec({ id: 'h', health_endpoint: 'http://x/h', health }).health;

/** Feeds probe results at given times, keeping the track and the health verdict. */
function prober(r: ProbeRules, start = 1_000_000, adopted = false) {
  const first = startProbing(r, start, adopted);
  let track: ProbeTrack = first.track;
  let health: Health = 'unknown';
  return {
    first,
    get track() { return track; },
    get health() { return health; },
    probe(ok: boolean, at: number) {
      track = { ...track, inFlight: true, sentAt: at };
      const step = afterProbe(track, health, r, { ok, latencyMs: 2, status: ok ? 200 : 503, at });
      track = step.track;
      health = step.health;
      return step;
    },
  };
}

t.test('startProbing: a fresh run waits initial_delay; an adopted one is probed at once, with the grace minus that delay', async (t) => {
  const r = rules({ initial_delay_seconds: 5, interval_seconds: 1, failure_threshold: 3 });
  const fresh = startProbing(r, 1000, false);
  t.equal(fresh.firstDelayMs, 5000);
  t.equal(fresh.track.graceUntil, 1000 + 5000 + Math.max(STARTUP_GRACE_MIN_MS, 3000));
  const adopted = startProbing(r, 1000, true);
  t.equal(adopted.firstDelayMs, 0);
  t.equal(adopted.track.graceUntil, 1000 + Math.max(STARTUP_GRACE_MIN_MS, 3000));
  t.same([adopted.track.okStreak, adopted.track.failStreak, adopted.track.everHealthy, adopted.track.last], [0, 0, false, null]);
});

t.test('success_threshold passing probes make it healthy; fast probes until then, the interval after, on slots', async (t) => {
  const p = prober(rules({ success_threshold: 3, interval_seconds: 30 }));
  const delays: number[] = [];
  let now = 1_000_000;
  for (let i = 0; i < 2; i++) {
    const step = p.probe(true, now);
    t.equal(step.health, 'unknown', `${i + 1} success(es) are not enough`);
    t.notOk(step.failed);
    delays.push(step.nextDelayMs);
    now += step.nextDelayMs;
  }
  t.same(delays, [20, 25], 'fast: 20 ms, growing');
  const healthy = p.probe(true, now);
  t.equal(healthy.health, 'healthy');
  t.ok(p.track.everHealthy);
  t.ok(healthy.nextDelayMs >= 29_850 && healthy.nextDelayMs <= 30_150, `then the interval, within half a slot (${healthy.nextDelayMs} ms)`);
  t.equal((now + healthy.nextDelayMs) % 300, 0, 'on a slot: a hundredth of the interval');
});

t.test('probe slots: a hundredth of the interval, 10 ms to 1 s, a multiple of 10 ms', async (t) => {
  t.same([0.03, 1, 5, 30, 60, 300, 3600].map((s) => probeSlot(s * 1000)), [10, 10, 50, 300, 600, 1000, 1000]);
});

t.test('fast probes never pass FAST_PROBE_MAX_MS, nor the interval', async (t) => {
  const slow = prober(rules({ success_threshold: 1, interval_seconds: 30 }));
  let last = 0;
  for (let i = 0; i < 20; i++) last = slow.probe(false, 1_000_000 + i).nextDelayMs;
  t.equal(last, FAST_PROBE_MAX_MS);
  const quick = prober(rules({ success_threshold: 1, interval_seconds: 0.03 }));
  for (let i = 0; i < 20; i++) last = quick.probe(false, 1_000_000 + i).nextDelayMs;
  t.equal(last, 30, 'an interval shorter than the fast cap caps it');
});

t.test('start-up grace: failures before the first success do not count until the grace is spent, then fail at once', async (t) => {
  const r = rules({ interval_seconds: 1, failure_threshold: 3 });
  const p = prober(r, 0);
  const inGrace = p.probe(false, p.track.graceUntil - 1);
  t.same([inGrace.health, inGrace.failed, p.track.failStreak], ['unknown', false, 0], 'in grace: nothing counts');
  const spent = p.probe(false, p.track.graceUntil);
  t.same([spent.health, spent.failed, p.track.failStreak], ['unhealthy', true, 3], 'grace spent: the whole budget is used');
  t.equal(describeProbeFailure(p.track, 0, { ok: false, latencyMs: 1, error: 'ECONNREFUSED', at: 0 }), 'not healthy within 3s of start: ECONNREFUSED');
});

t.test('once healthy, failure_threshold consecutive failures fail it; a success in between starts the count again', async (t) => {
  const p = prober(rules({ success_threshold: 1, failure_threshold: 3 }));
  let now = 1_000_000;
  p.probe(true, now);
  const table: Array<[boolean, Health, number, boolean]> = [
    [false, 'unhealthy', 1, false],
    [false, 'unhealthy', 2, false],
    [true, 'healthy', 0, false],
    [false, 'unhealthy', 1, false],
    [false, 'unhealthy', 2, false],
    [false, 'unhealthy', 3, true],
  ];
  for (const [ok, health, streak, failed] of table) {
    now += 1000;
    const step = p.probe(ok, now);
    t.same([step.health, p.track.failStreak, step.failed], [health, streak, failed], `${ok ? 'pass' : 'fail'} → ${health}, streak ${streak}`);
  }
  t.notOk(p.track.inFlight, 'the probe came back');
  t.equal(p.track.last?.status, 503, 'the last result is kept for the view');
  t.equal(describeProbeFailure(p.track, 0, { ok: false, latencyMs: 1, status: 503, at: now }), '3 consecutive failed health checks: HTTP 503');
});

t.test('an unhealthy run needs success_threshold passes again to be healthy', async (t) => {
  const p = prober(rules({ success_threshold: 2, failure_threshold: 5 }));
  p.probe(true, 1); p.probe(true, 2);
  p.probe(false, 3);
  t.equal(p.probe(true, 4).health, 'unhealthy', 'one pass is not enough');
  t.equal(p.probe(true, 5).health, 'healthy');
});

t.test('limits: LIMIT_BREACH_SAMPLES consecutive samples over a limit breach it; memory is judged first', async (t) => {
  const limits = makeSpec({ id: 'l', resources: { max_memory: '100MB', max_cpu: '50%' } }).resources;
  const over = { cpu: 90, rss: 200e6, pids: 1, at: 0 };
  const under = { cpu: 10, rss: 1e6, pids: 1, at: 0 };
  let track = idleLimits();
  for (let i = 1; i < LIMIT_BREACH_SAMPLES; i++) {
    const step = afterSample(track, limits, over);
    t.equal(step.breach, null, `sample ${i}: not yet`);
    track = step.track;
  }
  t.same(track, { memory: LIMIT_BREACH_SAMPLES - 1, cpu: LIMIT_BREACH_SAMPLES - 1 });
  t.same(afterSample(track, limits, under).track, { memory: 0, cpu: 0 }, 'a sample under the limits starts the count again');
  const breach = afterSample(track, limits, over).breach!;
  t.same(breach, { limit: 'memory', cause: 'memory_limit', rss: 200e6, max: limits.max_memory });
  t.equal(describeBreach(breach), `RSS 200000000 B over ${limits.max_memory} B for ${LIMIT_BREACH_SAMPLES} samples`);
  const cpu = afterSample({ memory: 0, cpu: LIMIT_BREACH_SAMPLES - 1 }, limits, { ...under, cpu: 99.25 }).breach!;
  t.same([cpu.limit, cpu.cause], ['cpu', 'cpu_limit']);
  t.equal(describeBreach(cpu), `CPU 99.3% over 50% for ${LIMIT_BREACH_SAMPLES} samples`);
});

t.test('limits: no limit set, no breach', async (t) => {
  const limits = makeSpec({ id: 'n' }).resources;
  let track = idleLimits();
  for (let i = 0; i < LIMIT_BREACH_SAMPLES * 2; i++) {
    const step = afterSample(track, limits, { cpu: 400, rss: 9e9, pids: 1, at: 0 });
    t.equal(step.breach, null);
    track = step.track;
  }
  t.same(track, { memory: 0, cpu: 0 });
});
