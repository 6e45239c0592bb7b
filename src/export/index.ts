/**
 * `orchestrator export`: the loaded, validated service specs as systemd units or Kubernetes
 * manifests, plus the report of what did not map. Pure over its input (no clock, no host state
 * except a PATH search the caller may replace), so the same specs give the same bytes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative as relativePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkDependencies, ConfigError, loadOrchestratorConfig, loadServiceFiles, serviceDefaults, type Problem } from '../config/load.js';
import type { OrchestratorConfig, ServiceSpec } from '../config/schema.js';
import { kubernetesService, objectName } from './kubernetes.js';
import { Recorder, Refusal, headerLines, seconds, sourceOf, type ExportContext, type ExportOptions, type ExportResult, type ServiceReport } from './model.js';
import { DEFAULT_SYSTEMD_VERSION, systemdService } from './systemd.js';
import { execWord, noSpec, renderUnit } from './unitfile.js';

export { renderReport } from './report.js';
export { TARGETS, type ExportOptions, type ExportResult, type Target } from './model.js';

/** What a service loses outside the orchestrator, whatever the target. */
const ENVIRONMENT_NOTE = (what: string, whose: string) =>
  `The environment of ${what} is ${whose}, not the orchestrator's: the variables a service inherits here are not there, nor ORCHESTRATOR_URL, ORCHESTRATOR_SERVICE_ID and ORCHESTRATOR_TOKEN — the SDK's heartbeat, throttle, drain and readiness calls have no orchestrator to reach.`;

export class UnknownServices extends Error {
  constructor(readonly ids: string[]) { super(`no such service: ${ids.join(', ')}`); }
}

export function exportFleet(specs: ServiceSpec[], ctx: ExportContext, opts: ExportOptions): ExportResult {
  const all = new Map(specs.map((s) => [s.id, s]));
  const unknown = (opts.ids ?? []).filter((id) => !all.has(id));
  if (unknown.length) throw new UnknownServices(unknown);
  const chosen = [...specs].filter((s) => !opts.ids?.length || opts.ids.includes(s.id)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const files: Record<string, string> = {};
  const services: ServiceReport[] = [];
  const names = new Map<string, string>();
  for (const spec of chosen) {
    const r = new Recorder();
    const report: ServiceReport = { id: spec.id, source: sourceOf(spec, ctx.baseDir), files: [], mappings: r.mappings };
    services.push(report);
    try {
      if (opts.target === 'kubernetes') {
        const name = objectName(spec);
        const taken = names.get(name);
        if (taken) throw new Refusal(`its Kubernetes name "${name}" is already the name of ${taken}`);
        names.set(name, spec.id);
      }
      const out = opts.target === 'systemd' ? systemdService(spec, all, ctx, opts, r) : kubernetesService(spec, all, ctx, opts, r);
      report.files = Object.keys(out).sort();
      Object.assign(files, out);
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      report.refused = e.message;
      if (e.skip) report.skipped = true;
      report.mappings.length = 0;
    }
  }
  const notes: string[] = [];
  if (opts.target === 'systemd') {
    const version = opts.systemdVersion ?? DEFAULT_SYSTEMD_VERSION;
    notes.push(ENVIRONMENT_NOTE('a unit', 'systemd\'s (its own PATH; User= and the like are not set: units run as root)'));
    notes.push(`Units for systemd ${version} or later.${version < 254 ? ' RestartSteps=/RestartMaxDelaySec= (our doubling backoff) need 254: pass --systemd-version 254 if every host has it.' : ''}`);
    if (opts.self) {
      files['orchestrator.service'] = selfUnit(specs, ctx);
      notes.push('orchestrator.service runs the orchestrator itself: KillMode=process and serve --keep-services, so a crash or a systemctl restart leaves the services running and the next start adopts them. systemctl stop leaves them running too (stop them with the CLI first when you mean to stop everything, or drop --keep-services from ExecStart to have every stop and restart stop them). Install either it or the service units for the same services, never both.');
    }
  } else {
    notes.push(ENVIRONMENT_NOTE('a pod', 'the image\'s'));
    notes.push('Objects of apps/v1, batch/v1 and v1 for Kubernetes 1.30 or later (the preStop sleep action). Secrets and env-file ConfigMaps are referenced, not generated: each service\'s table says how to create them.');
  }
  const sorted: Record<string, string> = {};
  for (const k of Object.keys(files).sort()) sorted[k] = files[k]!;
  return { target: opts.target, files: sorted, services, notes };
}

/** The orchestrator's own command line: this Node, its flags, bin/orchestrator.js of this package. */
export function selfCommand(): NonNullable<ExportContext['self']> {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === '@agent-orchestrator/orchestrator') break;
    dir = dirname(dir);
  }
  return { node: process.execPath, script: join(dir, 'bin', 'orchestrator.js'), nodeFlags: ['--max-semi-space-size=2'] };
}

function selfUnit(specs: ServiceSpec[], ctx: ExportContext): string {
  const self = ctx.self ?? selfCommand();
  const argv = [self.node, ...self.nodeFlags, self.script, 'serve', ...(ctx.configFile ? ['--config', ctx.configFile] : []), '--keep-services'];
  const stopAll = specs.reduce((sum, s) => sum + s.stop.timeout_seconds, 0) + 10;
  const source = ctx.configFile ? relativePath(ctx.baseDir, ctx.configFile) : '(defaults)';
  return renderUnit({
    header: headerLines('orchestrator.service', source),
    sections: [
      ['Unit', [['Description', 'Agent orchestrator'], ['Wants', 'network-online.target'], ['After', 'network-online.target']]],
      ['Service', [
        ['Type', 'simple'],
        ['ExecStart', argv.map((w) => execWord(w)).join(' ')],
        ['WorkingDirectory', noSpec(ctx.baseDir)],
        ['KillMode', 'process'],
        ['KillSignal', 'SIGTERM'],
        ['TimeoutStopSec', seconds(stopAll)],
        ['Restart', 'on-failure'],
        ['RestartSec', '2s'],
      ]],
      ['Install', [['WantedBy', 'multi-user.target']]],
    ],
  });
}

/** The config file and every service file, loaded and checked as `serve` loads them; problems are an error. */
export function loadForExport(configFile: string | undefined): { config: OrchestratorConfig; specs: ServiceSpec[] } {
  const file = configFile ?? (existsSync('config/orchestrator.yaml') ? 'config/orchestrator.yaml' : undefined);
  const config = loadOrchestratorConfig(file);
  const loaded = loadServiceFiles(config.orchestrator.services_dir, serviceDefaults(config));
  const checked = checkDependencies(loaded.specs);
  const problems: Problem[] = [...loaded.problems, ...checked.problems];
  if (problems.length) throw new ConfigError(problems);
  return { config, specs: checked.specs };
}

export function contextOf(config: OrchestratorConfig): ExportContext {
  return { configFile: config.file, baseDir: config.baseDir, supervision: config.supervision };
}

