/**
 * Guard: no file under test/ imports a test file (*.test.ts). tap runs every test file on its own;
 * a test file imported by another one runs its tests a second time inside the importer (this once
 * happened: actors/host.test.ts imported actors/runtime.test.ts). What tests share goes in a helper
 * (test/helpers/, or a non-test module beside the tests such as test/http/lib.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import t from 'tap';
import { ROOT } from '../helpers/process.mjs';

const TEST_DIR = join(ROOT, 'test');
const SOURCE = /\.(?:[cm]?[jt]s|tsx)$/;

/** Module specifiers as they appear in import/export-from, side-effect imports, import() and require(). */
const SPECIFIER = /\b(?:from|import|require)\s*\(?\s*(['"`])([^'"`\n]+)\1/g;
/** A test file, named with or without its extension, as .ts or as the .js that NodeNext imports use. */
const TEST_FILE = /\.test(?:\.[cm]?[jt]s)?$/;

/** Each line of `src` that imports a test file, as "file:line: imports spec". */
function violations(file: string, src: string): string[] {
  const found: string[] = [];
  src.split('\n').forEach((text, n) => {
    for (const m of text.matchAll(SPECIFIER)) if (TEST_FILE.test(m[2]!)) found.push(`${file}:${n + 1}: imports ${m[2]}`);
  });
  return found;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'fixtures' ? [] : filesUnder(join(dir, e.name));
    return SOURCE.test(e.name) ? [join(dir, e.name)] : [];
  });
}

t.test('the checker finds every form of importing a test file', async (t) => {
  const T = '.test'; // spelled apart, so that this file does not match its own rule
  const sample = [
    `import './runtime${T}.js';`,
    `import { world } from '../actors/runtime${T}.ts';`,
    `export * from './a${T}.mjs';`,
    `const m = await import('./b${T}.js');`,
    `const c = require("./c${T}");`,
  ].join('\n');
  t.same(violations('x.ts', sample), [
    'x.ts:1: imports ./runtime.test.js',
    'x.ts:2: imports ../actors/runtime.test.ts',
    'x.ts:3: imports ./a.test.mjs',
    'x.ts:4: imports ./b.test.js',
    'x.ts:5: imports ./c.test',
  ]);
  t.same(violations('y.ts', "import { h } from '../helpers/harness.js';\nimport t from 'tap';\nimport { x } from './test-lib.js';"), [], 'helpers are fine');
});

t.test('no file under test/ imports a test file', async (t) => {
  const files = filesUnder(TEST_DIR);
  t.ok(files.length >= 50, `${files.length} files checked`);
  const found = files.flatMap((f) => violations(relative(ROOT, f), readFileSync(f, 'utf8')));
  t.same(found, [], found.length ? `a test file imported by another runs twice; move what they share to a helper:\n${found.join('\n')}` : 'none');
});
