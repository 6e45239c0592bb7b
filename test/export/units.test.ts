/**
 * The small parts of the export: cron expressions to OnCalendar= (checked by `systemd-analyze
 * calendar` for real) and to five-field CronJob schedules, intervals to cron, systemd quoting, and
 * Kubernetes' $(VAR) escaping in a command.
 */
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { CronUnsupported, fiveFields, intervalCron, onCalendar } from '../../src/export/cron.js';
import { envAssignment, execWord } from '../../src/export/unitfile.js';
import { exportFleet } from '../../src/export/index.js';
import { parseServiceInput } from '../../src/config/load.js';
import { loadOrchestratorConfig, serviceDefaults } from '../../src/config/load.js';

/** What systemd makes of an OnCalendar= value: its normalized form, or its complaint. */
function calendar(expr: string): string {
  const r = spawnSync('systemd-analyze', ['calendar', expr], { encoding: 'utf8' });
  return r.status === 0 ? /Normalized form: (.*)/.exec(r.stdout)![1]! : `error: ${r.stderr.trim()}`;
}

t.test('cron → OnCalendar=, accepted by systemd-analyze calendar', async (t) => {
  const cases: Array<[string, string | undefined, string[]]> = [
    ['*/15 * * * *', undefined, ['*-*-* *:00,15,30,45:00']],
    ['0 9-17 * * mon-fri', undefined, ['Mon..Fri *-*-* 09..17:00:00']],
    ['30 4 1,15 * 0', undefined, ['*-*-01,15 04:30:00', 'Sun *-*-* 04:30:00']],
    ['0 30 2 * * 1-5', 'Europe/Berlin', ['Mon..Fri *-*-* 02:30:00 Europe/Berlin']],
    ['@daily', undefined, ['*-*-* 00:00:00']],
    ['0 0 1 JAN,JUL *', undefined, ['*-01,07-01 00:00:00']],
    ['5 4 * * 7', undefined, ['Sun *-*-* 04:05:00']],
    ['*/20 * * * * *', undefined, ['*-*-* *:*:00,20,40']],
  ];
  for (const [cron, tz, want] of cases) {
    const got = onCalendar(cron, tz);
    t.same(got, want, `${cron}${tz ? ` (${tz})` : ''}`);
    for (const line of got) t.notMatch(calendar(line), /^error/, `systemd-analyze calendar accepts "${line}"`);
  }
  t.throws(() => onCalendar('0 0 L * *'), CronUnsupported, 'croner\'s L has no counterpart');
  t.throws(() => onCalendar('0 0 * * 5#2'), CronUnsupported, 'nor #');
});

t.test('cron → five fields; intervals → cron', async (t) => {
  t.equal(fiveFields('0 30 2 * * MON-FRI'), '30 2 * * 1-5');
  t.equal(fiveFields('*/10 * * * *'), '0,10,20,30,40,50 * * * *');
  t.equal(fiveFields('0 0 * * 7'), '0 0 * * 0');
  t.throws(() => fiveFields('30 * * * * *'), /seconds/, 'a CronJob has no seconds');
  t.equal(intervalCron(300), '*/5 * * * *');
  t.equal(intervalCron(60), '* * * * *');
  t.equal(intervalCron(7200), '0 */2 * * *');
  t.equal(intervalCron(86400), '0 0 * * *');
  t.equal(intervalCron(90), null, 'not whole minutes');
  t.equal(intervalCron(420), null, '7 minutes do not divide an hour');
});

t.test('systemd quoting: % and $ are literal, odd words are quoted', async (t) => {
  t.equal(execWord('/usr/bin/node'), '/usr/bin/node');
  t.equal(execWord('50%'), '50%%');
  t.equal(execWord('$HOME'), '$$HOME');
  t.equal(execWord('--port=${SERVICE_PORT}', true), '--port=${SERVICE_PORT}', 'kept for systemd to expand');
  t.equal(execWord('a b"c'), '"a b\\"c"');
  t.equal(envAssignment('A', 'x y'), '"A=x y"');
  t.equal(envAssignment('B', 'plain'), 'B=plain');
  t.equal(envAssignment('C', 'back\\slash\nnew'), '"C=back\\\\slash\\nnew"');
});

t.test('Kubernetes: a literal $( in a command stays literal', async (t) => {
  const config = loadOrchestratorConfig(undefined, {});
  const { spec } = parseServiceInput({ id: 'q', executable: 'sh -c "echo $(date)"', image: 'busybox' }, serviceDefaults(config), '/srv');
  const out = exportFleet([spec!], { baseDir: '/srv', supervision: config.supervision }, { target: 'kubernetes' });
  t.match(out.files['q.yaml']!, /- echo \$\$\(date\)\n/);
});
