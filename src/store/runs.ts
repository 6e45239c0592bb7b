/**
 * The pid ledger: one row per process the orchestrator started. pid, process group and the
 * process start time (/proc/PID/stat field 22) together identify a process even after the pid is
 * reused, so a restarted orchestrator re-adopts only what is really its own. Writes go through
 * PendingWrites: while the registry cannot be written they are held, in order, not refused.
 */
import type { DB } from './db.js';
import type { PendingWrites } from './pending-writes.js';

export interface RunRow {
  id: number;
  service: string;
  run_id: string;
  pid: number;
  pgid: number;
  proc_start: number;
  boot_id: string;
  started_at: number;
  ended_at: number | null;
  exit_code: number | null;
  signal: string | null;
  reason: string | null;
  /** SHA-256 (hex) of the run's ORCHESTRATOR_TOKEN (os/tokens.ts); null for runs recorded before tokens. */
  token_hash: string | null;
  /** Byte offsets of the run's output in the live stdout/stderr files (null: not known; a rotation during the run resets the file). */
  stdout_start: number | null;
  stderr_start: number | null;
  stdout_end: number | null;
  stderr_end: number | null;
}

/** Byte offsets in a service's live log files. */
export interface LogOffsets { stdout: number; stderr: number }

export type NewRun = Pick<RunRow, 'service' | 'run_id' | 'pid' | 'pgid' | 'proc_start' | 'boot_id' | 'started_at'> & { token_hash?: string | null };

export class RunLedger {
  private readonly insert;
  private readonly identify;
  private readonly end;
  private readonly leaderEnd;
  private readonly open;
  private readonly one;
  private readonly recent;
  private readonly count;
  private readonly page;
  private readonly startOffsets;
  private readonly endOffsets;

  constructor(private readonly db: DB, private readonly writes: PendingWrites) {
    this.insert = db.prepare<NewRun, void>(
      'INSERT INTO runs (service, run_id, pid, pgid, proc_start, boot_id, started_at, token_hash) VALUES (@service, @run_id, @pid, @pgid, @proc_start, @boot_id, @started_at, @token_hash)',
    );
    this.identify = db.prepare<[number, number, number, number, string, string], void>(
      'UPDATE runs SET pid = ?, pgid = ?, proc_start = ?, started_at = ? WHERE service = ? AND run_id = ? AND ended_at IS NULL',
    );
    this.end = db.prepare<[number, number | null, string | null, string, string, string], void>(
      'UPDATE runs SET ended_at = ?, exit_code = COALESCE(?, exit_code), signal = COALESCE(?, signal), reason = ? WHERE service = ? AND run_id = ? AND ended_at IS NULL',
    );
    this.leaderEnd = db.prepare<[number | null, string | null, string, string, string], void>(
      'UPDATE runs SET exit_code = ?, signal = ?, reason = ? WHERE service = ? AND run_id = ? AND ended_at IS NULL',
    );
    this.open = db.prepare<[], RunRow>('SELECT * FROM runs WHERE ended_at IS NULL ORDER BY id');
    this.one = db.prepare<[number], RunRow>('SELECT * FROM runs WHERE id = ?');
    this.recent = db.prepare<[string, number], RunRow>('SELECT * FROM runs WHERE service = ? ORDER BY id DESC LIMIT ?');
    this.count = db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM runs WHERE service = ?');
    this.page = db.prepare<[string, number, number], RunRow>('SELECT * FROM runs WHERE service = ? AND id < ? ORDER BY id DESC LIMIT ?');
    this.startOffsets = db.prepare<[number, number, string, string], void>('UPDATE runs SET stdout_start = ?, stderr_start = ? WHERE service = ? AND run_id = ? AND ended_at IS NULL');
    this.endOffsets = db.prepare<[number, number, string, string], void>('UPDATE runs SET stdout_end = ?, stderr_end = ? WHERE service = ? AND run_id = ? AND stdout_end IS NULL');
  }

  /**
   * Written just before a spawn (pid 0): if the orchestrator dies before it learns the pid, the
   * next one still knows a process may exist and finds it by its ORCHESTRATOR_RUN_ID. The token's
   * hash is kept so a run re-adopted later is still authorised by the token it was started with.
   */
  pending(service: string, runId: string, bootId: string, at: number, tokenHash: string | null = null): void {
    this.writes.write('run', () => this.insert.run({ service, run_id: runId, pid: 0, pgid: 0, proc_start: 0, boot_id: bootId, started_at: at, token_hash: tokenHash }));
  }

  /** Where the run's output begins in the live log files (their sizes as it starts). */
  logStart(service: string, runId: string, at: LogOffsets): void {
    this.writes.write('run', () => this.startOffsets.run(at.stdout, at.stderr, service, runId));
  }

  /** Where the run's output ends (written just before the run is marked ended). */
  logEnd(service: string, runId: string, at: LogOffsets): void {
    this.writes.write('run', () => this.endOffsets.run(at.stdout, at.stderr, service, runId));
  }

  /** Runs of a service, newest first, older than the row id `before` (paging). */
  before(service: string, before: number, limit: number): RunRow[] {
    return this.page.all(service, before, limit);
  }

  /** The pending run's process is known now. */
  identified(service: string, runId: string, pid: number, pgid: number, procStart: number, at: number): void {
    this.writes.write('run', () => this.identify.run(pid, pgid, procStart, at, service, runId));
  }

  /** The run is over: its process group is empty (an exit status already recorded is kept when none is given). */
  ended(service: string, runId: string, at: number, code: number | null, signal: string | null, reason: string): void {
    this.writes.write('run', () => this.end.run(at, code, signal, reason, service, runId));
  }

  /**
   * The leader exited but its group still has live processes: the exit is recorded and the run
   * stays open until the group is empty, so a new orchestrator still knows there is a group to clear.
   */
  leaderExited(service: string, runId: string, code: number | null, signal: string | null, reason: string): void {
    this.writes.write('run', () => this.leaderEnd.run(code, signal, reason, service, runId));
  }

  /**
   * A new orchestrator takes over a live run: the old row ends and the new one opens in one
   * transaction, so a kill -9 in between cannot leave the process out of the ledger.
   */
  handOver(oldRunId: string, run: NewRun, at: number): void {
    this.writes.write('run', () => this.db.transaction(() => {
      this.end.run(at, null, null, 'handed over to a new orchestrator', run.service, oldRunId);
      this.insert.run({ ...run, token_hash: run.token_hash ?? null });
    })());
  }

  /** Runs never seen to end: candidates for re-adoption. */
  openRuns(): RunRow[] {
    return this.open.all();
  }

  /** One row by its id (a hand-over names the row it came from). */
  row(id: number): RunRow | undefined {
    return this.one.get(id);
  }

  history(service: string, limit: number): RunRow[] {
    return this.recent.all(service, limit);
  }

  total(service: string): number {
    return this.count.get(service)?.n ?? 0;
  }
}
