/**
 * Registered services and their wanted state. Services registered through the API live here
 * (their definition as given, re-validated at each start); file-defined ones are recorded too so
 * the wanted state of every service survives an orchestrator crash.
 */
import type { DB } from './db.js';

export interface ServiceRow {
  id: string;
  source: 'file' | 'api';
  /** JSON: the definition as given (api) or as loaded (file). */
  spec: string;
  want: 'up' | 'down';
  created_at: number;
  updated_at: number;
}

export class ServiceTable {
  private readonly upsertStmt;
  private readonly wantStmt;
  private readonly deleteStmt;
  private readonly allStmt;
  private readonly getStmt;

  constructor(db: DB) {
    this.upsertStmt = db.prepare<Omit<ServiceRow, 'created_at' | 'updated_at'> & { now: number }, void>(`
      INSERT INTO services (id, source, spec, want, created_at, updated_at) VALUES (@id, @source, @spec, @want, @now, @now)
      ON CONFLICT (id) DO UPDATE SET source = excluded.source, spec = excluded.spec, want = excluded.want, updated_at = excluded.updated_at`);
    this.wantStmt = db.prepare<[string, number, string], void>('UPDATE services SET want = ?, updated_at = ? WHERE id = ?');
    this.deleteStmt = db.prepare<[string], void>('DELETE FROM services WHERE id = ?');
    this.allStmt = db.prepare<[], ServiceRow>('SELECT * FROM services ORDER BY id');
    this.getStmt = db.prepare<[string], ServiceRow>('SELECT * FROM services WHERE id = ?');
  }

  upsert(row: Omit<ServiceRow, 'created_at' | 'updated_at'>, now = Date.now()): void {
    this.upsertStmt.run({ ...row, now });
  }

  setWant(id: string, want: 'up' | 'down', now = Date.now()): void {
    this.wantStmt.run(want, now, id);
  }

  delete(id: string): void {
    this.deleteStmt.run(id);
  }

  all(): ServiceRow[] {
    return this.allStmt.all();
  }

  get(id: string): ServiceRow | undefined {
    return this.getStmt.get(id);
  }
}
