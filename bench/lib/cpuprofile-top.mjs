// Where a thread's busy time went, from a V8 CPU profile (`node --cpu-prof`, one file per thread):
// busy ms per second of profile, then self time by function and by file (package), largest first.
// `--from S --to S` looks only at that window, in seconds since the profile began (≈ the process's or
// the worker's start; the idle bench prints its window so for each scenario it profiles).
//   node bench/lib/cpuprofile-top.mjs FILE.cpuprofile [--from S] [--to S] [--top N=25]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals: [file] } = parseArgs({ allowPositionals: true, options: { from: { type: 'string', default: '0' }, to: { type: 'string' }, top: { type: 'string', default: '25' } } });
if (!file) {
  process.stderr.write('usage: node bench/lib/cpuprofile-top.mjs FILE.cpuprofile [--from S] [--to S] [--top N]\n');
  process.exit(2);
}
const top = Number(values.top);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const from = profile.startTime + Number(values.from) * 1e6;
const to = values.to === undefined ? profile.endTime : Math.min(profile.endTime, profile.startTime + Number(values.to) * 1e6);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
let t = profile.startTime;
let samples = 0;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i] ?? 0;
  if (t < from || t > to) continue;
  samples++;
  const id = profile.samples[i];
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const totalUs = to - from;
const where = (url) => {
  if (!url) return '(native)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.startsWith('node:')) return url;
  return url.replace(/^file:\/\//, '').replace(/^.*\/(dist|src)\//, '$1/');
};
const fns = new Map();
const files = new Map();
let idle = 0;
for (const [id, us] of self) {
  const { callFrame: f } = byId.get(id);
  if (f.functionName === '(idle)') { idle += us; continue; }
  const key = `${f.functionName || '(anonymous)'} ${where(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
  fns.set(key, (fns.get(key) ?? 0) + us);
  const w = f.url ? where(f.url) : f.functionName;
  files.set(w, (files.get(w) ?? 0) + us);
}
const busy = totalUs - idle;
const seconds = totalUs / 1e6;
const line = (name, us) => `${(us / 1000 / seconds).toFixed(2).padStart(8)} ms/s ${((us / busy) * 100).toFixed(1).padStart(5)} %  ${name}`;
const out = [
  `${file}: ${seconds.toFixed(1)} s profiled, busy ${(busy / 1000 / seconds).toFixed(2)} ms/s (${((busy / totalUs) * 100).toFixed(2)} % of the thread), ${samples} samples`,
  '', 'by file or package (self time):',
  ...[...files].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => line(k, v)),
  '', 'by function (self time):',
  ...[...fns].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => line(k, v)),
];
process.stdout.write(`${out.join('\n')}\n`);
