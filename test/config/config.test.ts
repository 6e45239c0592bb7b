import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { splitCommandLine } from '../../src/config/argv.js';
import {
  checkDependencies, ConfigError, formatProblem, loadOrchestratorConfig, loadServiceFiles, parseServiceInput, serviceDefaults,
} from '../../src/config/load.js';
import { parsePercent, parseSize } from '../../src/config/units.js';
import { makeSpec } from '../helpers/specs.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'orch-config-'));

t.test('command lines split shell-style, quotes honoured, no expansion', async (t) => {
  const table: Array<[string, string[]]> = [
    ['python /path/to/my_service.py', ['python', '/path/to/my_service.py']],
    [`node "my file.js" --name 'a b'`, ['node', 'my file.js', '--name', 'a b']],
    [`sh -c 'echo $HOME && exit 3'`, ['sh', '-c', 'echo $HOME && exit 3']],
    [`a "x\\"y" b\\ c ''`, ['a', 'x"y', 'b c', '']],
    ['  spaced   out  ', ['spaced', 'out']],
  ];
  for (const [line, argv] of table) t.same(splitCommandLine(line), argv, line);
  t.throws(() => splitCommandLine(`echo 'unterminated`), /unterminated single quote/);
  t.throws(() => splitCommandLine('echo "open'), /unterminated double quote/);
});

t.test('sizes and percentages', async (t) => {
  const sizes: Array<[string | number, number | undefined]> = [
    ['512MB', 512 * 1024 ** 2], ['1.5GB', 1.5 * 1024 ** 3], ['800KB', 800 * 1024], ['100', 100], [2048, 2048],
    ['12 mb', 12 * 1024 ** 2], ['lots', undefined], ['-5MB', undefined], ['5XB', undefined], [0, undefined],
  ];
  for (const [input, bytes] of sizes) t.equal(parseSize(input), bytes, `size ${input}`);
  const pcts: Array<[string | number, number | undefined]> = [['25%', 25], ['250%', 250], ['12.5 %', 12.5], [40, 40], ['x%', undefined], ['0%', undefined]];
  for (const [input, pct] of pcts) t.equal(parsePercent(input), pct, `percent ${input}`);
});

t.test('every problem names file:line:col and the field; bad files are skipped, the rest load', async (t) => {
  const dir = tmp();
  writeFileSync(join(dir, 'bad.yaml'), 'id: bad\nexecutable: node x.js\nrestart_policy:\n  max_retries: three\n');
  writeFileSync(join(dir, 'typo.yaml'), 'id: typo\nexecutable: sleep 1\nhealth:\n  intervall_seconds: 3\n');
  writeFileSync(join(dir, 'syntax.yaml'), 'id: syntax\nexecutable: [unclosed\n');
  writeFileSync(join(dir, 'missing.yaml'), 'name: no id or executable\n');
  writeFileSync(join(dir, 'good.yaml'), 'id: good\nexecutable: sleep 100\nresources: { max_memory: 1.5GB, max_cpu: 25% }\n');
  writeFileSync(join(dir, 'notes.txt'), 'not a service file');
  const loaded = loadServiceFiles(dir, serviceDefaults(loadOrchestratorConfig(undefined, {})));
  t.same(loaded.specs.map((s) => s.id), ['good'], 'only the good file loads');
  t.equal(loaded.specs[0]!.resources.max_memory, 1.5 * 1024 ** 3);
  t.equal(loaded.specs[0]!.resources.max_cpu, 25);
  const text = loaded.problems.map(formatProblem).map((p) => p.replace(`${relative(process.cwd(), dir)}/`, '').replace(`${dir}/`, ''));
  t.ok(text.includes('bad.yaml:4:3 restart_policy.max_retries: expected a non-negative integer, got "three"'), text.join('\n'));
  t.ok(text.includes('typo.yaml:4:3 health.intervall_seconds: unknown key "intervall_seconds"'), 'unknown keys are errors');
  t.ok(text.some((p) => /^syntax\.yaml:\d+:\d+ /.test(p)), 'YAML syntax errors have positions');
  t.ok(text.includes('missing.yaml:1:1 id: required field is missing'), 'missing id');
  t.ok(text.some((p) => p.startsWith('missing.yaml:1:1 executable: required field is missing')), 'missing executable');
});

t.test('duplicate ids are an error naming both files', async (t) => {
  const dir = tmp();
  writeFileSync(join(dir, 'a.yaml'), 'id: same\nexecutable: sleep 1\n');
  writeFileSync(join(dir, 'b.yaml'), '# second\nid: same\nexecutable: sleep 2\n');
  const loaded = loadServiceFiles(dir, serviceDefaults(loadOrchestratorConfig(undefined, {})));
  t.equal(loaded.specs.length, 1);
  t.equal(loaded.specs[0]!.executable, 'sleep 1', 'the first file wins');
  t.match(formatProblem(loaded.problems[0]!), /b\.yaml:2:1 id: duplicate id "same", already defined in .*a\.yaml:1/);
});

