/**
 * The event log: every lifecycle transition with a strictly increasing sequence number. Numbers
 * are given here, in memory, when an event is recorded, so an event the registry cannot take yet
 * (see pending-writes.ts) is numbered like any other; reads merge those held events in.
 */
import type { Statement } from 'better-sqlite3';
import type { DB } from './db.js';
import type { PendingWrites } from './pending-writes.js';

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

export interface EventFilter {
  service?: string;
  /** With `service`: its instances' events too (`<service>#n`, a replicated service). */
  instances?: boolean;
  type?: string;
  actor?: string;
}

/**
 * A replicated service's events include those of its instances (`<id>#n`, config/instances.ts):
 * SQL `service = ? OR service GLOB '<id>#*'`, the pattern bound as a parameter so the index serves
 * it (ids hold no GLOB metacharacters). Only asked for a replicated service: for any other the
 * exact match reads the newest events straight off the index, with no sort.
 */
const WITH_INSTANCES = '(service = ? OR service GLOB ?)';
const instancesGlob = (service: string) => `${service}#*`;
const ofService = (e: StoredEvent, service: string, instances: boolean) =>
  e.service === service || (instances && e.service !== null && e.service.startsWith(`${service}#`));

function matches(e: StoredEvent, f: EventFilter): boolean {
  return (f.service === undefined || ofService(e, f.service, !!f.instances)) && (f.type === undefined || e.type === f.type) && (f.actor === undefined || e.data.actor === f.actor);
}

interface Row { seq: number; at: number; service: string | null; type: string; data: string }

const toEvent = (r: Row): StoredEvent => ({ seq: r.seq, at: r.at, service: r.service, type: r.type, data: JSON.parse(r.data) });

export class EventLog {
  private readonly insertOne;
  private readonly since;
  private readonly sinceService;
  private readonly latestService;
  private readonly sinceGroup;
  private readonly latestGroup;
  private readonly prune;
  /** GET /api/events' filtered queries, one statement per combination of filters (at most 8). */
  private readonly filtered = new Map<string, Statement<Array<string | number>, Row>>();
  /** The last sequence number given (written or held). */
  private seq: number;

  constructor(private readonly db: DB, private readonly writes: PendingWrites) {
    this.insertOne = db.prepare<[number, number, string | null, string, string], void>('INSERT INTO events (seq, at, service, type, data) VALUES (?, ?, ?, ?, ?)');
    this.since = db.prepare<[number, number], Row>('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?');
    this.sinceService = db.prepare<[string, number, number], Row>('SELECT * FROM events WHERE service = ? AND seq > ? ORDER BY seq LIMIT ?');
    this.latestService = db.prepare<[string, number], Row>('SELECT * FROM events WHERE service = ? ORDER BY seq DESC LIMIT ?');
    this.sinceGroup = db.prepare<[string, string, number, number], Row>(`SELECT * FROM events WHERE ${WITH_INSTANCES} AND seq > ? ORDER BY seq LIMIT ?`);
    this.latestGroup = db.prepare<[string, string, number], Row>(`SELECT * FROM events WHERE ${WITH_INSTANCES} ORDER BY seq DESC LIMIT ?`);
    this.prune = db.prepare<[number, number], void>('DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE at < ? ORDER BY seq LIMIT ?)');
    // AUTOINCREMENT's counter: numbers are never reused, even after the newest events were deleted.
    const last = db.prepare<[], { seq: number | null }>("SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0), COALESCE((SELECT MAX(seq) FROM events), 0)) AS seq").get();
    this.seq = last?.seq ?? 0;
  }

  /**
   * Number a batch and write it in one transaction (or hold it while the registry cannot be
   * written); returns the events with their sequence numbers either way.
   */
  append(events: NewEvent[]): StoredEvent[] {
    const stored = events.map((e) => ({ seq: ++this.seq, ...e }));
    this.writes.write('event', () => this.insert(stored), { events: stored });
    return stored;
  }

  /** The next sequence number (for an event made elsewhere, such as events_dropped). */
  nextSeq(): number {
    return ++this.seq;
  }

  /** Write numbered events in one transaction. */
  insert(events: StoredEvent[]): void {
    this.db.transaction((batch: StoredEvent[]) => {
      for (const e of batch) this.insertOne.run(e.seq, e.at, e.service, e.type, JSON.stringify(e.data));
    })(events);
  }

  /** Events after `seq` (exclusive), oldest first; `instances`: a replicated service's with its instances'. */
  after(seq: number, limit: number, service?: string, instances = false): StoredEvent[] {
    const rows = (!service ? this.since.all(seq, limit)
      : instances ? this.sinceGroup.all(service, instancesGlob(service), seq, limit) : this.sinceService.all(service, seq, limit)).map(toEvent);
    const held = this.writes.heldEvents().filter((e) => e.seq > seq && (!service || ofService(e, service, instances)));
    if (held.length === 0) return rows;
    return [...rows, ...held].sort((a, b) => a.seq - b.seq).slice(0, limit);
  }

  /**
   * Events after `seq` that match every given field (service, type, the `actor` a change was made
   * by), oldest first: GET /api/events?service=&type=&actor=.
   */
  matching(seq: number, limit: number, filter: EventFilter): StoredEvent[] {
    const where = ['seq > ?'];
    const args: Array<string | number> = [seq];
    if (filter.service !== undefined && filter.instances) { where.push(WITH_INSTANCES); args.push(filter.service, instancesGlob(filter.service)); }
    else if (filter.service !== undefined) { where.push('service = ?'); args.push(filter.service); }
    if (filter.type !== undefined) { where.push('type = ?'); args.push(filter.type); }
    if (filter.actor !== undefined) { where.push("json_extract(data, '$.actor') = ?"); args.push(filter.actor); }
    const sql = `SELECT * FROM events WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`;
    let stmt = this.filtered.get(sql);
    if (!stmt) this.filtered.set(sql, stmt = this.db.prepare<Array<string | number>, Row>(sql));
    const rows = stmt.all(...args, limit).map(toEvent);
    const held = this.writes.heldEvents().filter((e) => e.seq > seq && matches(e, filter));
    if (held.length === 0) return rows;
    return [...rows, ...held].sort((a, b) => a.seq - b.seq).slice(0, limit);
  }

  /** The newest `limit` events of a service, newest first; `instances`: with its instances'. */
  latest(service: string, limit: number, instances = false): StoredEvent[] {
    const rows = (instances ? this.latestGroup.all(service, instancesGlob(service), limit) : this.latestService.all(service, limit)).map(toEvent);
    const held = this.writes.heldEvents().filter((e) => ofService(e, service, instances));
    if (held.length === 0) return rows;
    return [...rows, ...held].sort((a, b) => b.seq - a.seq).slice(0, limit);
  }

  /** Delete events older than `before` (wall ms), at most `batch`; returns how many went. */
  pruneOlder(before: number, batch: number): number {
    return (this.prune.run(before, batch) as unknown as { changes: number }).changes;
  }

  /** The newest event's sequence number (held ones included). */
  lastSeq(): number {
    return this.seq;
  }
}
