/** Replicated test services: consecutive free ports, and a service of replica.mjs on them. */
import { createServer } from 'node:net';
import { node } from './harness.js';

const portFree = (port: number) => new Promise<boolean>((resolve) => {
  const srv = createServer();
  srv.once('error', () => resolve(false));
  srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
});

/** A base port with `n` free ports from it. */
export async function freeRange(n: number): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    const free = await Promise.all(Array.from({ length: n }, (_, i) => portFree(base + i)));
    if (free.every(Boolean)) return base;
  }
}

/** A replicated service of replica.mjs: instance n serves /health on BASE + n. */
export const web = (base: number, replicas: number, more: Record<string, unknown> = {}) => ({
  id: 'web',
  executable: node('replica.mjs'),
  replicas,
  port: base,
  environment: { PORT: '${SERVICE_PORT}' },
  health_endpoint: 'http://127.0.0.1:${SERVICE_PORT}/health',
  ...more,
});

