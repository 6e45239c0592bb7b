/** The event log: every lifecycle transition with a strictly increasing sequence number. */
import type { DB } from './db.js';

export interface StoredEvent {
  seq: number;
  /** Wall-clock epoch ms. */
  at: number;
  service: string | null;
  type: string;
  data: Record<string, unknown>;
}

export interface NewEvent {
  at: number;
  service: string | null;
  type: string;
  data: Record<string, unknown>;
}

interface Row { seq: number; at: number; service: string | null; type: string; data: string }

const toEvent = (r: Row): StoredEvent => ({ seq: r.seq, at: r.at, service: r.service, type: r.type, data: JSON.parse(r.data) });

export class EventLog {
  private readonly insert;
  private readonly since;
  private readonly sinceService;
  private readonly latestService;
  private readonly last;
  private readonly prune;

  constructor(private readonly db: DB) {
    this.insert = db.prepare<[number, string | null, string, string], void>('INSERT INTO events (at, service, type, data) VALUES (?, ?, ?, ?)');
    this.since = db.prepare<[number, number], Row>('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?');
    this.sinceService = db.prepare<[string, number, number], Row>('SELECT * FROM events WHERE service = ? AND seq > ? ORDER BY seq LIMIT ?');
    this.latestService = db.prepare<[string, number], Row>('SELECT * FROM events WHERE service = ? ORDER BY seq DESC LIMIT ?');
    this.last = db.prepare<[], { seq: number | null }>('SELECT MAX(seq) AS seq FROM events');
    this.prune = db.prepare<[number, number], void>('DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE at < ? ORDER BY seq LIMIT ?)');
  }

  /** Append a batch in one transaction; returns the stored events with their sequence numbers. */
  append(events: NewEvent[]): StoredEvent[] {
    return this.db.transaction((batch: NewEvent[]) => batch.map((e) => {
      const info = this.insert.run(e.at, e.service, e.type, JSON.stringify(e.data)) as unknown as { lastInsertRowid: number | bigint };
      return { seq: Number(info.lastInsertRowid), ...e };
    }))(events);
  }

  /** Events after `seq` (exclusive), oldest first. */
  after(seq: number, limit: number, service?: string): StoredEvent[] {
    const rows = service ? this.sinceService.all(service, seq, limit) : this.since.all(seq, limit);
    return rows.map(toEvent);
  }

  /** The newest `limit` events of a service, newest first. */
  latest(service: string, limit: number): StoredEvent[] {
    return this.latestService.all(service, limit).map(toEvent);
  }

  /** Delete events older than `before` (wall ms), at most `batch`; returns how many went. */
  pruneOlder(before: number, batch: number): number {
    return (this.prune.run(before, batch) as unknown as { changes: number }).changes;
  }

  lastSeq(): number {
    return this.last.get()?.seq ?? 0;
  }
}
