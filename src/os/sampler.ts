/**
 * Resource sampling of whole process trees: one /proc scan finds each group's members, pidusage
 * measures them, and per-service CPU% (of one core) and RSS are the sums over the tree.
 * Requests that arrive together (actors sample on a shared grid) share one scan.
 */
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

export async function sampleTrees(requests: SampleRequest[]): Promise<SampleResult[]> {
  const tree = new ProcTree(procTable());
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
