/**
 * STUB until "API keys with scopes" lands on main (then this file goes and its users import the
 * real types from there): what an API key may do, and who presented it.
 */
export type Scope = 'read' | 'operate' | 'admin';

export interface Principal {
  name: string;
  scopes: ReadonlySet<Scope>;
}

const RANK: Record<Scope, number> = { read: 1, operate: 2, admin: 3 };

export const ALL_SCOPES: ReadonlySet<Scope> = new Set<Scope>(['read', 'operate', 'admin']);

/** Scopes are hierarchical: admin ⊇ operate ⊇ read. */
export function allows(p: Principal, need: Scope): boolean {
  for (const s of p.scopes) if (RANK[s] >= RANK[need]) return true;
  return false;
}
