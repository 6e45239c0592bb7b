/**
 * Scheduled jobs end to end (issue 17 part 3): real job processes started by their schedule in one
 * orchestrator (in-process harness, real HTTP). Each service shows one behaviour: an interval job's
 * recorded runs, forbid skipping a tick while a run goes on, replace restarting it, timeout_seconds
 * stopping it, and a cron job's next_run_at as croner computes it in its time zone.
 */
import { Cron } from 'croner';
import t from 'tap';
import type { PresentedService, RunsPage } from '../../src/api/types.js';
import { harness, node } from '../helpers/harness.js';

t.test('interval, forbid, replace, timeout and cron jobs', async (t) => {
  const job = (schedule: Record<string, unknown>, env: Record<string, unknown> = {}) => ({ executable: node('job.mjs'), schedule, environment: env });
  const h = await harness(t, {
    http: true,
    services: {
      tick: { id: 'tick', ...job({ interval_seconds: 1 }) },
      long: { id: 'long', ...job({ interval_seconds: 1, concurrency: 'forbid' }, { JOB_MS: 2500 }) },
      swap: { id: 'swap', ...job({ interval_seconds: 1.5, concurrency: 'replace' }, { JOB_MS: 60_000 }) },
      slow: { id: 'slow', ...job({ interval_seconds: 30, run_on_start: true, timeout_seconds: 0.5 }, { JOB_MS: 60_000 }) },
      nightly: { id: 'nightly', ...job({ cron: '30 2 * * *', timezone: 'Europe/Berlin' }) },
    },
  });
  const get = async <T>(path: string) => {
    const res = await fetch(`${h.url}${path}`);
    t.equal(res.status, 200, `GET ${path}`);
    return await res.json() as T;
  };

  await t.test('an interval job runs to completion again and again; every run is recorded', async (t) => {
    const page = await h.waitFor(() => {
      const rows = h.o.registry.runs.history('tick', 10).filter((r) => r.ended_at !== null);
      return rows.length >= 3 ? rows : undefined;
    }, 'three finished runs of tick', 15_000);
    t.ok(page.length >= 3);
    const runs = await get<RunsPage>('/api/services/tick/runs?limit=3');
    t.equal(runs.runs.length, 3, 'a page of three');
    t.ok(runs.total >= 3, 'total counts them all');
    t.ok(runs.runs[0]!.id > runs.runs[1]!.id && runs.runs[1]!.id > runs.runs[2]!.id, 'newest first');
    const done = runs.runs.filter((r) => r.ended_at !== null);
    t.ok(done.length >= 2);
    for (const r of done) {
      t.equal(r.exit_code, 0, `run ${r.run_id} exited 0`);
      t.equal(r.reason, 'exited with code 0');
      t.ok(r.duration_seconds !== null && r.duration_seconds >= 0 && r.duration_seconds < 5, `a duration (${r.duration_seconds}s)`);
      t.ok(r.logs.stdout.start !== null && r.logs.stdout.end! > r.logs.stdout.start, 'its output lies between its log offsets');
    }
    const next = await get<RunsPage>(`/api/services/tick/runs?limit=3&before=${runs.next_before}`);
    t.ok(next.runs.every((r) => r.id < runs.runs[2]!.id), 'the next page is older');
    const svc = await get<PresentedService>('/api/services/tick');
    t.ok(svc.next_run_at && Date.parse(svc.next_run_at) > Date.now() - 1000, 'next_run_at is shown');
    t.equal(svc.want, 'up');
  });

  await t.test('forbid: a tick while the run goes on is skipped', async (t) => {
    const skipped = await h.waitFor(() => h.events('long', 'run_skipped')[0], 'long to skip a tick', 10_000);
    // The run is still going: starting (its first second, or longer on a loaded machine) or running.
    t.match(skipped.data, { reason: 'the previous run is still going', state: /^(starting|running)$/ });
    const runs = h.o.registry.runs.history('long', 10);
    t.ok(runs.some((r) => r.pid === skipped.data.pid), `the skip names the pid of a recorded run (${String(skipped.data.pid)})`);
    t.ok(runs.filter((r) => r.ended_at === null).length <= 1, 'never two runs at once');
  });

  await t.test('replace: a tick stops the running one and starts anew', async (t) => {
    await h.waitFor(() => h.events('swap', 'run_replaced')[0], 'swap to be replaced', 10_000);
    const rows = await h.waitFor(() => {
      const r = h.o.registry.runs.history('swap', 10);
      return r.length >= 2 && r[1]!.ended_at !== null ? r : undefined;
    }, 'the replaced run to end', 10_000);
    t.match(rows[1]!, { reason: /^restarted: (exited with code 143|killed by SIGTERM)$/ }, 'stopped with its stop signal (the job exits 143 on SIGTERM)');
    const one = await h.waitFor(() => {
      const v = h.view('swap');
      const open = h.o.registry.runs.history('swap', 10).filter((r) => r.ended_at === null);
      return v.state === 'running' && open.length === 1 && open[0]!.pid === v.pid ? open : undefined;
    }, 'swap running again, as its one open run');
    t.equal(one.length, 1, 'the new run is the one running, and the only one');
  });

  await t.test('timeout_seconds stops a run that takes too long', async (t) => {
    const ev = await h.waitFor(() => h.events('slow', 'run_timeout')[0], 'slow to time out', 10_000);
    t.match(ev.data, { reason: 'timeout', timeout_seconds: 0.5 });
    const v = await h.waitView('slow', (v) => v.state === 'stopped', 'slow stopped after its timeout');
    // The stop signal: the job exits 143 on it, or dies of it if it came before its handler was set (a slow start).
    t.ok(v.lastExit?.reason === 'timeout' && (v.lastExit.code === 143 || v.lastExit.signal === 'SIGTERM'), `ended by the stop signal: ${JSON.stringify(v.lastExit)}`);
    const exit = h.events('slow', 'exit').at(-1)!;
    t.equal(exit.data.reason, 'timeout', 'the exit event says timeout');
    const runs = await get<RunsPage>('/api/services/slow/runs');
    t.match(runs.runs[0], { reason: /^timeout: (exited with code 143|killed by SIGTERM)$/ }, 'the run records why it ended');
    const svc = await get<PresentedService>('/api/services/slow');
    t.match(svc.reason, /^timeout: ran longer than 0.5s; next run at \d{4}-/, 'waits for its next run, and says when');
    t.equal(h.o.registry.runs.history('slow', 10).length, 1, 'a timed-out run is not retried');
  });

  await t.test("a cron job's next_run_at is croner's next time in its time zone", async (t) => {
    const svc = await get<PresentedService>('/api/services/nightly');
    const expected = new Cron('30 2 * * *', { timezone: 'Europe/Berlin', paused: true }).nextRun()!;
    t.equal(svc.next_run_at, expected.toISOString());
    t.equal(svc.state, 'stopped', 'waits for its tick (a job does not auto-start)');
    t.match(svc.reason, /next run at /);
    const hour = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit' }).format(new Date(svc.next_run_at!));
    t.equal(hour, '02:30', '02:30 Berlin time');
  });
});
