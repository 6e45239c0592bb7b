#!/usr/bin/env node
// Example AI agent service in Node: an HTTP API with the orchestrator's /health contract.
//   GET  /health   -> {"status":"healthy","service":...,"timestamp":...}
//   POST /v1/chat  -> echoes the last user message back, like a (very) small language model
import { createServer } from 'node:http';

const port = Number(process.env.SERVICE_PORT ?? 8001);
const id = process.env.ORCHESTRATOR_SERVICE_ID ?? 'echo-agent';
let served = 0;

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'healthy', service: id, timestamp: new Date().toISOString(), requests: served }));
    return;
  }
  if (req.method === 'POST' && req.url === '/v1/chat') {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { body += c; if (body.length > 65536) req.destroy(); });
    req.on('end', () => {
      served++;
      let text = '';
      try { text = JSON.parse(body).messages?.at(-1)?.content ?? ''; } catch { /* empty reply */ }
      console.log(`chat request ${served}: ${JSON.stringify(text).slice(0, 80)}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ role: 'assistant', content: `You said: ${text}` }));
    });
    return;
  }
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: 'not found' }));
});

server.listen(port, '127.0.0.1', () => console.log(`${id} listening on http://127.0.0.1:${port}`));

process.on('SIGTERM', () => {
  console.log('Shutting down gracefully...');
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
