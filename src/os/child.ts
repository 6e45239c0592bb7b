/**
 * A service's processes, one run at a time: start the run as the leader of its own process group
 * (detached), so it and everything it forks can be signalled together and outlive the
 * orchestrator; signal the group; and, once the leader has exited, watch until the group is empty,
 * because a run is over only when no process of it is left. Each step is reported as a fact
 * (`spawned`, `spawn_failed`, `exited`, `group_empty`) and recorded in the pid ledger.
 *
 * Runs taken over from an earlier orchestrator (adopt.ts) are kept here too, without a
 * ChildProcess: their group is signalled only while a live member carries the run's mark
 * (marks.ts), so a group id reused by a stranger is never signalled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Fact, KernelEffect, RunInfo } from '../actors/protocol.js';
import { bootNow } from '../clock.js';
import { splitCommandLine } from '../config/argv.js';
import type { LogOffsets, RunLedger } from '../store/runs.js';
import { openServiceLogsOrNone, serviceLogPath } from './logs.js';
import { groupHolder, RUN_ID_ENV, runMark, type GroupHolder } from './marks.js';
import { bootId, groupMembers, readStat, ticksToMs } from './proc.js';
import { GROUP_POLL_MAX_MS, GROUP_POLL_MIN_MS } from './timing.js';
import { needsRunEnv, resolveRunEnv, type SecretMasks } from './secrets.js';
import { newRunToken, TOKEN_ENV, type RunTokens } from './tokens.js';

/** A run the kernel holds: its process group and how to tell the group is still ours. */
export interface Run {
  id: string;
  run: RunInfo;
  startTicks: number;
  /** Our child; null for an adopted run, whose group is signalled only while it carries `mark`. */
  child: ChildProcess | null;
  /** The run mark its processes carry (RUN_ID_ENV). */
  mark: string;
  leaderExited: boolean;
  watching: boolean;
  /** SHA-256 (hex) of the run's token (tokens.ts); null for a run started before tokens were recorded. */
  tokenHash: string | null;
  /** Why we signalled it (a planned stop's exit reason): recorded with its exit in the ledger. */
  cause?: string;
}

export interface ChildrenOptions {
  logDir: string;
  ledger: RunLedger;
  log: Logger;
  registryId: string;
  baseEnv: Record<string, string>;
  /** The live runs' tokens: each run's is held from its spawn until it ends. */
  tokens: RunTokens;
  /** Each service's secret values, for masking its logs (os/secrets.ts). */
  masks: SecretMasks;
  onFact(fact: Fact): void;
  onLogProblem?(message: string | null): void;
}

const STRANGER_REASON = 'its process group no longer carries our run mark (treated as gone)';

/** The runs the kernel holds, one per service at most. */
export class Children {
  private readonly runs = new Map<string, Run>();
  private closed = false;

  constructor(private readonly opts: ChildrenOptions) {}

  get(id: string): Run | undefined {
    return this.runs.get(id);
  }

  all(): IterableIterator<Run> {
    return this.runs.values();
  }

  /** Hold a run taken over from an earlier orchestrator; a leader already gone has its group watched. */
  adopt(proc: Run): void {
    this.runs.set(proc.id, proc);
    if (proc.tokenHash) this.opts.tokens.set(proc.id, proc.run.runId, proc.tokenHash);
    if (proc.leaderExited) this.watchGroup(proc);
  }

  close(): void {
    this.closed = true;
  }

  spawn(e: Extract<KernelEffect, { type: 'spawn' }>): void {
    const { id, runId, spec } = e;
    const fail = (error: string) => this.opts.onFact({ id, msg: { type: 'spawn_failed', runId, error } });
    if (this.runs.has(id)) {
      fail(`a process of "${id}" is still running (pid ${this.runs.get(id)!.run.pid})`);
      return;
    }
    if (!spec.executable) {
      fail('no executable is registered for this service');
      return;
    }
    if (!needsRunEnv(spec)) {
      this.launch(e, {}, {});
      return;
    }
    // Env files and secrets are read now, at each start, without blocking the event loop; the
    // actor waits in starting as for any spawn in flight (a stop meanwhile waits for the outcome).
    resolveRunEnv(spec, process.env, this.opts.baseEnv).then((r) => {
      if (this.closed) return;
      if (!r.ok) {
        this.opts.log.warn({ service: id, runId, cause: r.cause, error: r.error }, 'start failed: its environment could not be built');
        this.opts.onFact({ id, msg: { type: 'spawn_failed', runId, error: r.error, cause: r.cause } });
        return;
      }
      if (this.runs.has(id)) {
        fail(`a process of "${id}" is still running (pid ${this.runs.get(id)!.run.pid})`);
        return;
      }
      this.opts.masks.add(id, Object.values(r.secrets));
      this.launch(e, r.fromFiles, r.secrets);
    }, (err: unknown) => fail(`could not build the environment: ${(err as Error).message}`));
  }

