/**
 * The catalogue of service definitions: specs from service files and from the API, validated once,
 * kept here and in the registry's `services` table. It answers "is this change allowed and what
 * does it mean" (register, update, remove, reload diff) and never touches a process or an actor:
 * fleet.ts asks, then carries the change to the actors.
 *
 * Two levels: a definition is what a file or the API gave (`definition`, `definitions`); a unit
 * is what one actor supervises — the service itself, or one instance `<id>#n` of a replicated one
 * (fleet/replicas.ts). `get`, `has`, `require`, `all` and `size` answer units, since everything
 * below the fleet (actors, kernel, logs, views) works per process.
 */
import type { Want } from '../actors/protocol.js';
import {
  checkDependencies, loadServiceFiles, parseServiceInput, serviceDefaults, type Problem,
} from '../config/load.js';
import type { OrchestratorConfig, ServiceSpec } from '../config/schema.js';
import { conflict, invalid, notFound } from '../errors.js';
import type { ServiceTable } from '../store/services.js';
import { detectGpus, unitsOf, type UnitSpec } from './replicas.js';

/** Fields whose change needs a restart of a running service; anything else applies live. */
const RESTART_FIELDS: (keyof ServiceSpec)[] = ['executable', 'environment', 'env_file', 'secrets', 'working_dir'];

/** Time each dependency level gets on top of its stop timeout, and the whole stop on top of that. */
const STOP_LEVEL_SLACK_MS = 3_000;
const STOP_SLACK_MS = 5_000;

