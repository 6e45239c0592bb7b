/**
 * Jobs beyond the ticks: schedule config problems at file:line, a one-shot (restart: temporary)
 * job that PUT .../start runs again, missed runs reported after an orchestrator restart (and one
 * catch-up run), and `orchestrator runs ID` printing the recorded runs (the real CLI, dist/).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { RunsPage } from '../../src/api/types.js';
import { formatProblem, loadOrchestratorConfig, loadServiceFiles, serviceDefaults } from '../../src/config/load.js';
import { cli } from '../cli/run.js';
import { harness, node } from '../helpers/harness.js';

t.test('schedule problems are config errors at file:line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orch-jobs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'badcron.yaml'), 'id: badcron\nexecutable: sleep 1\nschedule:\n  cron: "every tuesday"\n');
  writeFileSync(join(dir, 'badzone.yaml'), 'id: badzone\nexecutable: sleep 1\nschedule:\n  cron: "0 * * * *"\n  timezone: Mars/Olympus\n');
  writeFileSync(join(dir, 'both.yaml'), 'id: both\nexecutable: sleep 1\nschedule:\n  cron: "0 * * * *"\n  interval_seconds: 5\n');
  writeFileSync(join(dir, 'allow.yaml'), 'id: allow\nexecutable: sleep 1\nschedule:\n  interval_seconds: 5\n  concurrency: allow\n');
  writeFileSync(join(dir, 'good.yaml'), 'id: good\nexecutable: sleep 1\nschedule:\n  cron: "*/15 * * * *"\n  timezone: Europe/Berlin\n  timeout_seconds: 60\n');
  const loaded = loadServiceFiles(dir, serviceDefaults(loadOrchestratorConfig(undefined, {})));
  t.same(loaded.specs.map((s) => s.id), ['good']);
  t.match(loaded.specs[0]!.schedule, { cron: '*/15 * * * *', timezone: 'Europe/Berlin', timeout_seconds: 60, concurrency: 'forbid', run_on_start: false, catch_up: false });
  const text = loaded.problems.map(formatProblem).join('\n');
  t.match(text, /badcron\.yaml:4:3 schedule\.cron: invalid cron expression: .*exactly five, six, or seven/);
  t.match(text, /badzone\.yaml:4:3 schedule\.cron: invalid cron expression: .*Mars\/Olympus/);
  t.match(text, /both\.yaml:4:3 schedule\.cron: give exactly one of cron or interval_seconds/);
  t.match(text, /allow\.yaml:5:3 schedule\.concurrency: allow is not possible: a service runs one process at a time/);
});

t.test('a one-shot (temporary) job runs once; PUT start runs it again', async (t) => {
  const h = await harness(t, {
    http: true,
    services: { once: { id: 'once', executable: node('job.mjs'), restart: 'temporary' } },
  });
  const first = await h.waitView('once', (v) => v.state === 'stopped' && v.lastExit?.code === 0, 'the first run to finish');
  t.equal(first.restarts, 0, 'not restarted');
  const res = await fetch(`${h.url}/api/services/once/start`, { method: 'PUT' });
  t.equal(res.status, 202);
  const runs = await h.waitFor(() => {
    const rows = h.o.registry.runs.history('once', 10);
    return rows.length === 2 && rows.every((r) => r.ended_at !== null) ? rows : undefined;
  }, 'the second run to end');
  t.same(runs.map((r) => r.exit_code), [0, 0], 'two runs, both exit 0');
  await h.waitView('once', (v) => v.state === 'stopped', 'stopped again');

  // The CLI prints them.
  const out = await cli(t, ['runs', 'once', '--url', h.url]);
  t.equal(out.code, 0, out.stderr);
  const lines = out.stdout.trimEnd().split('\n');
  t.match(lines[0], /^RUN\s+PID\s+STARTED\s+ENDED\s+DURATION\s+EXIT\s+REASON$/);
  t.equal(lines.length, 3, 'a header and two runs');
  t.match(lines[1], new RegExp(`^${runs[0]!.run_id.replace('.', '\\.')}\\s+${runs[0]!.pid}\\s+\\d\\d:\\d\\d:\\d\\d\\s+\\d\\d:\\d\\d:\\d\\d\\s+\\d+\\.\\d+s\\s+0\\s+exited with code 0$`), 'newest first');
  const json = JSON.parse((await cli(t, ['runs', 'once', '--json', '--limit', '1', '--url', h.url])).stdout) as RunsPage;
  t.equal(json.runs.length, 1);
  t.equal(json.total, 2);
  t.equal(json.next_before, json.runs[0]!.id, 'a cursor to the older run');
  const missing = await cli(t, ['runs', 'nope', '--url', h.url]);
  t.equal(missing.code, 5, 'no such service');
});

t.test('missed runs while the orchestrator was down are reported, not replayed (one catch-up run if asked)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orch-jobs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const services = {
    quiet: { id: 'quiet', executable: node('job.mjs'), schedule: { interval_seconds: 1, run_on_start: true } },
    eager: { id: 'eager', executable: node('job.mjs'), schedule: { interval_seconds: 1, run_on_start: true, catch_up: true } },
  };
  const first = await harness(t, { dir, services, noTeardown: true });
  await first.waitFor(() => ['quiet', 'eager'].every((id) => first.o.registry.runs.history(id, 1)[0]?.ended_at), 'both ran once');
  const lastQuiet = first.o.registry.runs.history('quiet', 1)[0]!.started_at;
  await first.shutdown();
  // Down for at least three ticks.
  await new Promise<void>((resolve) => { const check = () => (Date.now() - lastQuiet > 3_500 ? resolve() : setTimeout(check, 100)); check(); });

  const second = await harness(t, { dir, services: { ...services, quiet: { ...services.quiet, schedule: { interval_seconds: 1 } } } });
  const quiet = second.events('quiet', 'missed_runs').at(-1);
  t.ok(quiet, 'missed_runs for quiet');
  t.ok((quiet!.data.count as number) >= 3, `counted (${quiet!.data.count})`);
  t.equal(quiet!.data.catch_up, false);
  const eager = second.events('eager', 'missed_runs').at(-1);
  t.equal(eager?.data.catch_up, true, 'eager catches up');
  // Nothing replayed: quiet's first start after boot is its first tick, a whole interval later.
  const firstTick = await second.waitFor(() => second.events('quiet', 'command').find((e) => e.seq > quiet!.seq), 'the first tick of quiet');
  t.ok(firstTick.at - quiet!.at >= 900, `quiet: nothing replayed at boot (first start ${Math.round(firstTick.at - quiet!.at)} ms after)`);
  const catchUp = await second.waitFor(() => second.events('eager', 'command').find((e) => e.seq > eager!.seq), 'the catch-up run of eager');
  t.match(catchUp.data, { command: 'start', actor: 'schedule' }, 'eager: one catch-up run started');
});
