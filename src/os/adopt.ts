/**
 * Taking over the runs an earlier orchestrator left running. Services outlive the orchestrator
 * (their own process groups, their own log files), so a new one reads the pid ledger, proves each
 * open run's processes are still the ones it recorded (same boot, same start time, the run mark:
 * marks.ts), and holds them as its own (child.ts) — never a reused pid or group of a stranger.
 * Adopted leaders are not our children, so no exit event comes for them: they are polled. Groups
 * of ours that no ledger row accounts for are stopped before any service starts again, so no
 * service ever runs twice.
 */
import { constants as osConstants } from 'node:os';
import type { Logger } from 'pino';
import type { RunInfo } from '../actors/protocol.js';
import { bootNow } from '../clock.js';
import type { RunLedger, RunRow } from '../store/runs.js';
import type { Children, Run } from './child.js';
import {
  adoptedRunId, groupHolder, groupMayLive, leftBehind, markedProcesses, markedRuns, runMark, spawnedRunId,
  type GroupHolder, type LeftBehind, type MarkedRun,
} from './marks.js';
import { bootId, isLive, isSameProcess, readStat, ticksToMs } from './proc.js';
import { ADOPTED_POLL_MS, ADOPTED_STAT_EVERY, GROUP_POLL_MAX_MS, GROUP_POLL_MIN_MS, LEFT_BEHIND_KILL_WAIT_MS } from './timing.js';

export interface AdoptionOptions {
  ledger: RunLedger;
  log: Logger;
  registryId: string;
  children: Children;
}

/** A left-behind group after stopLeftBehind: the last signal it got, and whether it is gone. */
export interface StoppedGroup extends LeftBehind {
  signal: NodeJS.Signals;
  gone: boolean;
}

export class Adoption {
  private timer: NodeJS.Timeout | null = null;
  private tick = 0;

  constructor(private readonly opts: AdoptionOptions) {}

  /**
   * Re-adopt the processes an earlier orchestrator started, from the ledger. A row is ours only if
   * the machine has not rebooted, the pid still has the recorded start time (or, leader gone, its
   * group has members young enough to be its descendants), and a live member of the group carries
   * the run's mark: a group id reused by a stranger is never adopted, so never signalled. A leader
   * that died while we were down but left live processes in its group is adopted too (as exited),
   * so its group is cleared before the service starts again — never two copies at once. Returns
   * what was adopted, the rows whose processes are all gone (or were never ours), and the groups
   * carrying our mark that no row accounts for (leftBehind: see stopLeftBehind).
   */
  fromLedger(epoch: string): { adopted: RunInfo[]; vanished: RunRow[]; leftBehind: LeftBehind[] } {
    const { ledger, registryId, children } = this.opts;
    const adopted: RunInfo[] = [];
    const vanished: RunRow[] = [];
    const boot = bootId();
    const open = ledger.openRuns();
    // One scan of every process's mark: spawns the previous orchestrator never saw complete (pid 0)
    // are found by it, and so are groups of ours whose rows never reached the disk.
    const scanned = markedProcesses();
    const marked = markedRuns(scanned);
    for (const found of open) {
      if (children.get(found.service)) continue;
      const row = found.pid === 0 ? withPendingProcess(found, marked.get(runMark(registryId, found.service, found.run_id))) : found;
      if (row.pid <= 0) {
        // No process carries its mark: it never started (killed between recording and spawning),
        // or it ended, group and all, before anyone learnt its pid. Nothing to adopt or to clear.
        ledger.ended(row.service, row.run_id, Date.now(), null, null, 'no process found for it');
        continue;
      }
      const sameBoot = row.boot_id === boot;
      const leaderAlive = sameBoot && isSameProcess(row.pid, row.proc_start);
      const groupAlive = sameBoot && !leaderAlive && groupMayLive(row.pgid, row.proc_start);
      const origin = spawnedRunId(row, (id) => ledger.row(id));
      const mark = runMark(registryId, row.service, origin ?? row.run_id);
      const holder: GroupHolder = leaderAlive || groupAlive ? groupHolder(row.pgid, mark) : 'empty';
      if (holder !== 'ours') {
        if (holder === 'stranger') {
          this.opts.log.warn({ service: row.service, pgid: row.pgid, childPid: row.pid, mark },
            'the ledger\'s process group is alive but no member carries our run mark (its id was reused): not adopted, never signalled');
        }
        ledger.ended(row.service, row.run_id, Date.now(), null, null,
          holder === 'stranger' ? 'gone while the orchestrator was down (its process group id now belongs to another)' : 'gone while the orchestrator was down');
        vanished.push(row);
        continue;
      }
      const run: RunInfo = {
        runId: adoptedRunId(epoch, row.id), pid: row.pid, pgid: row.pgid,
        startedAt: ticksToMs(row.proc_start), adopted: true,
      };
      ledger.handOver(row.run_id, {
        service: row.service, run_id: run.runId, pid: row.pid, pgid: row.pgid, proc_start: row.proc_start,
        boot_id: boot, started_at: row.started_at, token_hash: row.token_hash,
      }, Date.now());
      // Its token goes on working: the process still has it in its environment.
      children.adopt({ id: row.service, run, startTicks: row.proc_start, child: null, mark, leaderExited: !leaderAlive, watching: false, tokenHash: row.token_hash });
      adopted.push(run);
    }
    if (adopted.length) this.watchLeaders();
    const claimed = new Set([...children.all()].map((p) => p.mark));
    return { adopted, vanished, leftBehind: leftBehind(scanned, registryId, claimed) };
  }

