/**
 * Registry writes the disk would not take yet. Every write to the registry goes through here:
 * normally it runs at once; when SQLite reports the disk full or an I/O error (SQLITE_FULL,
 * SQLITE_IOERR_*, …) the write is held in memory instead of failing, and so is every later write,
 * in order, so that a run's end never reaches the file before its start. Supervision goes on from
 * memory meanwhile. Held writes are retried on a timer and written, oldest first and in
 * transactions of a bounded size, as soon as the registry takes writes again.
 *
 * What is held is bounded: past the limit the oldest events and resource-history minutes are
 * dropped, and one held "N events dropped while the registry was full" event (events_dropped)
 * stands for them. Runs, service records and statuses are never dropped (a newer status of a
 * service replaces its older held one). 'change' reports the condition (a message, or null once
 * everything is written); 'event' carries the events_dropped event when it is made.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { EventType } from '../api/types.js';
import { bootNow } from '../clock.js';
import type { DB } from './db.js';
import type { StoredEvent } from './events.js';

export type WriteKind = 'event' | 'run' | 'service' | 'status' | 'sample' | 'meta' | 'alert';

/** Where held events are numbered and inserted (the event log). */
export interface EventSink {
  nextSeq(): number;
  insert(events: StoredEvent[]): void;
}

export interface PendingOptions {
  /** Records held at most before the oldest events are dropped (an event or a bucket counts one). */
  limit?: number;
  /** How often a held registry is tried again. */
  retryMs?: number;
  /** Held writes written per transaction (the event loop runs between transactions). */
  chunk?: number;
  log?: Logger;
}

interface Held {
  kind: WriteKind;
  apply: () => void;
  /** Records it carries (events in a batch, buckets), for the bound. */
  size: number;
  /** A later write with the same key replaces this one (a service's status, a meta value). */
  key?: string;
  events?: StoredEvent[];
  superseded?: boolean;
}

const DROPPABLE: ReadonlySet<WriteKind> = new Set(['event', 'sample']);

/** SQLite errors that mean "the disk does not take writes now", as opposed to a bad write. */
export function isUnwritable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code === 'SQLITE_FULL' || code === 'SQLITE_CANTOPEN' || code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_READONLY'));
}

export class PendingWrites extends EventEmitter {
  private queue: Held[] = [];
  private readonly keyed = new Map<string, Held>();
  private size = 0;
  private problem: string | null = null;
  private since = 0;
  private timer: NodeJS.Timeout | null = null;
  private flushing = false;
  private closed = false;
  /** The held events_dropped event of this episode, while it is not written yet. */
  private summary: { held: Held; event: StoredEvent } | null = null;
  /** Records dropped since the registry was opened (events and resource-history minutes). */
  dropped = 0;
  sink: EventSink | null = null;
  private readonly opts: Required<Omit<PendingOptions, 'log'>> & Pick<PendingOptions, 'log'>;

  constructor(private readonly db: DB, private readonly path: string, opts: PendingOptions = {}) {
    super();
    this.opts = { limit: 10_000, retryMs: 1000, chunk: 500, ...opts };
  }

  /** Records held in memory, not written yet. */
  get held(): number {
    return this.size;
  }

  /** False from the first refused write until everything held is written. */
  get writable(): boolean {
    return this.problem === null;
  }

  /** Run a write now, or hold it if the registry refuses it or earlier writes are still held. A bad write (not the disk) still throws. */
  write(kind: WriteKind, apply: () => void, more: { key?: string; events?: StoredEvent[]; size?: number } = {}): void {
    const item: Held = { kind, apply, size: more.size ?? more.events?.length ?? 1, key: more.key, events: more.events };
    if (this.queue.length === 0 && !this.closed) {
      try {
        apply();
        return;
      } catch (err) {
        this.rollback();
        if (!isUnwritable(err)) throw err;
        this.hold(item);
        this.refused(err);
        return;
      }
    }
    this.hold(item);
  }

  /** Events held, in no particular order (readers merge them with the written ones by seq). */
  heldEvents(): StoredEvent[] {
    const out: StoredEvent[] = [];
    for (const h of this.queue) {
      if (!h.events || h.superseded) continue;
      for (const e of h.events) if (e.seq > 0) out.push(e);
    }
    return out;
  }

  /**
   * Write what is held, oldest first, at most `max` writes: 'done' once nothing is held any more,
   * 'more' if the bound stopped it, 'refused' if the registry still does not take writes.
   */
  flush(max = Infinity): 'done' | 'more' | 'refused' {
    if (this.flushing) return 'more';
    this.flushing = true;
    try {
      while (this.queue.length && max > 0) {
        const n = Math.min(this.queue.length, this.opts.chunk, max);
        const chunk = this.queue.slice(0, n);
        try {
          this.db.transaction(() => { for (const h of chunk) this.applyHeld(h); })();
        } catch (err) {
          this.rollback();
          if (!isUnwritable(err)) throw err;
          return 'refused';
        }
        this.queue.splice(0, n);
        max -= n;
        for (const h of chunk) {
          if (!h.superseded) this.size -= h.size;
          if (h.key && this.keyed.get(h.key) === h) this.keyed.delete(h.key);
          if (this.summary?.held === h) this.summary = null;
        }
      }
    } finally {
      this.flushing = false;
    }
    if (this.queue.length) return 'more';
    this.recovered();
    return 'done';
  }

