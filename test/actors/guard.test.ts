/**
 * Guard: the actor logic stays pure. No file under src/actors/ imports a Node builtin (`node:*` or a
 * bare one like 'fs' or 'events') or reads the wall clock (Date.now(), new Date(), performance.now(),
 * process.hrtime): time reaches an actor only through its injected clock, so tests drive it by hand
 * and a clock jump changes nothing (DESIGN.md §2). Comments may name those freely; code may not.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ACTORS = join(ROOT, 'src', 'actors');

interface Violation { file: string; line: number; what: string }

const BUILTINS = new Set(builtinModules.map((m) => m.replace(/^node:/, '')));

/** Module specifiers as they appear in import/export-from, side-effect imports, import() and require(). */
const SPECIFIER = /\b(?:from|import|require)\s*\(?\s*(['"])([^'"\n]+)\1/g;

const CLOCK: Array<[RegExp, string]> = [
  [/\bDate\s*\.\s*now\s*\(/, 'reads the wall clock (Date.now())'],
  [/\bnew\s+Date\s*\(/, 'reads the wall clock (new Date())'],
  [/\bperformance\s*\.\s*now\s*\(/, 'reads a process clock (performance.now())'],
  [/\bprocess\s*\.\s*hrtime\b/, 'reads a process clock (process.hrtime)'],
];

/**
 * The source with its comments blanked out (line breaks kept, so line numbers hold). Strings and
 * template literals are skipped over whole, so a URL's // is not taken for a comment.
 */
function withoutComments(src: string): string {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    const next = src[i + 1];
    if (c === '/' && next === '/') {
      while (i < src.length && src[i] !== '\n') { out += ' '; i++; }
    } else if (c === '/' && next === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** What in `src` (the text of `file`) breaks the rule, one entry per finding, with its 1-based line. */
function violations(file: string, src: string): Violation[] {
  const found: Violation[] = [];
  const lines = withoutComments(src).split('\n');
  lines.forEach((text, n) => {
    for (const m of text.matchAll(SPECIFIER)) {
      const spec = m[2]!;
      if (spec.startsWith('node:')) found.push({ file, line: n + 1, what: `imports ${spec}` });
      else if (BUILTINS.has(spec)) found.push({ file, line: n + 1, what: `imports the Node builtin '${spec}'` });
    }
    for (const [re, what] of CLOCK) if (re.test(text)) found.push({ file, line: n + 1, what });
  });
  return found;
}

const format = (v: Violation) => `${v.file}:${v.line}: ${v.what}`;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

t.test('the checker finds each kind of violation, with its line', async (t) => {
  const sample = [
    "import { readFileSync } from 'node:fs';",
    "import type { MessagePort } from 'node:worker_threads';",
    "import { EventEmitter } from 'events';",
    "import 'fs/promises';",
    "export { setTimeout } from 'timers';",
    "const os = await import('node:os');",
    "const cp = require('child_process');",
    'const a = Date.now();',
    'const b = new Date();',
    'const c = performance.now();',
    'const d = process.hrtime.bigint();',
    'const e = Date . now ();',
  ].join('\n');
  t.same(violations('sample.ts', sample).map(format), [
    'sample.ts:1: imports node:fs',
    'sample.ts:2: imports node:worker_threads',
    "sample.ts:3: imports the Node builtin 'events'",
    "sample.ts:4: imports the Node builtin 'fs/promises'",
    "sample.ts:5: imports the Node builtin 'timers'",
    'sample.ts:6: imports node:os',
    "sample.ts:7: imports the Node builtin 'child_process'",
    'sample.ts:8: reads the wall clock (Date.now())',
    'sample.ts:9: reads the wall clock (new Date())',
    'sample.ts:10: reads a process clock (performance.now())',
    'sample.ts:11: reads a process clock (process.hrtime)',
    'sample.ts:12: reads the wall clock (Date.now())',
  ]);
});

t.test('the checker leaves pure code alone: relative and package imports, an injected clock, comments', async (t) => {
  const sample = [
    '/**',
    ' * Time comes from ctx.now, never Date.now() or new Date(); nothing from node:fs.',
    ' */',
    "import { addRestart } from './policy.js';",
    "import type { ServiceSpec } from '../config/schema.js';",
    "import { something } from 'events-lite';",
    'const now = ctx.now; // not Date.now()',
    'const t = this.env.clock.now();',
    "const url = 'http://localhost/health'; const later = updatedAt; /* new Date( */",
    'const text = `a ${"//"} b`; // performance.now()',
  ].join('\n');
  t.same(violations('pure.ts', sample), []);
});

t.test('no file under src/actors/ imports a Node builtin or reads the wall clock', async (t) => {
  const files = filesUnder(ACTORS);
  t.ok(files.length >= 7, `${files.length} files checked`);
  const found = files.flatMap((f) => violations(relative(ROOT, f), readFileSync(f, 'utf8')));
  t.same(found.map(format), [], found.length ? `actor logic must stay pure:\n${found.map(format).join('\n')}` : 'none');
});
