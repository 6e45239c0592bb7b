/**
 * Resource history, downsampled: every CPU/RSS sample of a service folds into a per-minute bucket
 * (average and maximum), kept in memory until the minute is over and then written in one batch.
 * Sparklines and GET /api/services/{id}/metrics read these buckets, never raw samples.
 */
import type { DB } from './db.js';
import type { PendingWrites } from './pending-writes.js';

export const BUCKET_MS = 60_000;

export interface Bucket {
  service: string;
  /** Start of the minute, wall-clock ms. */
  bucket: number;
  n: number;
  cpu_avg: number;
  cpu_max: number;
  rss_avg: number;
  rss_max: number;
}

export class SampleHistory {
  private readonly open = new Map<string, Bucket>();
  private readonly insert;
  private readonly range;
  private readonly prune;

  constructor(private readonly db: DB, private readonly writes: PendingWrites) {
    this.insert = db.prepare<Bucket, void>(`
      INSERT INTO samples (service, bucket, n, cpu_avg, cpu_max, rss_avg, rss_max) VALUES (@service, @bucket, @n, @cpu_avg, @cpu_max, @rss_avg, @rss_max)
      ON CONFLICT (service, bucket) DO UPDATE SET
        cpu_avg = (cpu_avg * n + excluded.cpu_avg * excluded.n) / (n + excluded.n),
        rss_avg = (rss_avg * n + excluded.rss_avg * excluded.n) / (n + excluded.n),
        cpu_max = MAX(cpu_max, excluded.cpu_max), rss_max = MAX(rss_max, excluded.rss_max), n = n + excluded.n`);
    this.range = db.prepare<[string, number, number], Bucket>('SELECT * FROM samples WHERE service = ? AND bucket >= ? ORDER BY bucket LIMIT ?');
    this.prune = db.prepare<[number, number], void>('DELETE FROM samples WHERE (service, bucket) IN (SELECT service, bucket FROM samples WHERE bucket < ? LIMIT ?)');
  }

  /** Fold one sample in; a finished minute is written out. */
  add(service: string, at: number, cpu: number, rss: number): void {
    const bucket = Math.floor(at / BUCKET_MS) * BUCKET_MS;
    let b = this.open.get(service);
    if (b && b.bucket !== bucket) {
      this.write([b]);
      b = undefined;
    }
    if (!b) {
      b = { service, bucket, n: 0, cpu_avg: 0, cpu_max: 0, rss_avg: 0, rss_max: 0 };
      this.open.set(service, b);
    }
    b.cpu_avg = (b.cpu_avg * b.n + cpu) / (b.n + 1);
    b.rss_avg = (b.rss_avg * b.n + rss) / (b.n + 1);
    b.cpu_max = Math.max(b.cpu_max, cpu);
    b.rss_max = Math.max(b.rss_max, rss);
    b.n++;
  }

  /** Write every bucket whose minute is over (called on a timer, and at shutdown with all=true). */
  flush(now: number, all = false): void {
    const done = [...this.open.values()].filter((b) => all || b.bucket + BUCKET_MS <= now);
    for (const b of done) this.open.delete(b.service);
    this.write(done);
  }

  /** Buckets of a service since `since` (wall ms), oldest first, the open minute included. */
  since(service: string, since: number, limit: number): Bucket[] {
    const rows = this.range.all(service, Math.floor(since / BUCKET_MS) * BUCKET_MS, limit);
    const open = this.open.get(service);
    if (open && open.bucket >= since - BUCKET_MS && rows.length < limit) rows.push({ ...open });
    return rows;
  }

  /** Delete buckets older than `before`, at most `batch` rows; returns how many went. */
  pruneOlder(before: number, batch: number): number {
    return (this.prune.run(before, batch) as unknown as { changes: number }).changes;
  }

  private write(buckets: Bucket[]): void {
    if (buckets.length === 0) return;
    this.writes.write('sample', () => this.db.transaction((bs: Bucket[]) => { for (const b of bs) this.insert.run(b); })(buckets), { size: buckets.length });
  }
}
