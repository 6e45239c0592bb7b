/**
 * The shapes every exporter shares: what an export is asked (ExportOptions), what it answers
 * (files by relative name, and one ServiceReport per service), and the Recorder an exporter uses to
 * say, key by key, whether a service file setting mapped exactly, approximately (how) or was
 * dropped (why). A service an exporter cannot express at all is `refused`, with the reason.
 */
import { relative as relativePath } from 'node:path';
import type { OrchestratorConfig, ServiceSpec } from '../config/schema.js';

export const TARGETS = ['systemd', 'kubernetes'] as const;
export type Target = (typeof TARGETS)[number];

export type Outcome = 'exact' | 'approximate' | 'dropped';

export interface Mapping {
  /** The service file key ("restart_policy.backoff_seconds"). */
  key: string;
  outcome: Outcome;
  /** What it became (exact, approximate) or why it was dropped. */
  detail: string;
}

export interface ServiceReport {
  id: string;
  /** The service file, relative to the config folder (or "(registered over the API)"). */
  source: string;
  /** Files written for this service. */
  files: string[];
  mappings: Mapping[];
  /** Set when nothing was generated for the service, saying why. */
  refused?: string;
  /** Refused by its nature, not by a problem (an external service): no error. */
  skipped?: boolean;
}

export interface ExportOptions {
  target: Target;
  /** Only these service ids (default: all). An unknown id is an error of the caller. */
  ids?: string[];
  /** kubernetes: the image of every service that names none itself. */
  image?: string;
  /** systemd: also a unit for the orchestrator itself. */
  self?: boolean;
  /**
   * systemd: the oldest systemd release the units must work on (default 252, Debian 12).
   * RestartSteps= and RestartMaxDelaySec= are emitted from 254 on.
   */
  systemdVersion?: number;
  /** Resolve a bare executable name to an absolute path (default: a PATH search); null when not found. */
  which?: (name: string) => string | null;
}

export interface ExportContext {
  /** The config file the specs were loaded with, and its folder (paths in headers are relative to it). */
  configFile?: string;
  baseDir: string;
  supervision: OrchestratorConfig['supervision'];
  /** The orchestrator's own command line (systemd --self): node, its flags, the bin script. */
  self?: { node: string; script: string; nodeFlags: string[] };
}

export interface ExportResult {
  target: Target;
  /** Relative file name → contents; names sorted. */
  files: Record<string, string>;
  services: ServiceReport[];
  /** Notes that concern the whole export (not one service). */
  notes: string[];
}

/** Collects the mappings of one service, in the order they are decided. */
export class Recorder {
  readonly mappings: Mapping[] = [];
  exact(key: string, detail: string): void { this.mappings.push({ key, outcome: 'exact', detail }); }
  approx(key: string, detail: string): void { this.mappings.push({ key, outcome: 'approximate', detail }); }
  drop(key: string, detail: string): void { this.mappings.push({ key, outcome: 'dropped', detail }); }
}

/** Thrown by an exporter for a service it cannot express; the export goes on with the others. */
export class Refusal extends Error {
  constructor(message: string, readonly skip = false) { super(message); }
}

export const EXTERNAL = 'an external service registers itself and is not started by the orchestrator: there is nothing to run';

/** "1.5" → 1.5 s as systemd writes a time span; whole seconds stay whole. */
export function seconds(n: number): string {
  return `${Number.isInteger(n) ? n : Number(n.toFixed(3))}s`;
}

/** The delays of our backoff for `retries` retries (no jitter): base, ×2, … capped at max. */
export function backoffDelays(spec: ServiceSpec, retries: number): number[] {
  const { backoff_seconds: base, max_backoff_seconds: max } = spec.restart_policy;
  return Array.from({ length: retries }, (_, i) => Math.min(base * 2 ** i, Math.max(max, base)));
}

/** Keys that change what a service does but have no counterpart on either target. */
export function commonDrops(spec: ServiceSpec, ctx: ExportContext, r: Recorder, target: Target): void {
  const group = ctx.supervision.groups[spec.group];
  const strategy = group?.strategy ?? ctx.supervision.strategy;
  const intensity = group ? group.intensity : ctx.supervision.intensity;
  const lost = [
    ...(strategy !== 'one_for_one' ? [`the ${strategy} strategy (restarting siblings with a service)`] : []),
    ...(intensity !== undefined ? [`the restart intensity (${intensity} in ${group?.period_seconds ?? ctx.supervision.period_seconds} s)`] : []),
  ];
  if (lost.length) r.drop('group', `${lost.join(' and ')} of group "${spec.group}" ${lost.length > 1 ? 'have' : 'has'} no ${target} equivalent; each service restarts on its own`);
  if (spec.silence) r.drop('silence', `no ${target} equivalent: nothing watches a service's output for silence (${spec.silence.action} after ${spec.silence.timeout_seconds} s is lost)`);
  const t = spec.throttle;
  r.drop('throttle', `a throttled exit (code ${t.exit_codes.join(', ')}) is an ordinary failure to ${target}: it is restarted after the usual delay and spends a retry; POST …/throttle has no counterpart`);
  if (spec.api_endpoint) r.drop('api_endpoint', 'informational (shown by the orchestrator); nothing to run');
  if (spec.type !== 'service') r.drop('type', `informational label "${spec.type}"`);
}

/** Where a spec came from, as headers and the report name it: its file relative to the config folder. */
export function sourceOf(spec: ServiceSpec, baseDir: string): string {
  if (!spec.file) return '(registered over the API)';
  return relativePath(baseDir, spec.file) || spec.file;
}

/** The header every generated file starts with (no time stamp: the same input gives the same bytes). */
export function headerLines(name: string, source: string): string[] {
  return [`${name}: generated by orchestrator export from ${source}`, 'Edit the service file and export again rather than this file.'];
}
