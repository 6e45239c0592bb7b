/** Reading Linux /proc: process identity (start time), group membership and the process table. */
import { readdirSync, readFileSync } from 'node:fs';
import { clockTicks } from '../clock.js';

export interface ProcStat {
  pid: number;
  comm: string;
  /** R, S, D, Z (zombie), T, X ... */
  state: string;
  ppid: number;
  pgid: number;
  /** Field 22: start time in clock ticks since boot. */
  startTicks: number;
  /** Field 52: exit status as waitpid reports it (meaningful for zombies). */
  exitCode: number | null;
}

/** Parse /proc/PID/stat. The command name may hold spaces and parentheses, so split after the last ')'. */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < 0) return undefined;
  const rest = text.slice(close + 2).trim().split(' ');
  // rest[0] is field 3 (state); field N is rest[N - 3].
  const field = (n: number) => rest[n - 3];
  const exit = field(52);
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state: field(3) ?? '?',
    ppid: Number(field(4)),
    pgid: Number(field(5)),
    startTicks: Number(field(22)),
    exitCode: exit === undefined ? null : Number(exit),
  };
}

export function readStat(pid: number): ProcStat | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

export function ticksToMs(ticks: number): number {
  return (ticks * 1000) / clockTicks();
}

/** The pid of every process on the machine: one directory read (~0.5 ms for 1,000), no stat. */
export function procPids(): number[] {
  const out: number[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57) out.push(Number(name));
  }
  return out;
}

/** Every process on the machine (a snapshot). */
export function procTable(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const pid of procPids()) {
    const stat = readStat(pid);
    if (stat) out.push(stat);
  }
  return out;
}

/** Neither a zombie nor dead: a process that still runs (or sleeps). */
export const isLive = (s: ProcStat) => s.state !== 'Z' && s.state !== 'X';

/**
 * Live (non-zombie) members of a process group. Zombies are excluded: where PID 1 does not reap
 * orphans (containers), a dead grandchild stays a zombie in the group forever.
 */
export function groupMembers(pgid: number, table?: ProcStat[]): number[] {
  // Fast path: no process at all in the group.
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return [];
  }
  return (table ?? procTable()).filter((s) => s.pgid === pgid && isLive(s)).map((s) => s.pid);
}

/**
 * The process table indexed once for many lookups: a sampling round asks for the tree of every
 * service, so the index is built once per table, not once per service. `update` brings it up to
 * date from a pid listing (procPids) at the cost of one stat per process started since: ended
 * processes drop out, new ones join their group and parent. What it cannot see is a change in a
 * known process (re-parented, or moved to another group); a new table from a full scan does.
 */
export class ProcTree {
  /** Live processes by pid. */
  private readonly procs = new Map<number, ProcStat>();
  /** Pids read and found dead (zombies), so an update does not read them again. */
  private readonly dead = new Set<number>();
  private readonly byGroup = new Map<number, Set<number>>();
  private readonly children = new Map<number, Set<number>>();

  constructor(table: ProcStat[]) {
    for (const s of table) this.add(s);
  }

  /** Take in the processes started since (read now) and drop those that ended. */
  update(pids: number[]): void {
    const listed = new Set(pids);
    for (const pid of this.procs.keys()) if (!listed.has(pid)) this.remove(pid);
    for (const pid of this.dead) if (!listed.has(pid)) this.dead.delete(pid);
    for (const pid of pids) {
      if (this.procs.has(pid) || this.dead.has(pid)) continue;
      const s = readStat(pid);
      if (s) this.add(s);
    }
  }

  /** The whole tree of a group: its live members plus live descendants of the leader that left the group. */
  members(pgid: number): number[] {
    const members = new Set(this.byGroup.get(pgid));
    const stack = [...members];
    while (stack.length) {
      const pid = stack.pop()!;
      for (const child of this.children.get(pid) ?? []) {
        if (!members.has(child)) { members.add(child); stack.push(child); }
      }
    }
    return [...members];
  }

  private add(s: ProcStat): void {
    if (!isLive(s)) { this.dead.add(s.pid); return; }
    this.procs.set(s.pid, s);
    addTo(this.byGroup, s.pgid, s.pid);
    addTo(this.children, s.ppid, s.pid);
  }

  private remove(pid: number): void {
    const s = this.procs.get(pid)!;
    this.procs.delete(pid);
    removeFrom(this.byGroup, s.pgid, pid);
    removeFrom(this.children, s.ppid, pid);
  }
}

function addTo(map: Map<number, Set<number>>, key: number, value: number): void {
  const set = map.get(key);
  if (set) set.add(value); else map.set(key, new Set([value]));
}

function removeFrom(map: Map<number, Set<number>>, key: number, value: number): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}

let cachedBootId: string | undefined;
/** Identifies this boot of the machine: a pid from before a reboot is never ours. */
export function bootId(): string {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      cachedBootId = 'unknown';
    }
  }
  return cachedBootId;
}

/**
 * One variable of a process's environment as it started (/proc/PID/environ), or undefined: not
 * set, not readable, or the process is a zombie (its environment is gone with its memory).
 */
export function envValue(pid: number, name: string): string | undefined {
  let environ: string;
  try {
    environ = `\0${readFileSync(`/proc/${pid}/environ`, 'latin1')}`;
  } catch {
    return undefined;
  }
  const prefix = `\0${name}=`;
  const at = environ.indexOf(prefix);
  if (at < 0) return undefined;
  const end = environ.indexOf('\0', at + prefix.length);
  return environ.slice(at + prefix.length, end < 0 ? undefined : end);
}

/** Is this pid still the very process that started at `startTicks`? */
export function isSameProcess(pid: number, startTicks: number): boolean {
  const stat = readStat(pid);
  return !!stat && stat.startTicks === startTicks && isLive(stat);
}
