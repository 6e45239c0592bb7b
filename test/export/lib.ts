/**
 * Shared by the export tests: the two fleets (the repo's example services/ and the test fleet in
 * fixtures/export/ that uses every service key), exporting them with a fixed PATH search and
 * orchestrator command line (so snapshots do not depend on this machine), byte-for-byte snapshots
 * under fixtures/export/expected/ (UPDATE_SNAPSHOTS=1 rewrites them), `systemd-analyze verify` on
 * the units and kubernetes-models validation of every manifest.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import type { Test } from 'tap';
import { parseAllDocuments } from 'yaml';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { contextOf, exportFleet, loadForExport, renderReport, type ExportOptions, type ExportResult } from '../../src/export/index.js';
import { ROOT } from '../helpers/process.mjs';

export const REPO = ROOT.replace(/\/$/, '');
export const FLEET_CONFIG = join(REPO, 'test/fixtures/export/config/orchestrator.yaml');
export const EXAMPLE_CONFIG = join(REPO, 'config/orchestrator.yaml');
export const EXPECTED = join(REPO, 'test/fixtures/export/expected');
const UPDATE = process.env.UPDATE_SNAPSHOTS === '1';

type T = Test;

/** Where the repo is checked out is not part of the output under test. */
export const normalise = (text: string) => text.split(REPO).join('/REPO');

/** The export as a snapshot sees it: fixed PATH search, fixed orchestrator command line. */
export function exportFor(config: string, opts: Omit<ExportOptions, 'which'> & { realWhich?: boolean }): { result: ExportResult; report: string } {
  const { config: cfg, specs } = loadForExport(config);
  const ctx = { ...contextOf(cfg), self: { node: '/usr/bin/node', script: '/opt/orchestrator/bin/orchestrator.js', nodeFlags: ['--max-semi-space-size=2'] } };
  const result = exportFleet(specs, ctx, { ...opts, ...(opts.realWhich ? {} : { which: (n: string) => `/usr/bin/${n}` }) });
  return { result, report: renderReport(result, relative(REPO, config)) };
}

function listFiles(dir: string, base = dir): string[] {
  let out: string[] = [];
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(listFiles(p, base));
    else out.push(relative(base, p));
  }
  return out.sort();
}

/** The files (and the report) equal, byte for byte, the ones under expected/<name>/. */
export function snapshot(t: T, name: string, files: Record<string, string>): void {
  const dir = join(EXPECTED, name);
  const want = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, normalise(v)]));
  if (UPDATE) {
    rmSync(dir, { recursive: true, force: true });
    writeFiles(dir, want);
    t.comment(`snapshot ${name} rewritten`);
  }
  t.same(listFiles(dir), Object.keys(want).sort(), `${name}: the same file names as the snapshot`);
  for (const [file, text] of Object.entries(want)) {
    let expected = '';
    try { expected = readFileSync(join(dir, file), 'utf8'); } catch { /* reported as a difference */ }
    t.equal(text, expected, `${name}/${file} equals the snapshot byte for byte (UPDATE_SNAPSHOTS=1 to rewrite)`);
  }
}

export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
}

export function tempDir(t: T): string {
  const dir = mkdtempSync(join(tmpdir(), 'orch-export-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * systemd-analyze verify on every unit (each template through its instance 0 too): it must exit 0
 * and say nothing — it only warns (exit 0) about unknown keys or a bad OnCalendar=.
 */
export function verifyUnits(t: T, files: Record<string, string>): void {
  const dir = tempDir(t);
  writeFiles(dir, files);
  const units = Object.keys(files).filter((f) => /\.(service|timer|target)$/.test(f) && !f.includes('/'));
  const instances = units.filter((u) => u.endsWith('@.service')).map((u) => u.replace('@.service', '@0.service'));
  const run = spawnSync('systemd-analyze', ['verify', '--man=no', ...[...units, ...instances].map((u) => join(dir, u))], { encoding: 'utf8', cwd: dir });
  t.equal(run.status, 0, `systemd-analyze verify exits 0 for ${units.length} units`);
  t.equal(run.stderr, '', 'systemd-analyze verify has nothing to say');
}

export function systemdVersion(): number {
  return Number(/systemd (\d+)/.exec(execFileSync('systemctl', ['--version'], { encoding: 'utf8' }))?.[1] ?? 0);
}

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'apps/v1 Deployment': Deployment, 'batch/v1 Job': Job, 'batch/v1 CronJob': CronJob, 'v1 Service': Service, 'v1 ConfigMap': ConfigMap,
};
const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** Every document of every manifest file, validated against the Kubernetes API schemas; returns them. */
export function validateManifests(t: T, files: Record<string, string>): Array<Record<string, any>> {
  const objects: Array<Record<string, any>> = [];
  for (const [name, text] of Object.entries(files)) {
    for (const doc of parseAllDocuments(text)) {
      t.same(doc.errors, [], `${name}: parses`);
      const obj = doc.toJS() as Record<string, any>;
      const Model = MODELS[`${obj.apiVersion} ${obj.kind}`];
      t.ok(Model, `${name}: ${obj.apiVersion} ${obj.kind} is a kind we validate`);
      let problem = '';
      try { new Model!(obj).validate(); } catch (e) { problem = (e as Error).message; }
      t.equal(problem, '', `${name}: ${obj.kind} ${obj.metadata?.name} validates`);
      t.ok(obj.metadata.name.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(obj.metadata.name), `${obj.metadata.name} is a DNS-1123 label`);
      if (obj.kind === 'Service') t.ok(DNS_LABEL.test(obj.metadata.name), `Service ${obj.metadata.name} is a DNS-1035 label`);
      objects.push(obj);
    }
  }
  return objects;
}
