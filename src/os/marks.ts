/**
 * Run marks: how a restarted orchestrator tells its own process groups from anyone else's. Every
 * service process carries a run mark in its environment (RUN_ID_ENV); a group is ours only while a
 * live member carries the mark of the run the ledger says it holds. Pids and group ids are reused,
 * start times can be matched — the mark is what a stranger never has. A live group carrying this
 * registry's mark that no ledger row accounts for was left behind by us. Spawning (child.ts) gives
 * each run its mark; adoption (adopt.ts) and every signal to an adopted group check it (groupHolder).
 */
import type { RunRow } from '../store/runs.js';
import { envValue, groupMembers, isLive, procTable } from './proc.js';

/**
 * The environment variable every service process carries: registry identity, service and run id.
 * Run ids count per service ("<epoch>.<n>"), so two services share them: the mark needs all three
 * to be unique across services and orchestrators on one machine (see RunLedger.pending).
 */
export const RUN_ID_ENV = 'ORCHESTRATOR_RUN_ID';
export const runMark = (registryId: string, service: string, runId: string) => `${registryId}/${service}/${runId}`;

/** The run id a new orchestrator gives a run it takes over (the ledger row it came from, by id). */
export const adoptedRunId = (epoch: string, rowId: number) => `${epoch}.adopted.${rowId}`;
const ADOPTED_RUN = /^\d+\.adopted\.(\d+)$/;

/**
 * The run id a row's processes were started with, so the one in their mark: a hand-over renames a
 * run, so follow the hand-overs back to the spawn. Undefined if the chain is broken.
 */
export function spawnedRunId(row: RunRow, rowById: (id: number) => RunRow | undefined): string | undefined {
  let runId = row.run_id;
  const seen = new Set<number>();
  for (let m = ADOPTED_RUN.exec(runId); m; m = ADOPTED_RUN.exec(runId)) {
    const id = Number(m[1]);
    const before = seen.has(id) ? undefined : rowById(id);
    if (!before || before.service !== row.service) return undefined;
    seen.add(id);
    runId = before.run_id;
  }
  return runId;
}

/** Who holds a process group now: nobody live, a member carrying the mark (ours), or only others. */
export type GroupHolder = 'empty' | 'ours' | 'stranger';

export function groupHolder(pgid: number, mark: string): GroupHolder {
  const members = groupMembers(pgid);
  if (members.length === 0) return 'empty';
  return members.some((pid) => envValue(pid, RUN_ID_ENV) === mark) ? 'ours' : 'stranger';
}

/**
 * Does the process group an earlier orchestrator started still have live members that could be
 * ours by the ledger's dates? A live process whose pid is the group id but whose start time differs
 * means the id was reused by someone else; members older than our leader cannot be its descendants.
 * (Dates alone do not prove a group ours: groupHolder checks the run mark.)
 */
export function groupMayLive(pgid: number, leaderStartTicks: number): boolean {
  const table = procTable();
  const holder = table.find((p) => p.pid === pgid && isLive(p));
  if (holder && holder.startTicks !== leaderStartTicks) return false;
  return table.some((p) => p.pgid === pgid && isLive(p) && p.startTicks >= leaderStartTicks);
}

/** A run's process group (its leader's pid), dated by its leader or, leader gone, its oldest member. */
export interface MarkedRun {
  pgid: number;
  startTicks: number;
}

/** A live process carrying a run mark. */
export interface MarkedProcess extends MarkedRun {
  pid: number;
  mark: string;
}

/** Every live process on the machine that carries a run mark (one /proc scan, environ included). */
export function markedProcesses(): MarkedProcess[] {
  const out: MarkedProcess[] = [];
  for (const p of procTable()) {
    if (!isLive(p)) continue;
    const mark = envValue(p.pid, RUN_ID_ENV);
    if (mark !== undefined) out.push({ pid: p.pid, pgid: p.pgid, startTicks: p.startTicks, mark });
  }
  return out;
}

/**
 * The processes of every run on the machine, by run mark (one scan for all pending runs): the
 * run's own leader if it lives (the oldest, should a process it started have left the group with
 * the mark), else — the leader exited and left children behind — its group, led by the dead
 * leader's pid and dated by its oldest member, so adoption clears it.
 */
export function markedRuns(marked: MarkedProcess[] = markedProcesses()): Map<string, MarkedRun> {
  const leaders = new Map<string, MarkedRun>();
  const orphans = new Map<string, MarkedRun>();
  for (const p of marked) {
    const into = p.pid === p.pgid ? leaders : orphans;
    const seen = into.get(p.mark);
    if (!seen || p.startTicks < seen.startTicks) into.set(p.mark, { pgid: p.pgid, startTicks: p.startTicks });
  }
  for (const [mark, group] of orphans) if (!leaders.has(mark)) leaders.set(mark, group);
  return leaders;
}

/** A process group of ours that no open ledger row accounts for (its rows were lost). */
export interface LeftBehind {
  service: string;
  mark: string;
  pgid: number;
  /** The group's oldest process carrying the mark (its leader, unless the leader has exited). */
  pid: number;
}

/**
 * The process groups carrying a mark of this registry (same identity) that no adopted run
 * claims: a spawn whose ledger row never reached the disk (held while the disk was full, then the
 * orchestrator was killed), or whose row was ended while its processes lived. One entry per group.
 */
export function leftBehind(marked: MarkedProcess[], registryId: string, claimed: ReadonlySet<string>): LeftBehind[] {
  const prefix = `${registryId}/`;
  const groups = new Map<string, LeftBehind & { startTicks: number }>();
  for (const p of marked) {
    if (!p.mark.startsWith(prefix) || claimed.has(p.mark)) continue;
    const rest = p.mark.slice(prefix.length);
    const cut = rest.lastIndexOf('/');
    if (cut <= 0) continue; // not a mark we write
    const key = `${p.pgid} ${p.mark}`;
    const seen = groups.get(key);
    if (!seen || p.startTicks < seen.startTicks) groups.set(key, { service: rest.slice(0, cut), mark: p.mark, pgid: p.pgid, pid: p.pid, startTicks: p.startTicks });
  }
  return [...groups.values()].map(({ startTicks: _, ...g }) => g);
}
