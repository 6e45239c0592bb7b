/**
 * Streamed responses on both engines, over real sockets: the head goes out before the body, and
 * backpressure holds — while the client does not read, the server stops pulling from the stream;
 * once it reads again, every byte arrives, in order.
 */
import { connect, type Socket } from 'node:net';
import t from 'tap';
import { loadOrchestratorConfig } from '../../src/config/load.js';
import { createEngine } from '../../src/http/engine/index.js';
import { load } from '../../src/http/engine/uws.js';
import { createSecurity, HttpServer } from '../../src/http/server.js';
import { silentLogger } from '../../src/log.js';
import { until } from '../helpers/process.mjs';

const CHUNK = 64 * 1024;
const TOTAL = 64 * 1024 * 1024;
const engines = load().uws ? (['uws', 'node'] as const) : (['node'] as const);

for (const name of engines) {
  t.test(`engine ${name}`, async (t) => {
    const config = { ...loadOrchestratorConfig(undefined, {}), api: { ...loadOrchestratorConfig(undefined, {}).api, rate_limit: 0 } };
    const { engine } = await createEngine(name);
    const server = new HttpServer(engine, createSecurity(config), silentLogger);
    let pulled = 0;
    let cancelled = false;
    let seq = 0;
    server.route({
      method: 'get', pattern: '/stream', scope: 'read',
      handler: () => ({
        status: 200, contentType: 'application/octet-stream',
        stream: new ReadableStream<Uint8Array>({
          pull(controller) {
            if (pulled >= TOTAL) { controller.close(); return; }
            // Each chunk filled with its own number, so order and completeness can be checked.
            controller.enqueue(new Uint8Array(CHUNK).fill(seq++ % 251));
            pulled += CHUNK;
          },
          cancel() { cancelled = true; },
        }),
      }),
    });
    server.route({ method: 'get', pattern: '/other', handler: () => ({ status: 200, json: { ok: true } }) });
    const port = await server.listen('127.0.0.1', 0);
    t.teardown(() => server.close());

    const socket: Socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const got: Buffer[] = [];
    let head = '';
    socket.on('data', (d: Buffer) => got.push(d));
    socket.write('GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await until(() => { head = Buffer.concat(got).toString('latin1'); return head.includes('\r\n\r\n'); }, 'the head');
    t.match(head, /^HTTP\/1\.1 200 /, 'the head comes at once');
    t.match(head.toLowerCase(), /transfer-encoding: chunked/);
    socket.pause();

    // Not reading: the pulls stop well short of the whole body (kernel buffers and one engine chunk).
    let last = -1;
    await until(() => { const still = pulled === last; last = pulled; return still; }, { what: 'pulls to stop', everyMs: 300 });
    t.ok(pulled < TOTAL / 2, `backpressure: ${pulled} of ${TOTAL} bytes pulled while the client does not read`);
    t.same(await (await fetch(`http://127.0.0.1:${port}/other`)).json(), { ok: true }, 'others are served meanwhile');

    // Reading again: everything arrives.
    const bodyStart = () => Buffer.concat(got).indexOf('\r\n\r\n') + 4;
    socket.resume();
    await until(() => Buffer.concat(got).subarray(bodyStart()).includes('\r\n0\r\n\r\n'), { what: 'the last chunk', timeoutMs: 60_000 });
    const body = dechunk(Buffer.concat(got).subarray(bodyStart()));
    t.equal(body.length, TOTAL, 'every byte');
    let inOrder = true;
    for (let i = 0; i < TOTAL / CHUNK; i++) if (body[i * CHUNK] !== i % 251 || body[i * CHUNK + CHUNK - 1] !== i % 251) { inOrder = false; break; }
    t.ok(inOrder, 'in order');
    t.notOk(cancelled);
    socket.destroy();

    // HEAD: the head only; the stream is cancelled unread.
    const headAnswer = await fetch(`http://127.0.0.1:${port}/stream`, { method: 'HEAD' });
    t.equal(headAnswer.status, 200);
    t.equal((await headAnswer.arrayBuffer()).byteLength, 0, 'HEAD has no body');
    await until(() => cancelled, 'the HEAD stream cancelled');
    cancelled = false;

    // A client going away cancels the stream.
    pulled = 0;
    seq = 0;
    const quitter = connect(port, '127.0.0.1');
    quitter.on('data', () => quitter.destroy());
    quitter.on('error', () => undefined);
    quitter.write('GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await until(() => cancelled, 'the stream cancelled');
    t.pass('a client that goes away cancels the stream');
  });
}

/** The body of a chunked transfer encoding. */
function dechunk(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    const size = parseInt(raw.subarray(at, eol).toString('latin1'), 16);
    if (!size) return Buffer.concat(parts);
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}
