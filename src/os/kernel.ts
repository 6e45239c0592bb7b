/**
 * The kernel side of the orchestrator: the main thread's owner of every OS handle. It performs
 * the effects actors ask for (spawn, signal, probe, sample), keeps the pid ledger, and reports
 * what happened back as facts. It decides nothing about lifecycles.
 *
 * Each service runs as the leader of its own process group (detached), writes its own output to
 * O_APPEND files, and is known by pid + process start time + the run mark in its environment, so
 * it outlives the orchestrator and can be re-adopted later without ever mistaking a reused pid or
 * process group for it (adopt.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import type { Logger } from 'pino';
import type { KernelEffect, RunInfo, ServiceMsg } from '../actors/protocol.js';
import { bootNow } from '../clock.js';
import { splitCommandLine } from '../config/argv.js';
import type { RunLedger, RunRow } from '../store/runs.js';
import {
  adoptedRunId, groupHolder, groupMayLive, leftBehind, markedProcesses, markedRuns, RUN_ID_ENV, runMark, spawnedRunId,
  withPendingProcess, type GroupHolder, type LeftBehind,
} from './adopt.js';
import { openServiceLogs } from './logs.js';
import { Prober } from './probes.js';
import { bootId, groupMembers, isLive, isSameProcess, readStat, ticksToMs } from './proc.js';
import { sampleTrees, type SampleRequest } from './sampler.js';

export interface Fact {
  id: string;
  msg: ServiceMsg;
}

export interface KernelOptions {
  logDir: string;
  ledger: RunLedger;
  log: Logger;
  /** Identity of the registry: with the run id it marks every process as ours (RUN_ID_ENV). */
  registryId: string;
  /** Environment every child starts from (already filtered); the spec's environment goes on top. */
  baseEnv: Record<string, string>;
  onFact(fact: Fact): void;
  /** Log files could not be opened for a child (null: they could again). The child runs without them. */
  onLogProblem?(message: string | null): void;
}

interface Proc {
  id: string;
  run: RunInfo;
  startTicks: number;
  /** Our child; null for an adopted run, whose group is signalled only while it carries `mark`. */
  child: ChildProcess | null;
  /** The run mark its processes carry (RUN_ID_ENV). */
  mark: string;
  leaderExited: boolean;
  watching: boolean;
}

const ADOPTED_POLL_MS = 100;
const ADOPTED_STAT_EVERY = 10;
const GROUP_POLL_MIN_MS = 10;
const GROUP_POLL_MAX_MS = 250;

const SIGNAL_NAMES = new Map(Object.entries(osConstants.signals).map(([name, num]) => [num, name]));

export class Kernel {
  private readonly procs = new Map<string, Proc>();
  private readonly prober = new Prober();
  private pendingSamples: SampleRequest[] = [];
  private adoptedTimer: NodeJS.Timeout | null = null;
  private adoptedTick = 0;
  private closed = false;

  constructor(private readonly opts: KernelOptions) {}

  execute(effects: KernelEffect[]): void {
    for (const e of effects) {
      if (this.closed) return;
      switch (e.type) {
        case 'spawn': this.spawn(e); break;
        case 'signal': this.signal(e.id, e.runId, e.signal); break;
        case 'probe': this.probe(e); break;
        case 'sample': this.queueSample(e.id, e.runId); break;
      }
    }
  }

