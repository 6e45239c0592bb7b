/**
 * Reading a service's logs for the API: the last lines, the lines since a time, or a search, over
 * one stream or both merged in time order. The reading itself happens in the pool.
 */
import { unavailable } from '../errors.js';
import type { Stream } from '../os/logs.js';
import type { CpuPool } from '../workers/cpu-pool.js';
import type { LogLine, ReadLogTask } from '../workers/tasks/logs.js';
import type { LogStore } from './store.js';
import { READ_GRACE_MS, SCAN_BUDGET_MS } from './timing.js';

export interface LogQuery {
  streams: Stream[];
  lines: number;
  since?: number;
  text?: string;
  regex?: string;
}

export interface LogEntry extends Omit<LogLine, 'at'> {
  stream: Stream;
  /** In the merged logs of a replicated service: the instance that wrote it. */
  instance?: string;
  /** Wall-clock ms by which the line had been written (within about a second). */
  at: number;
}

export interface LogAnswer {
  lines: LogEntry[];
  truncated: boolean;
  timedOut: boolean;
}

/** `mask`: the service's secret values (os/secrets.ts SecretMasks), masked in the pool before any match. */
export async function queryLogs(store: LogStore, pool: CpuPool, service: string, q: LogQuery, mask: readonly string[] = []): Promise<LogAnswer> {
  const mode: ReadLogTask['mode'] = q.text !== undefined || q.regex !== undefined ? 'search' : q.since !== undefined ? 'since' : 'tail';
  const results = await Promise.all(q.streams.map(async (stream) => {
    let r: Awaited<ReturnType<CpuPool['readLog']>>;
    try {
      r = await pool.readLog({
        files: store.files(service, stream), mode, lines: q.lines, since: q.since, text: q.text, regex: q.regex, budgetMs: SCAN_BUDGET_MS,
        ...(mask.length ? { mask: [...mask] } : {}),
      }, SCAN_BUDGET_MS + READ_GRACE_MS);
    } catch (err) {
      // The pool ends a task that runs past its limit (a regex that never finishes, a swamped machine).
      if ((err as Error).name === 'AbortError') throw unavailable(`reading the logs took longer than ${(SCAN_BUDGET_MS + READ_GRACE_MS) / 1000}s; try fewer lines or a narrower search`);
      throw err;
    }
    // A line newer than the last time mark was written by now.
    const now = Date.now();
    return { ...r, lines: r.lines.map((l): LogEntry => ({ ...l, at: l.at ?? now, stream })) };
  }));
  const time = (l: LogEntry) => l.at;
  let lines = results.flatMap((r) => r.lines);
  let truncated = results.some((r) => r.truncated);
  if (results.length > 1) {
    // Interleave by time of writing. Marks are about a second apart, so within one mark interval
    // the order across streams is unknown: stdout first; within a stream, by offset.
    const rank = (s: Stream) => (s === 'stdout' ? 0 : 1);
    const byTime = (a: LogEntry, b: LogEntry) => time(a) - time(b) || rank(a.stream) - rank(b.stream) || a.offset - b.offset;
    lines.sort(mode === 'search' ? (a, b) => byTime(b, a) : byTime);
    // tail and since give up to `lines` per stream; a search gives the newest `lines` matches in all.
    if (mode === 'search' && lines.length > q.lines) {
      truncated = true;
      lines = lines.slice(0, q.lines);
    }
  }
  return { lines, truncated, timedOut: results.some((r) => r.timedOut) };
}

/**
 * The logs of a replicated service: each instance's, tagged with the instance and merged by time
 * of writing — the newest `lines` of them for a tail, the newest `lines` matches for a search.
 */
export async function queryInstances(
  store: LogStore, pool: CpuPool, instances: Array<{ id: string; mask: readonly string[] }>, q: LogQuery,
): Promise<LogAnswer> {
  const answers = await Promise.all(instances.map(async ({ id, mask }) => {
    const a = await queryLogs(store, pool, id, q, mask);
    return { ...a, lines: a.lines.map((l) => ({ ...l, instance: id })) };
  }));
  const search = q.text !== undefined || q.regex !== undefined;
  const byTime = (a: LogEntry, b: LogEntry) => a.at - b.at || a.instance!.localeCompare(b.instance!) || a.offset - b.offset;
  const lines = answers.flatMap((a) => a.lines).sort(search ? (a, b) => byTime(b, a) : byTime);
  const cap = q.lines * q.streams.length;
  const kept = search ? lines.slice(0, cap) : lines.slice(Math.max(0, lines.length - cap));
  return { lines: kept, truncated: kept.length < lines.length || answers.some((a) => a.truncated), timedOut: answers.some((a) => a.timedOut) };
}
