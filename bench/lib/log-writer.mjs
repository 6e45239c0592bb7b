// Writes 100-byte numbered lines to stdout as fast as it can for SECONDS (argv[2]), then exits 0.
import { writeSync } from 'node:fs';

const end = Date.now() + Number(process.argv[2] ?? 10) * 1000;
const pad = 'x'.repeat(85);
let n = 0;
while (Date.now() < end) {
  let chunk = '';
  for (let i = 0; i < 1000; i++) chunk += `line ${String(n++).padStart(8, '0')} ${pad}\n`;
  writeSync(1, chunk);
}
