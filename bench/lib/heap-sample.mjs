// What a running Node process's main thread allocates, by function and by file: V8's sampling heap
// profiler over the inspector, counting objects that scavenges and full collections freed too (so
// it shows the allocation rate, not what stays). SIGUSR1 opens the inspector on 127.0.0.1:9229.
//   node bench/lib/heap-sample.mjs PID [seconds=30] [top=25]
import { WebSocket } from 'undici';

const [pidArg, secondsArg, topArg] = process.argv.slice(2);
if (!pidArg) {
  process.stderr.write('usage: node bench/lib/heap-sample.mjs PID [seconds=30] [top=25]\n');
  process.exit(2);
}
const seconds = Number(secondsArg ?? 30);
const top = Number(topArg ?? 25);
process.kill(Number(pidArg), 'SIGUSR1');
let targets;
for (let i = 0; i < 50 && !targets; i++) {
  await new Promise((r) => setTimeout(r, 100));
  try { targets = await (await fetch('http://127.0.0.1:9229/json/list')).json(); } catch { /* not open yet */ }
}
if (!targets?.length) throw new Error('the inspector did not open on 127.0.0.1:9229');
const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
let id = 0;
const waiting = new Map();
ws.onmessage = (m) => {
  const msg = JSON.parse(m.data);
  if (msg.id && waiting.has(msg.id)) { waiting.get(msg.id)(msg); waiting.delete(msg.id); }
};
const call = (method, params = {}) => new Promise((resolve) => { const n = ++id; waiting.set(n, resolve); ws.send(JSON.stringify({ id: n, method, params })); });

await call('HeapProfiler.enable');
await call('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
await new Promise((r) => setTimeout(r, seconds * 1000));
const { result } = await call('HeapProfiler.stopSampling');
await call('HeapProfiler.disable');
ws.close();

const byFn = new Map();
const byFile = new Map();
let total = 0;
const where = (url) => {
  if (!url) return '(native)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  return m ? m[1] : url.replace(/^file:\/\//, '').replace(/^.*\/(dist|src)\//, '$1/');
};
(function walk(node) {
  const f = node.callFrame;
  if (node.selfSize) {
    total += node.selfSize;
    const key = `${f.functionName || '(anonymous)'} ${where(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    byFn.set(key, (byFn.get(key) ?? 0) + node.selfSize);
    byFile.set(where(f.url), (byFile.get(where(f.url)) ?? 0) + node.selfSize);
  }
  for (const c of node.children) walk(c);
})(result.profile.head);
const line = (k, v) => `${(v / 1024 / seconds).toFixed(1).padStart(8)} kB/s ${((v / total) * 100).toFixed(1).padStart(5)} %  ${k}`;
process.stdout.write([
  `pid ${pidArg}: ${(total / 1024 / seconds).toFixed(0)} kB/s allocated on the main thread over ${seconds} s (sampled)`,
  '', 'by file or package:', ...[...byFile].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => line(k, v)),
  '', 'by function:', ...[...byFn].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => line(k, v)),
].join('\n') + '\n');
