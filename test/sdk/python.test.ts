/**
 * The Python SDK's own tests (sdk/python/tests, stdlib unittest, against a real orchestrator they
 * start from this checkout's bin/orchestrator.js) run from here, one tap assertion per Python test,
 * so CI counts them. Its pyproject.toml is read by setuptools (the build backend it names). Where
 * a wheel can be built offline (pip, setuptools and wheel installed), the package is installed the
 * way a user would, `pip install` of sdk/python into a temporary folder, and the tests import
 * orchestrator_sdk from there; otherwise (CI's machine: no `wheel`) that is a skip and the tests
 * import sdk/python itself.
 * Needs `npm run build` first (`npm test` does it).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from '../helpers/process.mjs';

const SDK = join(ROOT, 'sdk', 'python');
const work = mkdtempSync(join(tmpdir(), 'orch-py-sdk-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

// Runs the suite and prints one JSON line: every test's id and how it ended (ok, fail, error, skip).
const RUNNER = `
import json, sys, unittest
suite = unittest.defaultTestLoader.discover(sys.argv[1], top_level_dir=sys.argv[1])
ids = []
def walk(s):
    for x in s:
        walk(x) if isinstance(x, unittest.TestSuite) else ids.append(x.id())
walk(suite)
result = unittest.TestResult()
suite.run(result)
out = {i: {"status": "ok", "detail": ""} for i in ids}
for kind, items in (("fail", result.failures), ("error", result.errors), ("skip", result.skipped)):
    for test, detail in items:
        out[test.id()] = {"status": kind, "detail": detail}
print(json.dumps(out))
`;

let importFrom = SDK;
const hasIn = (python: string, module: string) => spawnSync(python, ['-c', `import ${module}`]).status === 0;
const has = (module: string) => hasIn('python3', module);
/**
 * The Python that can build and install a wheel offline: python3 on PATH, else Debian's own
 * (apt-get install python3-pip python3-wheel; .ci/run does) when PATH's is another (pyenv).
 */
const pipPython = ['python3', '/usr/bin/python3'].find((py) => ['pip', 'setuptools', 'wheel'].every((m) => hasIn(py, m)));

t.test('sdk/python/pyproject.toml as setuptools reads it', async (t) => {
  if (!has('setuptools')) return void t.pass('pyproject.toml', { skip: 'no setuptools for python3 here' });
  const r = spawnSync('python3', ['-W', 'ignore', '-c', `import json
from setuptools.config.pyprojecttoml import read_configuration
c = read_configuration("pyproject.toml")
print(json.dumps({"project": c["project"], "modules": c["tool"]["setuptools"]["py-modules"]}))`], { cwd: SDK, encoding: 'utf8' });
  t.equal(r.status, 0, `valid for setuptools\n${r.stderr}`);
  const { project, modules } = JSON.parse(r.stdout) as { project: Record<string, unknown>; modules: string[] };
  t.match(project, { name: 'agent-orchestrator-sdk', 'requires-python': '>=3.9', dependencies: [] }, 'standard library only, Python 3.9+');
  const module = spawnSync('python3', ['-c', 'import orchestrator_sdk; print(orchestrator_sdk.__version__)'], { cwd: SDK, encoding: 'utf8' });
  t.equal(project.version, module.stdout.trim(), 'the version is the module\'s __version__');
  t.same(modules, ['orchestrator_sdk'], 'one module, no tests');
});

// Building a wheel needs the `wheel` package besides setuptools 65 (setuptools >= 70 has it built in).
if (pipPython) {
  t.test('pip install sdk/python', async (t) => {
    // From a copy, so the build's egg-info and build/ folders stay out of the checkout.
    const source = join(work, 'source');
    cpSync(SDK, source, { recursive: true, filter: (f) => !f.includes('__pycache__') });
    const target = join(work, 'site');
    const r = spawnSync(pipPython, ['-m', 'pip', 'install', '--no-index', '--no-build-isolation', '--no-deps', '--disable-pip-version-check', '--target', target, source],
      { encoding: 'utf8', env: { ...process.env, PIP_NO_INPUT: '1' } });
    t.equal(r.status, 0, r.status === 0 ? 'pip install of sdk/python (offline)' : `pip install\n${r.stdout}${r.stderr}`);
    const installed = existsSync(target) ? readdirSync(target) : [];
    t.ok(installed.includes('orchestrator_sdk.py'), 'the module is installed');
    t.ok(installed.includes('agent_orchestrator_sdk-0.1.0.dist-info'), `with its metadata: ${installed.join(', ')}`);
    t.notOk(installed.includes('tests'), 'the tests are not installed as a package');
    importFrom = target;
  });
} else {
  t.pass('pip install of sdk/python', { skip: 'needs pip, setuptools and wheel for python3 (apt-get install python3-pip python3-wheel); the tests import sdk/python itself' });
}

t.test('sdk/python/tests (unittest) against a real orchestrator', async (t) => {
  t.ok(existsSync(join(ROOT, 'dist', 'cli.js')), 'the orchestrator is built');
  const r = spawnSync('python3', ['-c', RUNNER, join(SDK, 'tests')], {
    cwd: work, encoding: 'utf8', timeout: 170_000,
    env: { ...process.env, PYTHONPATH: importFrom, ORCHESTRATOR_SDK_EXPECTED_DIR: importFrom, NODE: process.execPath, PYTHONDONTWRITEBYTECODE: '1' },
  });
  t.equal(r.status, 0, `the runner ran\n${r.stderr}`);
  const results = JSON.parse(r.stdout.trim().split('\n').pop() || '{}') as Record<string, { status: string; detail: string }>;
  const ids = Object.keys(results);
  t.ok(ids.length >= 5, `${ids.length} Python tests found`);
  for (const id of ids) {
    const { status, detail } = results[id]!;
    if (status === 'skip') t.pass(id, { skip: detail });
    else t.equal(status, 'ok', id, { detail });
  }
});
