/** The registry: one SQLite file, written only by the main thread. */
import { randomUUID } from 'node:crypto';
import { openRegistry, type DB } from './db.js';
import { EventLog } from './events.js';
import { RunLedger } from './runs.js';
import { SampleHistory } from './samples.js';
import { ServiceTable } from './services.js';

export class Registry {
  readonly events: EventLog;
  readonly runs: RunLedger;
  readonly services: ServiceTable;
  readonly samples: SampleHistory;
  private readonly getMeta;
  private readonly setMetaStmt;

  private constructor(readonly db: DB, readonly path: string) {
    this.events = new EventLog(db);
    this.runs = new RunLedger(db);
    this.services = new ServiceTable(db);
    this.samples = new SampleHistory(db);
    this.getMeta = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?');
    this.setMetaStmt = db.prepare<[string, string], void>('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  }

  static open(path: string): Registry {
    return new Registry(openRegistry(path), path);
  }

  meta(key: string): string | undefined {
    return this.getMeta.get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.setMetaStmt.run(key, value);
  }

  /** This registry's identity (made once), so its runs are told apart from another orchestrator's. */
  identity(): string {
    let id = this.meta('id');
    if (!id) {
      id = randomUUID();
      this.setMeta('id', id);
    }
    return id;
  }

  /** A counter that grows across every start of the orchestrator and of its actor host. */
  nextEpoch(): number {
    return this.db.transaction(() => {
      const next = Number(this.meta('epoch') ?? '0') + 1;
      this.setMeta('epoch', String(next));
      return next;
    })();
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

  close(): void {
    if (this.db.open) this.db.close();
  }
}
