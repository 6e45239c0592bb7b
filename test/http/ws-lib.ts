/**
 * What the /ws feed tests share: a harness with feed options, a flooding fixture, a crash loop that
 * makes events by itself, and helpers over received frames.
 */
import { fileURLToPath } from 'node:url';
import { harness, PUBLIC_DIR, type Harness } from '../helpers/harness.js';
import { listen, type HttpHandle } from '../../src/http/index.js';
import type { FeedOptions } from '../../src/http/ws.js';
import type { Msg } from './lib.js';

export const flood = fileURLToPath(new URL('./fixtures/flood.mjs', import.meta.url));

export type Tap = Parameters<typeof harness>[0];

/** A harness whose HTTP side is started here, with feed options the default listen does not take. */
export async function withFeed(t: Tap, opts: Parameters<typeof harness>[1], feed: FeedOptions): Promise<{ h: Harness; http: HttpHandle; url: string }> {
  const h = await harness(t, { ...opts, http: false });
  const http = await listen(h.o.ports, h.o.log.logger, { publicDir: PUBLIC_DIR, feed });
  t.teardown(() => http.close());
  return { h, http, url: `http://127.0.0.1:${http.port}` };
}

export const seqsOf = (msgs: Msg[]) => msgs.filter((m) => m.type === 'event').map((m) => m.event.seq as number);
export const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/** A crash loop that produces a steady stream of events without anyone driving it. */
export const churn = {
  id: 'churn', executable: 'false',
  restart_policy: { max_retries: 1_000_000, backoff_seconds: 0.01, max_backoff_seconds: 0.03, reset_after_seconds: 3600 },
};
export const noIntensityLimit = { supervision: { intensity: 1_000_000, period_seconds: 1 } };
