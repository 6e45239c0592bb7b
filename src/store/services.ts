/**
 * Registered services and their wanted state. Services registered through the API live here
 * (their definition as given, re-validated at each start); file-defined ones are recorded too so
 * the wanted state of every service survives an orchestrator crash. Writes go through
 * PendingWrites (held while the registry cannot be written); a status or command replaces the
 * same service's older held one.
 */
import type { DB } from './db.js';
import type { PendingWrites } from './pending-writes.js';

export interface ServiceRow {
  id: string;
  source: 'file' | 'api';
  /** JSON: the definition as given (api) or as loaded (file). */
  spec: string;
  want: 'up' | 'down';
  created_at: number;
  updated_at: number;
  /** The last lifecycle summary the actor published (see saveStatus). */
  state: string | null;
  reason: string | null;
  restarts: number;
  attempts: number;
  /** JSON of the last exit, its time in wall-clock ms. */
  last_exit: string | null;
  /** The last start ('up') or stop ('down') an operator commanded; null if none ever was. */
  commanded: 'up' | 'down' | null;
}

export interface StatusRow {
  want: 'up' | 'down';
  state: string;
  reason: string;
  restarts: number;
  attempts: number;
  last_exit: string | null;
}

export class ServiceTable {
  private readonly upsertStmt;
  private readonly statusStmt;
  private readonly deleteStmt;
  private readonly allStmt;
  private readonly getStmt;
  private readonly commandedStmt;

  constructor(db: DB, private readonly writes: PendingWrites) {
    this.statusStmt = db.prepare<StatusRow & { id: string; now: number }, void>(
      'UPDATE services SET want = @want, state = @state, reason = @reason, restarts = @restarts, attempts = @attempts, last_exit = @last_exit, updated_at = @now WHERE id = @id',
    );
    this.upsertStmt = db.prepare<Pick<ServiceRow, 'id' | 'source' | 'spec' | 'want'> & { now: number }, void>(`
      INSERT INTO services (id, source, spec, want, created_at, updated_at) VALUES (@id, @source, @spec, @want, @now, @now)
      ON CONFLICT (id) DO UPDATE SET source = excluded.source, spec = excluded.spec, want = excluded.want, updated_at = excluded.updated_at`);
    this.deleteStmt = db.prepare<[string], void>('DELETE FROM services WHERE id = ?');
    this.allStmt = db.prepare<[], ServiceRow>('SELECT * FROM services ORDER BY id');
    this.getStmt = db.prepare<[string], ServiceRow>('SELECT * FROM services WHERE id = ?');
    this.commandedStmt = db.prepare<{ id: string; want: 'up' | 'down'; now: number }, void>('UPDATE services SET commanded = @want, updated_at = @now WHERE id = @id');
  }

  upsert(row: Pick<ServiceRow, 'id' | 'source' | 'spec' | 'want'>, now = Date.now()): void {
    this.writes.write('service', () => this.upsertStmt.run({ ...row, now }));
  }

  /** Record the lifecycle summary of a service (wanted state, failures, counters). */
  saveStatus(id: string, status: StatusRow, now = Date.now()): void {
    this.writes.write('status', () => this.statusStmt.run({ ...status, id, now }), { key: `status:${id}` });
  }

  /** Remember an operator's start or stop: it outlasts a clean restart (auto_start no longer decides). */
  setCommanded(id: string, want: 'up' | 'down', now = Date.now()): void {
    this.writes.write('status', () => this.commandedStmt.run({ id, want, now }), { key: `commanded:${id}` });
  }

  delete(id: string): void {
    this.writes.write('service', () => this.deleteStmt.run(id));
  }

  all(): ServiceRow[] {
    return this.allStmt.all();
  }

  get(id: string): ServiceRow | undefined {
    return this.getStmt.get(id);
  }
}
