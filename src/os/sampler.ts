/**
 * Resource sampling of whole process trees: a /proc scan finds each group's members, pidusage
 * measures them, and per-service CPU% (of one core) and RSS are the sums over the tree.
 * Requests that arrive together (actors sample on a shared grid) share one scan, and a scan serves
 * later rounds for up to TREE_MAX_AGE_MS: reading every /proc/PID/stat on the machine is the
 * round's largest cost (~30 ms for 1,100 processes), while trees change rarely. A group the scan
 * does not know (a service started since) forces a fresh one; a member that ended drops out at
 * once (pidusage no longer finds it); a child forked meanwhile is counted from the next scan on.
 */
import { performance } from 'node:perf_hooks';
import pidusage from 'pidusage';
import { ProcTree, procTable } from './proc.js';

export interface SampleRequest {
  id: string;
  runId: string;
  pgid: number;
}

export interface SampleResult extends SampleRequest {
  cpu: number;
  rss: number;
  pids: number;
}

/** How long one process-table scan serves sampling rounds (three rounds at the default 5 s). */
export const TREE_MAX_AGE_MS = 15_000;

let scanned: { tree: ProcTree; at: number } | null = null;

function currentTree(pgids: number[], now: number): ProcTree {
  if (!scanned || now - scanned.at >= TREE_MAX_AGE_MS || pgids.some((g) => !scanned!.tree.knows(g))) {
    scanned = { tree: new ProcTree(procTable()), at: now };
  }
  return scanned.tree;
}

export async function sampleTrees(requests: SampleRequest[], now = performance.now()): Promise<SampleResult[]> {
  const tree = currentTree(requests.map((r) => r.pgid), now);
  const trees = requests.map((r) => tree.members(r.pgid));
  const allPids = [...new Set(trees.flat())];
  // One pidusage call for all (it reads /proc/uptime once per call); a pid gone meanwhile is left out.
  const stats = new Map<number, { cpu: number; memory: number }>();
  if (allPids.length) {
    try {
      const all = await pidusage(allPids) as Record<string, { cpu: number; memory: number } | undefined>;
      for (const pid of allPids) {
        const s = all[pid];
        if (s) stats.set(pid, { cpu: s.cpu, memory: s.memory });
      }
    } catch { /* the only pid asked for is gone */ }
  }
  return requests.map((r, i) => {
    let cpu = 0;
    let rss = 0;
    let pids = 0;
    for (const pid of trees[i]!) {
      const s = stats.get(pid);
      if (!s) continue;
      cpu += s.cpu;
      rss += s.memory;
      pids++;
    }
    return { ...r, cpu: Math.round(cpu * 10) / 10, rss, pids };
  });
}
