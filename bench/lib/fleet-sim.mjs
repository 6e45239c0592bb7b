// The fleet simulator: one process serving the health endpoints of many simulated services
// (GET /health/<id>), recording when each was probed. GET /stats summarises since the last
// POST /reset: probes per id, and the gaps between consecutive probes.
//   node bench/lib/fleet-sim.mjs <port>
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
let arrivals = new Map();
const server = createServer((req, res) => {
  if (req.url.startsWith('/health/')) {
    const id = req.url.slice(8);
    const list = arrivals.get(id);
    if (list) list.push(performance.now()); else arrivals.set(id, [performance.now()]);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"healthy"}');
    return;
  }
  if (req.url === '/reset') {
    arrivals = new Map();
    res.end('{}');
    return;
  }
  if (req.url.startsWith('/stats')) {
    const interval = Number(new URL(req.url, 'http://x').searchParams.get('interval') ?? 1000);
    let total = 0;
    let late = 0;
    let maxGap = 0;
    let gaps = 0;
    let gapSum = 0;
    for (const list of arrivals.values()) {
      total += list.length;
      for (let i = 1; i < list.length; i++) {
        const gap = list[i] - list[i - 1];
        if (gap > 1.5 * interval) late++;
        maxGap = Math.max(maxGap, gap);
        gaps++;
        gapSum += gap;
      }
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ids: arrivals.size, total, late, maxGap, meanGap: gaps ? gapSum / gaps : 0 }));
    return;
  }
  res.writeHead(404);
  res.end();
});
server.keepAliveTimeout = 120_000;
// All of 127.0.0.0/8, so each simulated service can have an origin of its own.
server.listen(port, '0.0.0.0', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
