/**
 * The order of a fleet: dependencies before their dependents. Each group supervisor keeps its
 * children in this order, which is what gives rest_for_one its meaning (a member's exit restarts the
 * members after it: those that may depend on it).
 */
import { serviceOf } from '../config/instances.js';
import type { ServiceSpec } from '../config/schema.js';

/**
 * Topological order over depends_on (dependencies first), ties broken by id; unknown ids are
 * ignored. A dependency on a replicated service is one on each of its instances.
 */
export function dependencyOrder(specs: ServiceSpec[]): string[] {
  const byId = new Map(specs.map((s) => [s.id, s]));
  const instances = new Map<string, string[]>();
  for (const id of byId.keys()) if (serviceOf(id) !== id) instances.set(serviceOf(id), [...(instances.get(serviceOf(id)) ?? []), id]);
  const done = new Set<string>();
  const out: string[] = [];
  const visit = (id: string, path: Set<string>): void => {
    if (done.has(id) || path.has(id) || !byId.has(id)) return;
    path.add(id);
    for (const dep of [...byId.get(id)!.depends_on].flatMap((d) => instances.get(d) ?? [d]).sort()) visit(dep, path);
    path.delete(id);
    done.add(id);
    out.push(id);
  };
  for (const id of [...byId.keys()].sort()) visit(id, new Set());
  return out;
}
