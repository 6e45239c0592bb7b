/**
 * The registry: one SQLite file, written only by the main thread. Every write goes through
 * `writes` (pending-writes.ts), so a disk that refuses writes holds records in memory instead of
 * failing whoever wrote them.
 */
import { randomUUID } from 'node:crypto';
import { AlertOutbox } from './alerts.js';
import { openRegistry, type DB } from './db.js';
import { EventLog } from './events.js';
import { PendingWrites, type PendingOptions } from './pending-writes.js';
import { RunLedger } from './runs.js';
import { SampleHistory } from './samples.js';
import { ServiceTable } from './services.js';

export class Registry {
  readonly events: EventLog;
  readonly runs: RunLedger;
  readonly services: ServiceTable;
  readonly samples: SampleHistory;
  readonly alerts: AlertOutbox;
  /** Writes the registry could not take yet, and whether it takes writes now. */
  readonly writes: PendingWrites;
  private readonly getMeta;
  private readonly setMetaStmt;
  /** Kept in memory once known: a value still held must not be read back stale from the file. */
  private id: string | undefined;
  private epoch: number | undefined;

  private constructor(readonly db: DB, readonly path: string, opts: PendingOptions) {
    this.writes = new PendingWrites(db, path, opts);
    this.events = new EventLog(db, this.writes);
    this.writes.sink = this.events;
    this.runs = new RunLedger(db, this.writes);
    this.services = new ServiceTable(db, this.writes);
    this.samples = new SampleHistory(db, this.writes);
    this.alerts = new AlertOutbox(db, this.writes);
    this.getMeta = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?');
    this.setMetaStmt = db.prepare<[string, string], void>('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  }

  static open(path: string, opts: PendingOptions = {}): Registry {
    return new Registry(openRegistry(path), path, opts);
  }

  meta(key: string): string | undefined {
    return this.getMeta.get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.writes.write('meta', () => this.setMetaStmt.run(key, value), { key: `meta:${key}` });
  }

  /** This registry's identity (made once), so its runs are told apart from another orchestrator's. */
  identity(): string {
    this.id ??= this.meta('id');
    if (!this.id) {
      this.id = randomUUID();
      this.setMeta('id', this.id);
    }
    return this.id;
  }

  /** A counter that grows across every start of the orchestrator and of its actor host. */
  nextEpoch(): number {
    this.epoch = Math.max(this.epoch ?? 0, Number(this.meta('epoch') ?? '0')) + 1;
    this.setMeta('epoch', String(this.epoch));
    return this.epoch;
  }

  /** Return pages freed by pruning to the file system (a bounded amount per call). */
  reclaim(pages = 2000): void {
    this.db.pragma(`incremental_vacuum(${pages})`);
  }

  /** Bytes the registry takes on disk (database and write-ahead log). */
  sizeOnDisk(): number {
    const page = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    return page * pages;
  }

  integrityCheck(): string {
    return String(this.db.pragma('integrity_check', { simple: true }));
  }

  /** Writes what is still held if it can (what it cannot is lost, and logged), then closes. */
  close(): void {
    if (!this.db.open) return;
    this.writes.close();
    this.db.close();
  }
}