  /** Last chance at shutdown: write what can be written; what cannot is lost, and said so. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.queue.length) {
      try { this.flush(); } catch (err) { this.opts.log?.error({ err }, 'writing the held registry records failed'); }
    }
    this.closed = true;
    if (this.size) this.opts.log?.error({ held: this.size, path: this.path }, `registry still cannot be written: ${this.size} held records are lost`);
  }

  // ------------------------------------------------------------------------------------------

  private applyHeld(h: Held): void {
    if (h.superseded) return;
    try {
      h.apply();
    } catch (err) {
      if (isUnwritable(err)) throw err;
      // A write that can never succeed (not the disk's fault) must not block the ones behind it.
      this.opts.log?.error({ err, kind: h.kind }, 'dropping a held registry write that cannot be written');
    }
  }

  private hold(item: Held): void {
    if (item.key) {
      const before = this.keyed.get(item.key);
      if (before && !before.superseded) {
        before.superseded = true;
        this.size -= before.size;
      }
      this.keyed.set(item.key, item);
    }
    this.queue.push(item);
    this.size += item.size;
    while (this.size > this.opts.limit && this.dropOldest()) { /* until within the bound */ }
    this.schedule();
  }

  /** Drop the oldest droppable record batch into the episode's summary; false if nothing can go. */
  private dropOldest(): boolean {
    // Never a batch the running flush is writing: flushes take from the front, drops skip a chunk.
    const from = this.flushing ? Math.min(this.queue.length, this.opts.chunk) : 0;
    const i = this.queue.findIndex((h, n) => n >= from && !h.superseded && DROPPABLE.has(h.kind) && h !== this.summary?.held);
    if (i < 0) return false;
    const [gone] = this.queue.splice(i, 1) as [Held];
    this.size -= gone.size;
    this.dropped += gone.size;
    this.summarise(gone);
    return true;
  }

  private summarise(gone: Held): void {
    const events = gone.events ?? [];
    if (!this.summary) {
      if (!this.sink) return;
      // Numbered once the write that overflowed is done: that write's own events (numbered before
      // it was held) reach the listeners first, so the feed stays in sequence order.
      const event: StoredEvent = {
        seq: 0, at: Date.now(), service: null, type: 'events_dropped' satisfies EventType,
        data: { count: 0, resource_minutes: 0, first_seq: null, last_seq: null, message: '' },
      };
      const sink = this.sink;
      const number = () => { if (event.seq === 0) event.seq = sink.nextSeq(); };
      const held: Held = { kind: 'event', apply: () => { number(); sink.insert([event]); }, size: 1, events: [event] };
      this.summary = { held, event };
      this.queue.push(held);
      this.size += 1;
      this.foldInto(event.data, gone, events);
      queueMicrotask(() => { number(); this.emit('event', event); });
      return;
    }
    this.foldInto(this.summary.event.data, gone, events);
  }

  private foldInto(data: Record<string, unknown>, gone: Held, events: StoredEvent[]): void {
    if (gone.kind === 'sample') data.resource_minutes = (data.resource_minutes as number) + gone.size;
    for (const e of events) {
      data.count = (data.count as number) + 1;
      data.first_seq = data.first_seq === null ? e.seq : Math.min(data.first_seq as number, e.seq);
      data.last_seq = data.last_seq === null ? e.seq : Math.max(data.last_seq as number, e.seq);
    }
    const minutes = data.resource_minutes as number;
    data.message = `${data.count as number} events dropped while the registry was full${minutes ? ` (and ${minutes} minutes of resource history)` : ''}`;
  }

  private rollback(): void {
    try { if (this.db.inTransaction) this.db.exec('ROLLBACK'); } catch { /* nothing left to undo */ }
  }

  private refused(err: unknown): void {
    if (this.problem !== null) return;
    const e = err as Error & { code?: string };
    this.problem = `registry ${this.path} cannot be written (${e.code ?? 'error'}: ${e.message}); supervision goes on, records are held in memory until it can`;
    this.since = bootNow();
    this.opts.log?.error({ err, path: this.path }, 'registry cannot be written; holding records in memory');
    this.emit('change', this.problem);
  }

  private recovered(): void {
    if (this.problem === null) return;
    this.problem = null;
    // The write-ahead log grew while it could; give its space back now that it is all in the file.
    try { this.db.pragma('wal_checkpoint(TRUNCATE)'); } catch (err) { this.opts.log?.warn({ err }, 'checkpoint after the registry recovered failed'); }
    this.opts.log?.info({ path: this.path, afterMs: Math.round(bootNow() - this.since), dropped: this.dropped }, 'registry takes writes again; every held record is written');
    this.emit('change', null);
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    const retry = (delay: number) => {
      this.timer = setTimeout(() => {
        let result: 'done' | 'more' | 'refused' = 'refused';
        try { result = this.flush(this.opts.chunk); } catch (err) { this.opts.log?.error({ err }, 'writing the held registry records failed'); }
        this.timer = null;
        // More to write: go on in the next turn (one chunk per turn); refused: try again later.
        if (this.closed) return;
        if (result !== 'done' && this.queue.length) retry(result === 'more' ? 0 : this.opts.retryMs);
      }, delay);
      this.timer.unref();
    };
    retry(this.opts.retryMs);
  }
}
