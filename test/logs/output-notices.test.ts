/**
 * Output silence needs to know a service wrote at all: the log store sees a live file grow and its
 * actor gets an `output` fact, at most about once a second per service, and only for services
 * whose spec watches for silence.
 */
import t from 'tap';
import type { Fact } from '../../src/actors/protocol.js';
import { bootNow } from '../../src/clock.js';
import { harness, node } from '../helpers/harness.js';

t.test('output facts: throttled per service, only where silence is configured', async (t) => {
  const h = await harness(t, {
    services: {
      watched: { id: 'watched', executable: node('ticker.mjs'), environment: { EVERY_MS: 50 }, silence: { timeout_seconds: 60, action: 'alert' } },
      unwatched: { id: 'unwatched', executable: node('ticker.mjs'), environment: { EVERY_MS: 50 } },
    },
  });
  const seen: Array<{ id: string; at: number }> = [];
  const host = h.o.host;
  const deliver = host.deliver.bind(host);
  host.deliver = (fact: Fact) => {
    if (fact.msg.type === 'output') seen.push({ id: fact.id, at: bootNow() });
    deliver(fact);
  };
  await h.waitView('unwatched', (v) => v.state === 'running');
  const watched = await h.waitFor(() => {
    const w = seen.filter((s) => s.id === 'watched');
    return w.length >= 3 ? w : undefined;
  }, 'three output facts for the watched service');
  const gaps = watched.slice(1).map((s, i) => s.at - watched[i]!.at);
  t.ok(gaps.every((g) => g >= 1000), `at most one a second while it writes 20 lines a second (gaps ${gaps.map(Math.round).join(', ')} ms)`);
  t.ok(gaps.every((g) => g < 3000), 'and one at least every few seconds while it writes');
  t.same(seen.filter((s) => s.id === 'unwatched'), [], 'none for a service without silence configured');
});
