/**
 * env_file and secrets in a service spec: shapes checked at load with file:line errors, relative
 * paths resolved against the service file's folder, and the spec as the API shows it ("***").
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatProblem, loadOrchestratorConfig, loadServiceFiles, parseServiceInput, serviceDefaults } from '../../src/config/load.js';
import { presentSpec } from '../../src/http/present.js';
import { maskLine, SecretMasks } from '../../src/os/secrets.js';

const defaults = serviceDefaults(loadOrchestratorConfig(undefined, {}));

function load(files: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'orch-secrets-config-'));
  mkdirSync(join(dir, 'services'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'services', name), text);
  const r = loadServiceFiles(join(dir, 'services'), defaults);
  return { dir: join(dir, 'services'), specs: r.specs, problems: r.problems.map(formatProblem) };
}

t.test('bad shapes are file:line errors naming the field', async (t) => {
  const r = load({
    'a.yaml': [
      'id: a',
      'executable: node x.js',
      'env_file: ./x.env',
      'secrets:',
      '  GOOD: {file: k.txt}',
      '  BOTH:',
      '    file: k.txt',
      '    env: HOME',
      '  "": {env: HOME}',
      '  1BAD: {env: HOME}',
      '  NONE: {}',
      '',
    ].join('\n'),
    'b.yaml': [
      'id: b',
      'executable: node x.js',
      'env_file: [a.env, 3]',
      'secrets:',
      '  K: {value: "the-value", file: a}',
      '  L: {env: "not a name"}',
      '',
    ].join('\n'),
    'c.yaml': 'id: c\nexecutable: node x.js\nsecrets: [a, b]\n',
  });
  t.same(r.specs, [], 'every file is rejected');
  const text = r.problems.join('\n');
  t.match(text, /a\.yaml:3:1 env_file: expected a list of file paths/);
  t.match(text, /a\.yaml:6:3 secrets\.BOTH: give exactly one of file, env and command/);
  t.match(text, /a\.yaml:\d+:\d+ secrets.*expected an environment variable name, got ""/, 'an empty name');
  t.match(text, /a\.yaml:\d+:\d+ secrets.*expected an environment variable name, got "1BAD"/, 'an invalid name');
  t.match(text, /a\.yaml:11:3 secrets\.NONE: give exactly one of file, env and command/);
  t.match(text, /b\.yaml:3:\d+ env_file\[1\]: expected a file path/);
  t.match(text, /b\.yaml:5:\d+ secrets\.K\.value: a secret's value is never written in a spec/);
  t.notMatch(text, /the-value/, 'a value written in the spec is not echoed back');
  t.match(text, /b\.yaml:6:\d+ secrets\.L\.env: expected an environment variable name/);
  t.match(text, /c\.yaml:3:\d+ secrets/, 'a list is not a mapping of secrets');
});

t.test('paths resolve against the service file folder; the API shows "***" and the source', async (t) => {
  const r = load({
    'a.yaml': 'id: a\nexecutable: node x.js\nenv_file: [common.env, /etc/abs.env]\nsecrets:\n  KEY: {file: secrets/k.txt}\n  TOKEN: {env: MY_TOKEN}\n  CMD: {command: "echo hi"}\nenvironment: {PLAIN: visible}\n',
  });
  t.same(r.problems, []);
  const spec = r.specs[0]!;
  t.same(spec.env_file, [join(r.dir, 'common.env'), '/etc/abs.env']);
  t.same(spec.secrets.KEY, { file: join(r.dir, 'secrets/k.txt') });
  const shown = presentSpec(spec);
  t.same(shown.secrets, {
    KEY: { value: '***', file: join(r.dir, 'secrets/k.txt') },
    TOKEN: { value: '***', env: 'MY_TOKEN' },
    CMD: { value: '***', command: 'echo hi' },
  });
  t.same(shown.environment, { PLAIN: 'visible' }, 'environment is not a secret');
  // What the API showed can be sent back as it is: the "***" is dropped.
  const { file: _file, ...input } = shown;
  const again = parseServiceInput({ ...input, id: 'a2' }, defaults, r.dir);
  t.same(again.problems, []);
  t.same(again.spec!.secrets, spec.secrets);
  // No env_file or secrets: empty, and shown as such.
  const plain = parseServiceInput({ id: 'p', executable: 'x' }, defaults, r.dir).spec!;
  t.same(plain.env_file, []);
  t.same(presentSpec(plain).secrets, {});
});

t.test('masking: 8+ characters, longest first, every occurrence; kept per service until forgotten', async (t) => {
  t.equal(maskLine('a sk-12345678 b sk-12345678', ['sk-12345678']), 'a *** b ***');
  const m = new SecretMasks();
  m.add('s', ['short', 'sk-12345678', 'sk-12345678-longer']);
  t.same(m.values('s'), ['sk-12345678-longer', 'sk-12345678'], 'a value under 8 characters is not masked');
  t.equal(m.mask('s', 'k=sk-12345678-longer short'), 'k=*** short');
  m.add('s', ['rotated-value']);
  t.equal(m.mask('s', 'old sk-12345678 new rotated-value'), 'old *** new ***', 'an earlier run\'s value stays masked');
  t.equal(m.mask('other', 'sk-12345678'), 'sk-12345678', 'per service');
  m.forget('s');
  t.same(m.values('s'), []);
});
