/**
 * Loading and validating configuration files. YAML is parsed keeping source positions so every
 * problem points at file:line:col and names the field, e.g.
 *   services/bad.yaml:4:3 restart_policy.max_retries: expected a non-negative integer, got "three"
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import * as v from 'valibot';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import {
  HTTP_ENGINES, orchestratorConfigSchema, serviceSchema,
  type OrchestratorConfig, type ServiceDefaults, type ServiceSource, type ServiceSpec,
} from './schema.js';

export interface Problem {
  file?: string;
  line?: number;
  col?: number;
  /** Dotted field path ("restart_policy.max_retries", "depends_on[1]"); empty for the whole document. */
  field: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: Problem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}

export function formatProblem(p: Problem): string {
  const where = p.file ? `${displayPath(p.file)}${p.line ? `:${p.line}:${p.col ?? 1}` : ''} ` : '';
  return `${where}${p.field ? `${p.field}: ` : ''}${p.message}`;
}

interface YamlSource {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
}

type PathKey = string | number;

function pathOf(issue: v.BaseIssue<unknown>): PathKey[] {
  return (issue.path ?? []).map((item) => item.key as PathKey);
}

function fieldOf(keys: PathKey[]): string {
  return keys.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${k}` : k), '');
}

/**
 * Position of the field a path names: the key of its mapping entry (so `4:3` points at
 * `max_retries:`), a list item itself, or, for a missing key, the parent mapping.
 */
function locate(src: YamlSource, keys: PathKey[]): { line: number; col: number } | undefined {
  let node: unknown = src.doc.contents;
  let best: Node | undefined = node as Node | undefined;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === k);
      if (!pair) break;
      if (i === keys.length - 1 && isScalar(pair.key)) { best = pair.key; break; }
      node = pair.value;
    } else if (isSeq(node) && typeof k === 'number') {
      node = node.items[k];
    } else break;
    if (node && typeof node === 'object' && 'range' in node) best = node as Node;
    else break;
  }
  const offset = best?.range?.[0];
  if (offset === undefined) return undefined;
  const pos = src.lines.linePos(offset);
  return { line: pos.line, col: pos.col };
}

export function issuesToProblems(issues: v.BaseIssue<unknown>[], src?: YamlSource, file?: string): Problem[] {
  return issues.map((issue) => {
    const keys = pathOf(issue);
    const pos = src ? locate(src, keys) : undefined;
    return { file: file ?? src?.file, line: pos?.line, col: pos?.col, field: fieldOf(keys), message: issue.message };
  });
}

function readYaml(file: string): { src?: YamlSource; value?: unknown; problems: Problem[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { problems: [{ file, field: '', message: `cannot read file: ${(e as Error).message}` }] };
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((err) => {
        const pos = lines.linePos(err.pos[0]);
        return { file, line: pos.line, col: pos.col, field: '', message: err.message.split('\n')[0]! };
      }),
    };
  }
  return { src: { file, doc, lines }, value: doc.toJS() ?? {}, problems: [] };
}

// ---------------------------------------------------------------------------------------------

const ENV_OVERRIDES: Array<[string, (raw: Record<string, any>, value: string) => string | undefined]> = [
  ['ORCHESTRATOR_PORT', (raw, value) => {
    const port = Number(value);
    if (!/^\d+$/.test(value) || port > 65535) return `expected a port number 0-65535, got "${value}"`;
    (raw.orchestrator ??= {}).port = port;
    return undefined;
  }],
  ['ORCHESTRATOR_HOST', (raw, value) => { (raw.orchestrator ??= {}).host = value; return undefined; }],
  ['ORCHESTRATOR_HTTP_ENGINE', (raw, value) => {
    if (!(HTTP_ENGINES as readonly string[]).includes(value)) return `expected one of ${HTTP_ENGINES.join(', ')}, got "${value}"`;
    (raw.orchestrator ??= {}).http_engine = value;
    return undefined;
  }],
  ['ORCHESTRATOR_API_KEY', (raw, value) => { (raw.api ??= {}).api_key = value === '' ? null : value; return undefined; }],
];

/**
 * Load config/orchestrator.yaml (or defaults when file is undefined). Relative paths resolve
 * against the file's folder; ORCHESTRATOR_PORT / ORCHESTRATOR_HOST / ORCHESTRATOR_HTTP_ENGINE /
 * ORCHESTRATOR_API_KEY override.
 */
export function loadOrchestratorConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): OrchestratorConfig {
  let raw: Record<string, any> = {};
  let src: YamlSource | undefined;
  const abs = file ? resolve(file) : undefined;
  if (abs) {
    const read = readYaml(abs);
    if (read.problems.length) throw new ConfigError(read.problems);
    src = read.src;
    if (read.value === null || typeof read.value !== 'object' || Array.isArray(read.value)) {
      throw new ConfigError([{ file: abs, line: 1, col: 1, field: '', message: 'expected a mapping at the top level' }]);
    }
    raw = read.value as Record<string, any>;
  }
  const envProblems: Problem[] = [];
  for (const [name, apply] of ENV_OVERRIDES) {
    const value = env[name];
    if (value === undefined) continue;
    const err = apply(raw, value);
    if (err) envProblems.push({ field: `environment ${name}`, message: err });
  }
  if (envProblems.length) throw new ConfigError(envProblems);

  const baseDir = abs ? dirname(abs) : process.cwd();
  const result = v.safeParse(orchestratorConfigSchema(baseDir, env), raw);
  if (!result.success) throw new ConfigError(issuesToProblems(result.issues, src, abs));
  const out = result.output;
  const dupes = duplicateSinkNames(out.alerts, src, abs);
  if (dupes.length) throw new ConfigError(dupes);
  const dbPath = out.database.path ? resolve(baseDir, out.database.path) : join(out.orchestrator.data_dir, 'registry.db');
  return { ...out, database: { path: dbPath }, file: abs, baseDir };
}

/** Alert sink names are how the API and CLI address a sink: one each. */
function duplicateSinkNames(sinks: Array<{ name: string }>, src: YamlSource | undefined, file: string | undefined): Problem[] {
  const first = new Map<string, number>();
  const problems: Problem[] = [];
  sinks.forEach((s, i) => {
    const before = first.get(s.name);
    if (before === undefined) { first.set(s.name, i); return; }
    const pos = src ? locate(src, ['alerts', i, 'name']) : undefined;
    const at = src ? locate(src, ['alerts', before, 'name']) : undefined;
    problems.push({ file, line: pos?.line, col: pos?.col, field: `alerts[${i}].name`, message: `duplicate alert sink name "${s.name}", already used by alerts[${before}]${at ? ` (line ${at.line})` : ''}` });
  });
  return problems;
}

export function serviceDefaults(config: OrchestratorConfig): ServiceDefaults {
  return { monitoring: config.monitoring, recovery: config.recovery };
}

function finishSpec(spec: v.InferOutput<ReturnType<typeof serviceSchema>>, source: ServiceSource, file?: string): ServiceSpec {
  return { ...spec, name: spec.name ?? spec.id, stop: spec.stop as ServiceSpec['stop'], source, ...(file ? { file } : {}) };
}

/** Validate a service definition from the API (or any parsed object). Problems carry field paths, no positions. */
export function parseServiceInput(
  input: unknown, defaults: ServiceDefaults, baseDir: string, source: ServiceSource = 'api',
): { spec?: ServiceSpec; problems: Problem[] } {
  const result = v.safeParse(serviceSchema(defaults, baseDir), input);
  if (!result.success) return { problems: issuesToProblems(result.issues) };
  return { spec: finishSpec(result.output, source), problems: [] };
}

export interface LoadedServices {
  specs: ServiceSpec[];
  problems: Problem[];
}

/**
 * Read every services/*.yaml. A bad file is reported and skipped; the rest load. Duplicate ids
 * are reported naming both files (the first one wins).
 */
export function loadServiceFiles(dir: string, defaults: ServiceDefaults): LoadedServices {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /\.ya?ml$/i.test(n) && !n.startsWith('.')).sort();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') return { specs: [], problems: [] };
    return { specs: [], problems: [{ file: dir, field: '', message: `cannot read services folder: ${err.message}` }] };
  }
  const specs: ServiceSpec[] = [];
  const problems: Problem[] = [];
  const seen = new Map<string, { file: string; line?: number }>();
  for (const name of names) {
    const file = join(dir, name);
    const read = readYaml(file);
    if (read.problems.length) { problems.push(...read.problems); continue; }
    const result = v.safeParse(serviceSchema(defaults, dir), read.value);
    if (!result.success) { problems.push(...issuesToProblems(result.issues, read.src)); continue; }
    const spec = finishSpec(result.output, 'file', file);
    const first = seen.get(spec.id);
    const pos = locate(read.src!, ['id']);
    if (first) {
      problems.push({
        file, line: pos?.line, col: pos?.col, field: 'id',
        message: `duplicate id "${spec.id}", already defined in ${displayPath(first.file)}${first.line ? `:${first.line}` : ''}; this file is skipped`,
      });
      continue;
    }
    seen.set(spec.id, { file, line: pos?.line });
    specs.push(spec);
  }
  return { specs, problems };
}

/**
 * Cross-service checks: every depends_on names a known service, and there is no cycle.
 * Returns the specs that pass and problems for those that do not (a service depending on a
 * rejected one is rejected too, so nothing waits forever on a dependency that cannot start).
 */
export function checkDependencies(specs: ServiceSpec[]): { specs: ServiceSpec[]; problems: Problem[] } {
  const byId = new Map(specs.map((s) => [s.id, s]));
  const problems: Problem[] = [];
  const rejected = new Set<string>();
  let changed = true;
  while (changed) {
    changed = false;
    for (const s of specs) {
      if (rejected.has(s.id)) continue;
      const bad = s.depends_on.findIndex((d) => !byId.has(d) || rejected.has(d) || d === s.id);
      if (bad >= 0) {
        const dep = s.depends_on[bad]!;
        const why = dep === s.id ? 'a service cannot depend on itself'
          : rejected.has(dep) ? `depends on "${dep}", which was rejected` : `unknown service "${dep}"`;
        problems.push({ file: s.file, field: `depends_on[${bad}]`, message: why });
        rejected.add(s.id);
        changed = true;
      }
    }
  }
  // Cycle detection (DFS colouring) over what is left.
  const colour = new Map<string, 0 | 1 | 2>();
  const visit = (id: string, trail: string[]): void => {
    if (rejected.has(id)) return;
    const c = colour.get(id) ?? 0;
    if (c === 2) return;
    if (c === 1) {
      const cycle = trail.slice(trail.indexOf(id));
      for (const member of cycle) {
        if (rejected.has(member)) continue;
        rejected.add(member);
        problems.push({
          file: byId.get(member)?.file, field: 'depends_on',
          message: `dependency cycle: ${[...cycle, id].join(' -> ')}`,
        });
      }
      return;
    }
    colour.set(id, 1);
    for (const d of byId.get(id)?.depends_on ?? []) visit(d, [...trail, id]);
    colour.set(id, 2);
  };
  for (const s of specs) visit(s.id, []);
  return { specs: specs.filter((s) => !rejected.has(s.id)), problems };
}
