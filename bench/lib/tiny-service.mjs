// A minimal HTTP service for benches: GET /health answers {"status":"healthy"}; GET /started
// answers {"at": …}, when this process began (performance.timeOrigin, ms since the epoch, with
// fractions), so a bench can time a restart up to the new process itself, whoever started it. Env: PORT.
import { createServer } from 'node:http';

const started = JSON.stringify({ at: performance.timeOrigin });
const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(req.url === '/started' ? started : '{"status":"healthy"}');
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
