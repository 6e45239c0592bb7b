// A bare hello-world server, the floor a scenario measures an engine against:
//   node bench/lib/hello-world.mjs uws    native uWebSockets.js (the binary, as the uws engine loads it)
//   node bench/lib/hello-world.mjs node   node:http
// Answers "Hello World!" on every path on 127.0.0.1, prints "port N" once listening, or
// "skip <reason>" and exits 3 when the engine cannot run here (no native uWS binary loads).
import { createServer } from 'node:http';
import { loadNativeUws } from './native-uws.mjs';

const kind = process.argv[2];
process.on('SIGTERM', () => process.exit(0));
if (kind === 'uws') {
  const native = loadNativeUws();
  if (!native.uws) { process.stdout.write(`skip ${native.reason}\n`); process.exit(3); }
  const uWS = native.uws;
  uWS.App().get('/*', (res) => { res.end('Hello World!'); }).listen('127.0.0.1', 0, (s) => {
    process.stdout.write(`port ${uWS.us_socket_local_port(s)}\n`);
  });
} else if (kind === 'node') {
  const server = createServer((req, res) => { res.end('Hello World!'); });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${server.address().port}\n`));
} else {
  process.stderr.write('usage: hello-world.mjs uws|node\n');
  process.exit(2);
}
