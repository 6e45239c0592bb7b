// Writes 100-byte numbered lines to stdout for SECONDS (argv[2]) as fast as it can, or at
// BYTES_PER_SEC (argv[3], 0 = unlimited), then exits 0.
import { writeSync } from 'node:fs';

const seconds = Number(process.argv[2] ?? 10);
const rate = Number(process.argv[3] ?? 0);
const start = Date.now();
const end = start + seconds * 1000;
const pad = 'x'.repeat(85);
let n = 0;
let written = 0;
function burst() {
  while (Date.now() < end) {
    if (rate > 0 && written > ((Date.now() - start) / 1000) * rate) { setTimeout(burst, 2); return; }
    let chunk = '';
    for (let i = 0; i < 1000; i++) chunk += `line ${String(n++).padStart(8, '0')} ${pad}\n`;
    writeSync(1, chunk);
    written += chunk.length;
  }
}
burst();
