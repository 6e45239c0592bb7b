/**
 * The alert outbox: one row per message to a sink, written when the event that caused it is
 * recorded and rewritten after every attempt, so a restarted orchestrator resumes what was still
 * pending. A row is written whole (an upsert), through the held-writes path like every registry
 * write: a later write of the same row replaces an older one still held.
 */
import type { DB } from './db.js';
import type { PendingWrites } from './pending-writes.js';

export type DeliveryStatus = 'pending' | 'delivered' | 'gave_up';

export interface Attempt {
  /** 1, 2, … */
  n: number;
  /** Wall-clock ms the attempt started. */
  at: number;
  duration_ms: number;
  /** The receiver's HTTP status, null when none came (refused, timed out, …). */
  status: number | null;
  error: string | null;
}

export interface DeliveryRow {
  id: string;
  sink: string;
  status: DeliveryStatus;
  /** sink|service|reason: matches within a sink's min_interval_seconds fold into one message. Null for tests. */
  dedupe_key: string | null;
  service: string | null;
  reason: string;
  event_type: string;
  event_seq: number | null;
  /** Matching events this message stands for. */
  count: number;
  test: number;
  /** The exact bytes sent, every attempt (fixed at the first). */
  body: string;
  /** What the body was made from (JSON), so a folded message can still grow after a restart. */
  content: string;
  created_at: number;
  /** Not sent before this (wall ms): now, or the end of a dedupe window. */
  due_at: number;
  /** When the next attempt is due; null once delivered or given up. */
  next_at: number | null;
  updated_at: number;
  /** JSON array of Attempt. */
  attempts: string;
}

export type WindowRow = Pick<DeliveryRow, 'id' | 'sink' | 'dedupe_key' | 'status' | 'attempts' | 'due_at'>;

export class AlertOutbox {
  private readonly upsert;
  private readonly pendingRows;
  private readonly recentRows;
  private readonly windowRows;
  private readonly prune;

  constructor(db: DB, private readonly writes: PendingWrites) {
    this.upsert = db.prepare<DeliveryRow, void>(`
      INSERT INTO alert_outbox (id, sink, status, dedupe_key, service, reason, event_type, event_seq, count, test, body, content, created_at, due_at, next_at, updated_at, attempts)
      VALUES (@id, @sink, @status, @dedupe_key, @service, @reason, @event_type, @event_seq, @count, @test, @body, @content, @created_at, @due_at, @next_at, @updated_at, @attempts)
      ON CONFLICT (id) DO UPDATE SET status = excluded.status, count = excluded.count, body = excluded.body, content = excluded.content, event_seq = excluded.event_seq,
        next_at = excluded.next_at, updated_at = excluded.updated_at, attempts = excluded.attempts`);
    this.pendingRows = db.prepare<[], DeliveryRow>("SELECT * FROM alert_outbox WHERE status = 'pending' ORDER BY created_at, rowid");
    this.recentRows = db.prepare<[number], DeliveryRow>("SELECT * FROM alert_outbox WHERE status != 'pending' ORDER BY updated_at DESC, rowid DESC LIMIT ?");
    // SQLite gives the other columns of the row holding MAX(due_at): the newest message per key.
    this.windowRows = db.prepare<[number], WindowRow>('SELECT id, sink, dedupe_key, status, attempts, MAX(due_at) AS due_at FROM alert_outbox WHERE dedupe_key IS NOT NULL AND due_at >= ? GROUP BY dedupe_key');
    this.prune = db.prepare<[number], void>("DELETE FROM alert_outbox WHERE status != 'pending' AND updated_at < ?");
  }

  /** Write a row whole (new, or its latest state). */
  save(row: DeliveryRow): void {
    const copy = { ...row };
    this.writes.write('alert', () => this.upsert.run(copy), { key: `alert:${row.id}` });
  }

  pending(): DeliveryRow[] {
    return this.pendingRows.all();
  }

  /** The newest finished rows (delivered or given up), newest first. */
  recent(limit: number): DeliveryRow[] {
    return this.recentRows.all(limit);
  }

  /** The newest row of every dedupe key due since `since` (wall ms): the windows a restart resumes. */
  windows(since: number): WindowRow[] {
    return this.windowRows.all(since);
  }

  /** Delete finished rows last touched before `before` (wall ms); returns how many went. */
  pruneOlder(before: number): number {
    return (this.prune.run(before) as unknown as { changes: number }).changes;
  }
}