  /** Start the run's process, its environment built (see os/secrets.ts for the precedence). */
  private launch(e: Extract<KernelEffect, { type: 'spawn' }>, fromFiles: Record<string, string>, secrets: Record<string, string>): void {
    const { id, runId, spec } = e;
    const fail = (error: string) => this.opts.onFact({ id, msg: { type: 'spawn_failed', runId, error } });
    const executable = spec.executable!;
    const files = openServiceLogsOrNone(this.opts.logDir, id, this.opts.log, this.opts.onLogProblem);
    let child: ChildProcess;
    const token = newRunToken();
    // Supervision does not depend on the registry either: a disk that refuses writes has the row
    // held in memory (written once it can be); any other refusal is logged and the child still runs.
    this.record(id, () => this.opts.ledger.pending(id, runId, bootId(), Date.now(), token.hash), 'the run about to start');
    const startAt = this.logOffsets(id);
    if (startAt) this.record(id, () => this.opts.ledger.logStart(id, runId, startAt), 'the run\'s log offsets');
    // Held before the process starts: its first call may come before the spawn event.
    this.opts.tokens.set(id, runId, token.hash);
    try {
      const [command, ...args] = splitCommandLine(executable);
      child = spawn(command!, args, {
        cwd: spec.working_dir,
        env: {
          ...this.opts.baseEnv, ...fromFiles, ...spec.environment, ...secrets, ...this.ownEnv(),
          ORCHESTRATOR_SERVICE_ID: id, [TOKEN_ENV]: token.token, [RUN_ID_ENV]: runMark(this.opts.registryId, id, runId),
        },
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
      this.runs.set(id, { id, run, startTicks, child, mark: runMark(this.opts.registryId, id, runId), leaderExited: false, watching: false, tokenHash: token.hash });
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

  /** The run's leader is gone (its exit event, or adopt.ts's poll): the run ends now or with its group. */
  leaderExited(id: string, runId: string, code: number | null, signal: string | null): void {
    const proc = this.runs.get(id);
    if (!proc || proc.run.runId !== runId || proc.leaderExited) return;
    proc.leaderExited = true;
    const text = signal ? `killed by ${signal}` : `exited with code ${code}`;
    const reason = proc.cause ? `${proc.cause}: ${text}` : text;
    const groupEmpty = this.holder(proc) !== 'ours';
    if (groupEmpty) this.runs.delete(id);
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

  signal(id: string, runId: string, signal: string, cause?: string): void {
    const proc = this.runs.get(id);
    if (!proc || proc.run.runId !== runId) return;
    if (cause && !proc.leaderExited) proc.cause = cause;
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

  // ------------------------------------------------------------------------------------------

  /** The orchestrator's own variables in the base environment (ORCHESTRATOR_URL): they go on top of the spec's. */
  private ownEnv(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.opts.baseEnv)) if (k.startsWith('ORCHESTRATOR_')) out[k] = v;
    return out;
  }

  /** After the leader is gone, poll until no live process is left in its group. */
  private watchGroup(proc: Run): void {
    if (proc.watching) return;
    proc.watching = true;
    let delay = GROUP_POLL_MIN_MS;
    const check = () => {
      if (this.closed || this.runs.get(proc.id) !== proc) return;
      const holder = this.holder(proc);
      if (holder !== 'ours') {
        this.runs.delete(proc.id);
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

  /**
   * Who holds the run's process group. Our own child's group is ours while it has live members; an
   * adopted group only while a live member carries the run mark (and a stranger's is warned about).
   */
  private holder(proc: Run): GroupHolder {
    const holder = proc.child ? (groupMembers(proc.run.pgid).length ? 'ours' : 'empty') : groupHolder(proc.run.pgid, proc.mark);
    if (holder === 'stranger') {
      this.opts.log.warn({ service: proc.id, pgid: proc.run.pgid, childPid: proc.run.pid, mark: proc.mark },
        'the adopted process group no longer carries our run mark: treated as gone, never signalled');
    }
    return holder;
  }

  /** An adopted run whose group is no longer ours: it is over, as if its group had emptied. */
  private disown(proc: Run): void {
    this.runs.delete(proc.id);
    const { runId } = proc.run;
    this.opts.onFact({ id: proc.id, msg: proc.leaderExited ? { type: 'group_empty', runId } : { type: 'exited', runId, code: null, signal: null, groupEmpty: true } });
    afterFact(() => this.endRun(proc.id, runId, null, null, STRANGER_REASON));
  }

  private endRun(id: string, runId: string, code: number | null, signal: string | null, reason: string): void {
    this.opts.tokens.drop(id, runId);
    const endAt = this.logOffsets(id);
    if (endAt) this.record(id, () => this.opts.ledger.logEnd(id, runId, endAt), 'the run\'s log offsets');
    this.record(id, () => this.opts.ledger.ended(id, runId, Date.now(), code, signal, reason), 'the exit');
  }

  /** The sizes of the service's live log files (null when they cannot be read). */
  private logOffsets(id: string): LogOffsets | null {
    try {
      return { stdout: statSync(serviceLogPath(this.opts.logDir, id, 'stdout')).size, stderr: statSync(serviceLogPath(this.opts.logDir, id, 'stderr')).size };
    } catch {
      return null;
    }
  }

  /** A ledger write that must not stop supervision if the registry refuses it. */
  private record(id: string, write: () => void, what: string): void {
    try {
      write();
    } catch (err) {
      this.opts.log.error({ err, service: id }, `could not record ${what} in the ledger`);
    }
  }
}

/**
 * Bookkeeping of a lifecycle fact (its ledger write and log line) that may follow the fact itself:
 * facts leave for the actors in a microtask queued when they are delivered, so a microtask queued
 * after delivering runs right after the fact has left — and still before this thread handles
 * anything else (such as the spawn that answers an exit).
 */
function afterFact(fn: () => void): void {
  queueMicrotask(fn);
}

function describeSpawnError(err: NodeJS.ErrnoException, executable: string, cwd: string): string {
  switch (err.code) {
    case 'ENOENT': return `cannot run "${executable}": command or working_dir ${cwd} not found`;
    case 'EACCES': return `cannot run "${executable}": permission denied`;
    default: return `cannot run "${executable}": ${err.message}`;
  }
}