  /**
   * Stop process groups of ours that the ledger does not know (their rows were held in memory when
   * the disk was full and lost with a kill -9): their services start afresh, so they must be gone
   * first — never two copies at once. Each group gets its service's stop signal, then SIGKILL after
   * its stop timeout, and is signalled only while a live member carries its mark (never our own
   * group). Resolves once every group is empty, no longer ours, or would not die.
   */
  async stopLeftBehind(groups: LeftBehind[], stopOf: (service: string) => { signal: NodeJS.Signals; timeoutMs: number }): Promise<StoppedGroup[]> {
    const ownGroup = readStat(process.pid)?.pgid;
    return Promise.all(groups.filter((g) => g.pgid !== ownGroup && g.pgid !== process.pid).map(async (g) => {
      const { signal, timeoutMs } = stopOf(g.service);
      const log = this.opts.log.child({ service: g.service, pgid: g.pgid, childPid: g.pid, mark: g.mark });
      const send = (sig: NodeJS.Signals): boolean => {
        if (groupHolder(g.pgid, g.mark) !== 'ours') return false;
        try { process.kill(-g.pgid, sig); return true; } catch { return false; }
      };
      log.warn({ signal }, 'a process group of ours that the ledger does not know (its run was never recorded): stopping it');
      let forced = false;
      if (send(signal) && !(await groupGone(g, timeoutMs))) {
        forced = send('SIGKILL');
        if (forced && !(await groupGone(g, LEFT_BEHIND_KILL_WAIT_MS))) log.error('the group did not end after SIGKILL');
      }
      return { ...g, signal: forced ? 'SIGKILL' : signal, gone: groupHolder(g.pgid, g.mark) !== 'ours' };
    }));
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Adopted processes are not our children: no exit event comes. Poll cheaply (kill 0) often and
   * read /proc (zombies, pid reuse, exit status) every so often; stop once no adopted leader is left.
   */
  private watchLeaders(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.tick++;
      let any = false;
      for (const proc of this.opts.children.all()) {
        if (proc.child || proc.leaderExited) continue;
        any = true;
        const exit = this.leaderGone(proc);
        if (exit) this.opts.children.leaderExited(proc.id, proc.run.runId, exit.code, exit.signal);
      }
      if (!any && this.timer) { clearInterval(this.timer); this.timer = null; }
    }, ADOPTED_POLL_MS);
    this.timer.unref();
  }

  /** Whether an adopted leader is gone, with its exit status when /proc still showed it; undefined if it lives. */
  private leaderGone(proc: Run): { code: number | null; signal: string | null } | undefined {
    const unknown = { code: null, signal: null };
    try { process.kill(proc.run.pid, 0); } catch { return unknown; }
    if (this.tick % ADOPTED_STAT_EVERY !== 0) return undefined;
    const stat = readStat(proc.run.pid);
    if (!stat || stat.startTicks !== proc.startTicks) return unknown;
    if (!isLive(stat)) return decodeWaitStatus(stat.exitCode);
    return undefined;
  }
}

/** A pending row (pid 0) with the process found by its mark, if any. */
function withPendingProcess(row: RunRow, p: MarkedRun | undefined): RunRow {
  return p ? { ...row, pid: p.pgid, pgid: p.pgid, proc_start: p.startTicks } : row; // a service leads its own group
}

/** Wait (polling with backoff) until no live member of the group carries its mark; false at the deadline. */
async function groupGone(g: LeftBehind, timeoutMs: number): Promise<boolean> {
  const deadline = bootNow() + timeoutMs;
  for (let delay = GROUP_POLL_MIN_MS; ; delay = Math.min(delay * 2, GROUP_POLL_MAX_MS)) {
    if (groupHolder(g.pgid, g.mark) !== 'ours') return true;
    const left = deadline - bootNow();
    if (left <= 0) return false;
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, left)));
  }
}

const SIGNAL_NAMES = new Map(Object.entries(osConstants.signals).map(([name, num]) => [num, name]));

/** The exit status /proc shows for a zombie, as waitpid would report it. */
function decodeWaitStatus(status: number | null): { code: number | null; signal: string | null } {
  if (status === null || Number.isNaN(status)) return { code: null, signal: null };
  const sig = status & 0x7f;
  if (sig === 0) return { code: (status >> 8) & 0xff, signal: null };
  return { code: null, signal: SIGNAL_NAMES.get(sig) ?? `SIG${sig}` };
}
