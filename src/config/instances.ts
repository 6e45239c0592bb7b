/**
 * Instance ids: a service with `replicas` runs as instances `<id>#0`, `<id>#1`, … (fleet/replicas.ts).
 * A service id cannot contain "#" (fields.ts ID_PATTERN), so the two never collide. Everything
 * that addresses one process — an actor, a log file, a URL segment, a /ws topic — takes either.
 */
import { ID_PATTERN } from './fields.js';

export const INSTANCE_SEP = '#';

/** A service id or an instance id (URL segments and topics are checked against it). */
export const UNIT_ID_PATTERN = new RegExp(`${ID_PATTERN.source.slice(0, -1)}(?:${INSTANCE_SEP}(?:0|[1-9][0-9]{0,3}))?$`);

export function instanceId(service: string, index: number): string {
  return `${service}${INSTANCE_SEP}${index}`;
}

/** `svc#2` → {service: 'svc', index: 2}; a plain service id → null. */
export function parseInstanceId(id: string): { service: string; index: number } | null {
  const at = id.lastIndexOf(INSTANCE_SEP);
  if (at <= 0) return null;
  const digits = id.slice(at + 1);
  return /^(0|[1-9][0-9]*)$/.test(digits) ? { service: id.slice(0, at), index: Number(digits) } : null;
}

/** The service a unit belongs to (itself when it is not an instance). */
export function serviceOf(id: string): string {
  return parseInstanceId(id)?.service ?? id;
}

/** Does a unit with these depends_on wait for unit `id` (named itself, or its service)? */
export function dependsOn(dependsOnIds: readonly string[], id: string): boolean {
  return dependsOnIds.includes(id) || dependsOnIds.includes(serviceOf(id));
}
