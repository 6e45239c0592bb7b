// Garbage collection in a window of a `node --trace-gc` log (seconds since each isolate started), per isolate (the main
// thread and each worker have their own heap): collections, pause time, and the allocation rate as
// scavenges see it (what each scavenge freed from the young generation: nearly everything a
// steady-state program allocates dies young).
//   node bench/lib/trace-gc-sum.mjs FILE --from S --to S
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals: [file] } = parseArgs({ allowPositionals: true, options: { from: { type: 'string' }, to: { type: 'string' } } });
if (!file || values.from === undefined || values.to === undefined) {
  process.stderr.write('usage: node bench/lib/trace-gc-sum.mjs FILE --from S --to S\n');
  process.exit(2);
}
const [from, to] = [Number(values.from) * 1000, Number(values.to) * 1000];
const seconds = (to - from) / 1000;
// [pid:0xISOLATE]   12345 ms: Scavenge 4.1 (5.9) -> 3.2 (6.4) MB, 0.56 / 0.00 ms  ...
const LINE = /^\[\d+:(0x[0-9a-f]+)\]\s+(\d+) ms: ([A-Za-z-]+(?: \([^)]*\))?)[^\d]*([\d.]+) \(([\d.]+)\) -> ([\d.]+) \(([\d.]+)\) MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ ([\d.]+) ms/;
const isolates = new Map();
for (const line of readFileSync(file, 'utf8').split('\n')) {
  const m = LINE.exec(line);
  if (!m) continue;
  const [, isolate, at, kind, before, , after, , pause] = m;
  const list = isolates.get(isolate) ?? [];
  list.push({ at: Number(at), kind: kind.split(' ')[0], before: Number(before), after: Number(after), pause: Number(pause) });
  isolates.set(isolate, list);
}
for (const [isolate, all] of isolates) {
  const list = all.filter((e) => e.at >= from && e.at <= to);
  const kinds = {};
  for (const e of list) kinds[e.kind] = (kinds[e.kind] ?? 0) + 1;
  const pause = list.reduce((a, e) => a + e.pause, 0);
  const freed = list.filter((e) => e.kind === 'Scavenge').reduce((a, e) => a + Math.max(0, e.before - e.after), 0);
  process.stdout.write(`isolate ${isolate} (${all.length} collections in all): ${from / 1000}–${to / 1000} s: ${JSON.stringify(kinds)}, pauses ${pause.toFixed(1)} ms (${(pause / seconds).toFixed(2)} ms/s), scavenged ${(freed / seconds * 1024).toFixed(0)} kB/s, heap after the last ${list.at(-1)?.after ?? '-'} MB\n`);
}