t.test('service defaults come from monitoring.* and recovery.*; relative paths from the file folder', async (t) => {
  const dir = tmp();
  writeFileSync(join(dir, 'o.yaml'), 'orchestrator:\n  data_dir: ./d\n  log_dir: logs\nmonitoring:\n  interval: 7\n  timeout: 2\nrecovery:\n  max_retries: 9\n  backoff_seconds: 0\n');
  const config = loadOrchestratorConfig(join(dir, 'o.yaml'), {});
  t.equal(config.orchestrator.data_dir, join(dir, 'd'));
  t.equal(config.orchestrator.log_dir, join(dir, 'logs'));
  t.equal(config.database.path, join(dir, 'd', 'registry.db'), 'database defaults under data_dir');
  t.equal(config.orchestrator.host, '127.0.0.1', 'loopback by default');
  const { spec } = parseServiceInput({ id: 'x', executable: 'sleep 1', working_dir: 'sub' }, serviceDefaults(config), dir);
  t.equal(spec!.health.interval_seconds, 7);
  t.equal(spec!.health.timeout_seconds, 2);
  t.equal(spec!.restart_policy.max_retries, 9);
  t.equal(spec!.restart_policy.backoff_seconds, 0, 'backoff 0 is allowed');
  t.equal(spec!.working_dir, join(dir, 'sub'));
  t.same(spec!.environment, {});
});

t.test('environment overrides: ORCHESTRATOR_PORT and ORCHESTRATOR_API_KEY', async (t) => {
  const config = loadOrchestratorConfig(undefined, { ORCHESTRATOR_PORT: '9123', ORCHESTRATOR_API_KEY: 'sekret' });
  t.equal(config.orchestrator.port, 9123);
  t.equal(config.api.api_key, 'sekret');
  t.throws(() => loadOrchestratorConfig(undefined, { ORCHESTRATOR_PORT: 'eighty' }), ConfigError);
});

t.test('a bad orchestrator config is refused with positions', async (t) => {
  const dir = tmp();
  writeFileSync(join(dir, 'o.yaml'), 'orchestrator:\n  port: 99999\nmonitoring:\n  interval: -1\n');
  try {
    loadOrchestratorConfig(join(dir, 'o.yaml'), {});
    t.fail('should throw');
  } catch (e) {
    t.type(e, ConfigError);
    t.match((e as Error).message, /o\.yaml:2:3 orchestrator\.port: expected a port number 0-65535, got 99999/);
    t.match((e as Error).message, /o\.yaml:4:3 monitoring\.interval: expected a positive health check interval in seconds, got -1/);
  }
});

t.test('API input errors carry field paths (no file)', async (t) => {
  const defaults = serviceDefaults(loadOrchestratorConfig(undefined, {}));
  const r = parseServiceInput({ id: '../etc', executable: 'x', environment: { 'BAD-NAME': 1 }, depends_on: 'db' }, defaults, '/');
  t.same(r.problems.map((p) => p.field).sort(), ['depends_on', 'environment.BAD-NAME', 'id']);
  t.notOk(r.problems.some((p) => p.file), 'no file for API input');
  const ext = parseServiceInput({ id: 'ext', external: true }, defaults, '/');
  t.ok(ext.spec, 'an external service may omit executable');
  const noExec = parseServiceInput({ id: 'x' }, defaults, '/');
  t.same(noExec.problems.map((p) => p.field), ['executable']);
});

t.test('dependencies: unknown ids and cycles are rejected, with everything that depends on them', async (t) => {
  const specs = [
    makeSpec({ id: 'a', depends_on: ['b'] }), makeSpec({ id: 'b', depends_on: ['a'] }),
    makeSpec({ id: 'c', depends_on: ['nope'] }), makeSpec({ id: 'd', depends_on: ['c'] }),
    makeSpec({ id: 'e' }), makeSpec({ id: 'f', depends_on: ['e'] }),
  ];
  const r = checkDependencies(specs);
  t.same(r.specs.map((s) => s.id), ['e', 'f']);
  const text = r.problems.map((p) => `${p.field}: ${p.message}`);
  t.ok(text.some((m) => /unknown service "nope"/.test(m)));
  t.ok(text.some((m) => /depends on "c", which was rejected/.test(m)));
  t.ok(text.some((m) => /dependency cycle: a -> b -> a|dependency cycle: b -> a -> b/.test(m)));
});