  /** Every process group the kernel currently owns, by service id. */
  liveRuns(): Map<string, { run: RunInfo; leaderExited: boolean }> {
    const out = new Map<string, { run: RunInfo; leaderExited: boolean }>();
    for (const p of this.procs.values()) out.set(p.id, { run: p.run, leaderExited: p.leaderExited });
    return out;
  }

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
  adoptFromLedger(epoch: string): { adopted: RunInfo[]; vanished: RunRow[]; leftBehind: LeftBehind[] } {
    const adopted: RunInfo[] = [];
    const vanished: RunRow[] = [];
    const boot = bootId();
    const open = this.opts.ledger.openRuns();
    // One scan of every process's mark: spawns the previous orchestrator never saw complete (pid 0)
    // are found by it, and so are groups of ours whose rows never reached the disk.
    const scanned = markedProcesses();
    const marked = markedRuns(scanned);
    for (const found of open) {
      if (this.procs.has(found.service)) continue;
      const row = found.pid === 0 ? withPendingProcess(found, marked.get(runMark(this.opts.registryId, found.service, found.run_id))) : found;
      if (row.pid <= 0) {
        // No process carries its mark: it never started (killed between recording and spawning),
        // or it ended, group and all, before anyone learnt its pid. Nothing to adopt or to clear.
        this.opts.ledger.ended(row.service, row.run_id, Date.now(), null, null, 'no process found for it');
        continue;
      }
      const sameBoot = row.boot_id === boot;
      const leaderAlive = sameBoot && isSameProcess(row.pid, row.proc_start);
      const groupAlive = sameBoot && !leaderAlive && groupMayLive(row.pgid, row.proc_start);
      const origin = spawnedRunId(row, (id) => this.opts.ledger.row(id));
      const mark = runMark(this.opts.registryId, row.service, origin ?? row.run_id);
      const holder: GroupHolder = leaderAlive || groupAlive ? groupHolder(row.pgid, mark) : 'empty';
      if (holder !== 'ours') {
        if (holder === 'stranger') {
          this.opts.log.warn({ service: row.service, pgid: row.pgid, childPid: row.pid, mark },
            'the ledger\'s process group is alive but no member carries our run mark (its id was reused): not adopted, never signalled');
        }
        this.opts.ledger.ended(row.service, row.run_id, Date.now(), null, null,
          holder === 'stranger' ? 'gone while the orchestrator was down (its process group id now belongs to another)' : 'gone while the orchestrator was down');
        vanished.push(row);
        continue;
      }
      const run: RunInfo = {
        runId: adoptedRunId(epoch, row.id), pid: row.pid, pgid: row.pgid,
        startedAt: ticksToMs(row.proc_start), adopted: true,
      };
      this.opts.ledger.handOver(row.run_id, {
        service: row.service, run_id: run.runId, pid: row.pid, pgid: row.pgid, proc_start: row.proc_start,
        boot_id: boot, started_at: row.started_at,
      }, Date.now());
      const proc: Proc = { id: row.service, run, startTicks: row.proc_start, child: null, mark, leaderExited: !leaderAlive, watching: false };
      this.procs.set(row.service, proc);
      if (!leaderAlive) this.watchGroup(proc);
      adopted.push(run);
    }
    if (adopted.length) this.watchAdopted();
    const claimed = new Set([...this.procs.values()].map((p) => p.mark));
    return { adopted, vanished, leftBehind: leftBehind(scanned, this.opts.registryId, claimed) };
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

  async close(): Promise<void> {
    this.closed = true;
    if (this.adoptedTimer) clearInterval(this.adoptedTimer);
    await this.prober.close();
  }

  // ------------------------------------------------------------------------------------------

  private spawn(e: Extract<KernelEffect, { type: 'spawn' }>): void {
    const { id, runId, spec } = e;
    const fail = (error: string) => this.opts.onFact({ id, msg: { type: 'spawn_failed', runId, error } });
    if (this.procs.has(id)) {
      fail(`a process of "${id}" is still running (pid ${this.procs.get(id)!.run.pid})`);
      return;
    }
    const executable = spec.executable;
    if (!executable) {
      fail('no executable is registered for this service');
      return;
    }
    // Supervision does not depend on logging: without its files, a child writes nowhere.
    let files: { stdout: number | 'ignore'; stderr: number | 'ignore'; close(): void };
    try {
      files = openServiceLogs(this.opts.logDir, id);
      this.opts.onLogProblem?.(null);
    } catch (err) {
      this.opts.log.warn({ err, service: id }, 'cannot open the service log files; starting it without them');
      this.opts.onLogProblem?.(`cannot open log files for "${id}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; it runs without logs until its next start`);
      files = { stdout: 'ignore', stderr: 'ignore', close: () => undefined };
    }
    let child: ChildProcess;
    // Supervision does not depend on the registry either: a disk that refuses writes has the row
    // held in memory (written once it can be); any other refusal is logged and the child still runs.
    this.record(id, () => this.opts.ledger.pending(id, runId, bootId(), Date.now()), 'the run about to start');
    try {
      const [command, ...args] = splitCommandLine(executable);
      child = spawn(command!, args, {
        cwd: spec.working_dir,
        env: { ...this.opts.baseEnv, ...spec.environment, ORCHESTRATOR_SERVICE_ID: id, [RUN_ID_ENV]: runMark(this.opts.registryId, id, runId) },
        stdio: ['ignore', files.stdout, files.stderr],
        detached: true,
      });
    } catch (err) {
      files.close();
      this.endRun(id, runId, null, null, 'spawn failed');
      fail((err as Error).message);
      return;
    }
    files.close(); // the child holds its own copies of the descriptors
    const log = this.opts.log.child({ service: id });
    let spawned = false;
    child.once('error', (err) => {
      if (spawned) { log.warn({ err }, 'child process error'); return; }
      this.endRun(id, runId, null, null, 'spawn failed');
      fail(describeSpawnError(err as NodeJS.ErrnoException, executable, spec.working_dir));
    });
    child.once('spawn', () => {
      spawned = true;
      const pid = child.pid!;
      const stat = readStat(pid);
      const startTicks = stat?.startTicks ?? 0;
      const run: RunInfo = { runId, pid, pgid: pid, startedAt: stat ? ticksToMs(startTicks) : bootNow() };
      this.procs.set(id, { id, run, startTicks, child, mark: runMark(this.opts.registryId, id, runId), leaderExited: false, watching: false });
      this.opts.onFact({ id, msg: { type: 'spawned', run } });
      afterFact(() => {
        this.record(id, () => this.opts.ledger.identified(id, runId, pid, pid, startTicks, Date.now()), 'the run');
        log.info({ childPid: pid, runId }, 'spawned');
      });
    });
    child.once('exit', (code, signal) => {
      if (!spawned) return;
      this.leaderExited(id, runId, code, signal);
    });
  }

  private leaderExited(id: string, runId: string, code: number | null, signal: string | null): void {
    const proc = this.procs.get(id);
    if (!proc || proc.run.runId !== runId || proc.leaderExited) return;
    proc.leaderExited = true;
    const reason = signal ? `killed by ${signal}` : `exited with code ${code}`;
    const groupEmpty = this.holder(proc) !== 'ours';
    if (groupEmpty) this.procs.delete(id);
    this.opts.onFact({ id, msg: { type: 'exited', runId, code, signal, groupEmpty } });
    afterFact(() => {
      this.opts.log.info({ service: id, childPid: proc.run.pid, code, signal, groupEmpty }, 'exited');
      if (groupEmpty) {
        this.endRun(id, runId, code, signal, reason);
      } else {
        // The run stays open in the ledger while its group lives: a kill -9 of the orchestrator
        // now must leave the next one knowing there is a group to clear.
        this.record(id, () => this.opts.ledger.leaderExited(id, runId, code, signal, reason), 'the leader\'s exit');
        this.watchGroup(proc);
      }
    });
  }

  private endRun(id: string, runId: string, code: number | null, signal: string | null, reason: string): void {
    this.record(id, () => this.opts.ledger.ended(id, runId, Date.now(), code, signal, reason), 'the exit');
  }

  /** A ledger write that must not stop supervision if the registry refuses it. */
  private record(id: string, write: () => void, what: string): void {
    try {
      write();
    } catch (err) {
      this.opts.log.error({ err, service: id }, `could not record ${what} in the ledger`);
    }
  }

  /** After the leader is gone, poll until no live process is left in its group. */
  private watchGroup(proc: Proc): void {
    if (proc.watching) return;
    proc.watching = true;
    let delay = GROUP_POLL_MIN_MS;
    const check = () => {
      if (this.closed || this.procs.get(proc.id) !== proc) return;
      const holder = this.holder(proc);
      if (holder !== 'ours') {
        this.procs.delete(proc.id);
        // The run ends with its group (the leader's exit status, if known, stays on the row).
        this.endRun(proc.id, proc.run.runId, null, null, holder === 'stranger' ? STRANGER_REASON : 'process group ended after the leader');
        this.opts.onFact({ id: proc.id, msg: { type: 'group_empty', runId: proc.run.runId } });
        return;
      }
      delay = Math.min(delay * 2, GROUP_POLL_MAX_MS);
      setTimeout(check, delay).unref();
    };
    setTimeout(check, delay).unref();
  }

  private signal(id: string, runId: string, signal: string): void {
    const proc = this.procs.get(id);
    if (!proc || proc.run.runId !== runId) return;
    if (!proc.child) {
      // Adopted: the group is signalled only while a member still carries our mark.
      const holder = this.holder(proc);
      if (holder === 'stranger') { this.disown(proc); return; }
      if (holder === 'empty') { if (proc.leaderExited) this.watchGroup(proc); return; }
    }
    try {
      process.kill(-proc.run.pgid, signal as NodeJS.Signals);
      this.opts.log.debug({ service: id, pgid: proc.run.pgid, signal }, 'signalled process group');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ESRCH') this.opts.log.warn({ err, service: id, signal }, 'could not signal process group');
      // ESRCH: the group is already empty; the exit or group watch reports it.
      if (code === 'ESRCH' && proc.leaderExited) this.watchGroup(proc);
    }
  }

  /**
   * Who holds the run's process group. Our own child's group is ours while it has live members; an
   * adopted group only while a live member carries the run mark (and a stranger's is warned about).
   */
  private holder(proc: Proc): GroupHolder {
    const holder = proc.child ? (groupMembers(proc.run.pgid).length ? 'ours' : 'empty') : groupHolder(proc.run.pgid, proc.mark);
    if (holder === 'stranger') {
      this.opts.log.warn({ service: proc.id, pgid: proc.run.pgid, childPid: proc.run.pid, mark: proc.mark },
        'the adopted process group no longer carries our run mark: treated as gone, never signalled');
    }
    return holder;
  }

  /** An adopted run whose group is no longer ours: it is over, as if its group had emptied. */
  private disown(proc: Proc): void {
    this.procs.delete(proc.id);
    const { runId } = proc.run;
    this.opts.onFact({ id: proc.id, msg: proc.leaderExited ? { type: 'group_empty', runId } : { type: 'exited', runId, code: null, signal: null, groupEmpty: true } });
    afterFact(() => this.endRun(proc.id, runId, null, null, STRANGER_REASON));
  }

  private probe(e: Extract<KernelEffect, { type: 'probe' }>): void {
    // Written out, not spread: a thousand of these a second, and a spread into a literal is V8's
    // slow path (a dictionary-mode copy).
    this.prober.probe(e.url, e.timeoutMs, (o) => {
      this.opts.onFact({ id: e.id, msg: { type: 'probed', runId: e.runId, gen: e.gen, ok: o.ok, latencyMs: o.latencyMs, status: o.status, error: o.error } });
    });
  }

  private queueSample(id: string, runId: string): void {
    const proc = this.procs.get(id);
    if (!proc || proc.run.runId !== runId) return;
    if (this.pendingSamples.length === 0) setImmediate(() => this.runSamples());
    this.pendingSamples.push({ id, runId, pgid: proc.run.pgid });
  }

  private runSamples(): void {
    const batch = this.pendingSamples;
    this.pendingSamples = [];
    sampleTrees(batch).then((results) => {
      for (const r of results) this.opts.onFact({ id: r.id, msg: { type: 'sampled', runId: r.runId, cpu: r.cpu, rss: r.rss, pids: r.pids } });
    }, (err: unknown) => this.opts.log.warn({ err }, 'sampling failed'));
  }

  /**
   * Adopted processes are not our children: no exit event comes. Poll cheaply (kill 0) often and
   * read /proc (zombies, pid reuse, exit status) every so often.
   */
  private watchAdopted(): void {
    if (this.adoptedTimer) return;
    this.adoptedTimer = setInterval(() => {
      this.adoptedTick++;
      let any = false;
      for (const proc of this.procs.values()) {
        if (proc.child || proc.leaderExited) continue;
        any = true;
        let gone = false;
        try { process.kill(proc.run.pid, 0); } catch { gone = true; }
        let exit: { code: number | null; signal: string | null } = { code: null, signal: null };
        if (!gone && this.adoptedTick % ADOPTED_STAT_EVERY === 0) {
          const stat = readStat(proc.run.pid);
          if (!stat || stat.startTicks !== proc.startTicks) gone = true;
          else if (!isLive(stat)) { gone = true; exit = decodeWaitStatus(stat.exitCode); }
        }
        if (gone) this.leaderExited(proc.id, proc.run.runId, exit.code, exit.signal);
      }
      if (!any && this.adoptedTimer) { clearInterval(this.adoptedTimer); this.adoptedTimer = null; }
    }, ADOPTED_POLL_MS);
    this.adoptedTimer.unref();
  }
}

/** A left-behind group after stopLeftBehind: the last signal it got, and whether it is gone. */
export interface StoppedGroup extends LeftBehind {
  signal: NodeJS.Signals;
  gone: boolean;
}

const LEFT_BEHIND_KILL_WAIT_MS = 5_000;

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

const STRANGER_REASON = 'its process group no longer carries our run mark (treated as gone)';

/**
 * Bookkeeping of a lifecycle fact (its ledger write and log line) that may follow the fact itself:
 * facts leave for the actors in a microtask queued when they are delivered, so a microtask queued
 * after delivering runs right after the fact has left — and still before this thread handles
 * anything else (such as the spawn that answers an exit).
 */
function afterFact(fn: () => void): void {
  queueMicrotask(fn);
}

function decodeWaitStatus(status: number | null): { code: number | null; signal: string | null } {
  if (status === null || Number.isNaN(status)) return { code: null, signal: null };
  const sig = status & 0x7f;
  if (sig === 0) return { code: (status >> 8) & 0xff, signal: null };
  return { code: null, signal: SIGNAL_NAMES.get(sig) ?? `SIG${sig}` };
}

function describeSpawnError(err: NodeJS.ErrnoException, executable: string, cwd: string): string {
  switch (err.code) {
    case 'ENOENT': return `cannot run "${executable}": command or working_dir ${cwd} not found`;
    case 'EACCES': return `cannot run "${executable}": permission denied`;
    default: return `cannot run "${executable}": ${err.message}`;
  }
}

/** The orchestrator's environment minus its own settings and npm's noise; children start from this. */
export function childBaseEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || k.startsWith('ORCHESTRATOR_') || k.startsWith('npm_')) continue;
    out[k] = v;
  }
  return out;
}
