// Where a process's resident memory is, from /proc/PID/smaps: anonymous memory (V8's heaps of
// every thread, malloc's arenas of worker threads), the [heap] of malloc's main arena, thread
// stacks, and each mapped file (the node binary, native addons such as uWS and better-sqlite3, the
// libraries). A look inside for bench/README.md, not a figure of its own.
//   node bench/lib/rss-map.mjs PID        (or import { rssMap } and call it with a pid)
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';

/** kB of Rss (and Anonymous) per kind of mapping, largest first. */
export function rssMap(pid) {
  const groups = new Map();
  let current = null;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const path = head[1].trim();
      const kind = path === '' ? 'anonymous (V8 heaps of all threads, thread arenas)'
        : path === '[heap]' ? '[heap] (malloc main arena)'
          : path.startsWith('[stack') ? '[stack]'
            : path.startsWith('[') ? path
              : `file ${basename(path)}`;
      current = groups.get(kind) ?? { kind, rssKb: 0, anonKb: 0 };
      groups.set(kind, current);
      continue;
    }
    const field = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (field && current) current[field[1] === 'Rss' ? 'rssKb' : 'anonKb'] += Number(field[2]);
  }
  return [...groups.values()].filter((g) => g.rssKb > 0).sort((a, b) => b.rssKb - a.rssKb);
}

/** The largest `limit` kinds, one per line ("  12.3 MB  kind"), and the total in MB. */
export function formatRssMap(rows, limit = 15) {
  const lines = rows.slice(0, limit).map((r) => `${(r.rssKb / 1024).toFixed(1).padStart(7)} MB  ${r.kind}${r.anonKb && r.anonKb !== r.rssKb ? ` (${(r.anonKb / 1024).toFixed(1)} MB anonymous)` : ''}`);
  return { text: lines.join('\n'), totalMb: rows.reduce((s, r) => s + r.rssKb, 0) / 1024 };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { text, totalMb } = formatRssMap(rssMap(Number(process.argv[2])));
  process.stdout.write(`${text}\n${totalMb.toFixed(1).padStart(7)} MB  in all\n`);
}
