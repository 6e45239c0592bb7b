/**
 * Resource sampling of whole process trees: a /proc scan finds each group's members, pidusage
 * measures them, and per-service CPU% (of one core) and RSS are the sums over the tree.
 * Reading every /proc/PID/stat on the machine is the round's largest cost (~23 ms for 1,100
 * processes), so a full scan is made once per TREE_MAX_AGE_MS; every round in between lists /proc
 * (~0.5 ms) and reads the stat of only the processes started since, so a child forked into a
 * service's tree is measured from the next round on (a memory limit sees it within one sample
 * interval). A member that ended drops out at once. What only the full scan sees: a known process
 * re-parented out of a tree or moved to another group.
 */
import { performance } from 'node:perf_hooks';
import pidusage from 'pidusage';
import { isLive, ProcTree, procPids, procTable, readStat } from './proc.js';
import { TREE_MAX_AGE_MS } from './timing.js';

export interface SampleRequest {
  id: string;
  runId: string;
  pgid: number;
}

export interface SampleResult extends SampleRequest {
  cpu: number;
  rss: number;
  pids: number;
  /** CPU seconds the tree's processes used since the previous sample (a process new to it: all of its own). */
  cpuSeconds: number;
}

/** Each measured process's CPU time (ms, user + system) at its last sample: the next one adds the difference. */
const lastCpuMs = new Map<number, number>();

let scanned: { tree: ProcTree; at: number } | null = null;

function currentTree(now: number): ProcTree {
  if (!scanned || now - scanned.at >= TREE_MAX_AGE_MS) scanned = { tree: new ProcTree(procTable()), at: now };
  else scanned.tree.update(procPids());
  return scanned.tree;
}

export async function sampleTrees(requests: SampleRequest[], now = performance.now()): Promise<SampleResult[]> {
  const tree = currentTree(now);
  const trees = requests.map((r) => tree.members(r.pgid));
  const allPids = [...new Set(trees.flat())];
  // One pidusage call for all (it reads /proc/uptime once per call); a pid gone meanwhile is left out.
  const stats = new Map<number, { cpu: number; memory: number; ctime: number }>();
  if (allPids.length) {
    try {
      const all = await pidusage(allPids) as Record<string, { cpu: number; memory: number; ctime: number } | undefined>;
      for (const pid of allPids) {
        const s = all[pid];
        if (s) stats.set(pid, { cpu: s.cpu, memory: s.memory, ctime: s.ctime });
      }
    } catch { /* the only pid asked for is gone */ }
  }
  // Processes no longer measured are forgotten (a pid reused later starts from its own 0).
  for (const pid of lastCpuMs.keys()) if (!stats.has(pid)) lastCpuMs.delete(pid);
  return requests.map((r, i) => {
    let cpu = 0;
    let rss = 0;
    let pids = 0;
    let cpuMs = 0;
    for (const pid of trees[i]!) {
      const s = stats.get(pid);
      if (!s) continue;
      cpuMs += Math.max(0, s.ctime - (lastCpuMs.get(pid) ?? 0));
      lastCpuMs.set(pid, s.ctime);
      // No resident memory: an exited process its parent has not reaped yet (a zombie) is not a member.
      if (s.memory === 0 && !isLiveNow(pid)) continue;
      cpu += s.cpu;
      rss += s.memory;
      pids++;
    }
    return { ...r, cpu: Math.round(cpu * 10) / 10, rss, pids, cpuSeconds: cpuMs / 1000 };
  });
}

function isLiveNow(pid: number): boolean {
  const s = readStat(pid);
  return s !== undefined && isLive(s);
}