export function needsRestart(before: ServiceSpec, after: ServiceSpec): boolean {
  return RESTART_FIELDS.some((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}

/** What a service never commanded by an operator wants: up if it starts by itself or runs elsewhere. */
export function freshWant(spec: ServiceSpec): Want {
  // A job is started by its schedule (run_on_start for a run at once), never by auto_start.
  if (spec.schedule) return 'down';
  return spec.auto_start || spec.external ? 'up' : 'down';
}

/** A definition's units before and after a change (the fleet adds, updates and removes actors by it). */
export interface UnitChange {
  before: UnitSpec[];
  after: UnitSpec[];
}

export interface ReloadPlan {
  /** File services whose files are gone (a file that fails to parse keeps its service). */
  removed: ServiceSpec[];
  added: ServiceSpec[];
  changed: Array<{ spec: ServiceSpec; restart: boolean }>;
  problems: Problem[];
}

export class Catalog {
  /** Definitions, by service id. */
  private readonly specs = new Map<string, ServiceSpec>();
  /** Units (services and instances), by unit id, in definition order. */
  private readonly units = new Map<string, UnitSpec>();
  /** Each definition's units, derived once when it is kept. */
  private readonly unitsByService = new Map<string, UnitSpec[]>();
  /** GPUs nvidia-smi listed, asked once per load (only when a service says devices: auto). */
  private gpus: number[] | undefined;
  /** Problems found at the last load or reload. */
  problems: Problem[] = [];

  constructor(private readonly config: OrchestratorConfig, private readonly table: ServiceTable) {}

  /** A unit: a service, or an instance of a replicated one. */
  has(id: string): boolean {
    return this.units.has(id);
  }

  get(id: string): UnitSpec | undefined {
    return this.units.get(id);
  }

  /** The spec of a unit that must exist (404 otherwise). */
  require(id: string): UnitSpec {
    const spec = this.units.get(id);
    if (!spec) throw notFound(`service "${id}"`);
    return spec;
  }

  all(): IterableIterator<UnitSpec> {
    return this.units.values();
  }

  get size(): number {
    return this.units.size;
  }

  /** A service's definition, as configured (replicas and all). */
  definition(id: string): ServiceSpec | undefined {
    return this.specs.get(id);
  }

  requireDefinition(id: string): ServiceSpec {
    const spec = this.specs.get(id);
    if (!spec) throw notFound(`service "${id}"`);
    return spec;
  }

  definitions(): IterableIterator<ServiceSpec> {
    return this.specs.values();
  }

  /** The units of a definition as it stands now (none for an unknown id). */
  unitsOf(id: string): UnitSpec[] {
    return this.unitsByService.get(id) ?? [];
  }

  /** A definition that runs as instances (it declares `replicas`). */
  isReplicated(id: string): boolean {
    return this.specs.get(id)?.replicas !== undefined;
  }

  /** Service files plus the services registered over the API, checked together for dependencies. */
  load(): { specs: ServiceSpec[]; problems: Problem[] } {
    this.gpus = undefined;
    const defaults = serviceDefaults(this.config);
    const files = loadServiceFiles(this.config.orchestrator.services_dir, defaults);
    const problems = [...files.problems];
    const specs = [...files.specs];
    const fileIds = new Set(specs.map((s) => s.id));
    for (const row of this.table.all()) {
      if (row.source !== 'api') continue;
      if (fileIds.has(row.id)) {
        problems.push({ field: 'id', message: `registered service "${row.id}" is shadowed by a service file of the same id` });
        continue;
      }
      const parsed = parseServiceInput(JSON.parse(row.spec), defaults, this.config.baseDir, 'api');
      if (parsed.spec) specs.push(parsed.spec);
      else problems.push(...parsed.problems.map((p) => ({ ...p, message: `registered service "${row.id}": ${p.message}` })));
    }
    const checked = checkDependencies(specs);
    this.problems = [...problems, ...checked.problems];
    return { specs: checked.specs, problems: this.problems };
  }

  /**
   * A service to register over the API. `reregister`: an external service registering again (a
   * self-registering agent that restarted) — an update, not a conflict.
   */
  parseNew(input: unknown): { spec: ServiceSpec; reregister: boolean } {
    const parsed = parseServiceInput(input, serviceDefaults(this.config), this.config.baseDir, 'api');
    if (!parsed.spec) throw invalid(parsed.problems);
    const spec = parsed.spec;
    const existing = this.specs.get(spec.id);
    if (existing?.external && spec.external && existing.source === 'api') return { spec, reregister: true };
    if (existing) throw conflict(`service "${spec.id}" already exists`, 'id');
    const deps = checkDependencies([...this.specs.values(), spec]);
    const mine = deps.problems.filter((p) => !p.file && deps.specs.every((s) => s.id !== spec.id));
    if (mine.length) throw invalid(mine);
    return { spec, reregister: false };
  }

  /** The new definition of an API-registered service (merged into the stored input if `merge`). */
  parseUpdate(id: string, input: Record<string, unknown>, merge: boolean): { spec: ServiceSpec; input: Record<string, unknown>; restart: boolean } {
    const current = this.requireDefinition(id);
    if (current.source === 'file') throw conflict(`service "${id}" is defined in ${current.file}; edit that file and POST /api/reload`);
    if ('id' in input && input.id !== id) throw invalid([{ field: 'id', message: 'the id of a service cannot change' }]);
    const row = this.table.get(id);
    const base = merge && row ? JSON.parse(row.spec) as Record<string, unknown> : {};
    const merged = { ...deepMerge(base, input), id };
    const parsed = parseServiceInput(merged, serviceDefaults(this.config), this.config.baseDir, 'api');
    if (!parsed.spec) throw invalid(parsed.problems);
    const others = [...this.specs.values()].filter((s) => s.id !== id);
    const deps = checkDependencies([...others, parsed.spec]);
    if (!deps.specs.some((s) => s.id === id)) throw invalid(deps.problems.filter((p) => !p.file));
    return { spec: parsed.spec, input: merged, restart: needsRestart(current, parsed.spec) };
  }

  /** Refuse to remove a file service (unless reloading) or one others depend on. */
  checkRemovable(id: string, allowFile: boolean): ServiceSpec {
    const spec = this.requireDefinition(id);
    if (spec.source === 'file' && !allowFile) {
      throw conflict(`service "${id}" is defined in ${spec.file}; remove that file and POST /api/reload`);
    }
    const dependents = [...this.specs.values()].filter((s) => s.depends_on.includes(id)).map((s) => s.id);
    if (dependents.length) throw conflict(`service "${id}" is required by ${dependents.join(', ')}`);
    return spec;
  }

  /** What a reload of services/ changes, from a fresh load(). */
  plan(loaded: { specs: ServiceSpec[]; problems: Problem[] }): ReloadPlan {
    const next = new Map(loaded.specs.filter((s) => s.source === 'file').map((s) => [s.id, s]));
    const brokenFiles = new Set(loaded.problems.map((p) => p.file).filter(Boolean));
    const plan: ReloadPlan = { removed: [], added: [], changed: [], problems: loaded.problems };
    for (const spec of this.specs.values()) {
      if (spec.source === 'file' && !next.has(spec.id) && !brokenFiles.has(spec.file)) plan.removed.push(spec);
    }
    for (const spec of next.values()) {
      const before = this.specs.get(spec.id);
      if (!before) plan.added.push(spec);
      else if (before.source === 'file' && JSON.stringify(before) !== JSON.stringify(spec)) plan.changed.push({ spec, restart: needsRestart(before, spec) });
    }
    return plan;
  }

  /**
   * Keep a spec, and its definition in the registry: a file service's parsed spec, an API
   * service's input as given (so a later merge starts from what the user sent). Answers its units
   * before and after.
   */
  put(spec: ServiceSpec, want: Want, input: unknown = spec): UnitChange {
    this.table.upsert({ id: spec.id, source: spec.source === 'file' ? 'file' : 'api', spec: JSON.stringify(input), want });
    return this.keep(spec);
  }

  /** Keep a spec already in the registry as it is (an API service at boot). */
  keep(spec: ServiceSpec): UnitChange {
    const before = this.unitsOf(spec.id);
    for (const u of before) this.units.delete(u.id);
    this.specs.set(spec.id, spec);
    const after = unitsOf(spec, () => (this.gpus ??= detectGpus()));
    this.unitsByService.set(spec.id, after);
    for (const u of after) this.units.set(u.id, u);
    return { before, after };
  }

  delete(id: string): void {
    for (const u of this.unitsOf(id)) this.units.delete(u.id);
    this.unitsByService.delete(id);
    this.specs.delete(id);
    this.table.delete(id);
  }

  /**
   * Time an orderly stop may take: each dependency level stops in turn, each within its drain
   * timeout (a service with in-flight work drains first) and its stop timeout.
   */
  stopBudgetMs(specs: ServiceSpec[]): number {
    const maxStop = Math.max(0, ...specs.map((s) => s.drain.timeout_seconds + s.stop.timeout_seconds));
    const depth = (id: string, seen = new Set<string>()): number => {
      if (seen.has(id)) return 0;
      seen.add(id);
      const dependents = [...this.specs.values()].filter((s) => s.depends_on.includes(id));
      return 1 + Math.max(0, ...dependents.map((d) => depth(d.id, seen)));
    };
    const levels = Math.max(1, ...specs.map((s) => depth(s.id)));
    return levels * (maxStop * 1000 + STOP_LEVEL_SLACK_MS) + STOP_SLACK_MS;
  }
}

/** JSON Merge Patch (RFC 7396): objects merge, null removes a key (back to its default), the rest replaces. */
function deepMerge(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    const b = out[k];
    if (v === null) delete out[k];
    else if (typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)) {
      out[k] = deepMerge(b as Record<string, unknown>, v as Record<string, unknown>);
    } else out[k] = v;
  }
  return out;
}
