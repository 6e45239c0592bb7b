/**
 * The registry's disk fills up (a real 8 MB tmpfs under data/): a killed service is still
 * restarted and ends running, the condition shows in /health, /metrics and as an event, /ws
 * clients get every event in order, and once the ballast is gone every held record — runs,
 * events, statuses — is in the registry and the condition clears.
 */
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from '../../src/store/index.js';
import { fill, mountTmpfs, unfill } from '../helpers/disk.js';
import { harness, node } from '../helpers/harness.js';
import { freePort, until } from '../helpers/process.mjs';
import { WsClient } from '../http/lib.js';

interface Health { status: string; problems: string[] }

t.test('registry disk full: supervision goes on from memory, it shows, and everything is written when space returns', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orch-regfull-'));
  const data = join(dir, 'data');
  // The registry alone on an 8 MB tmpfs; the logs stay on the normal disk. Needs root (CI is).
  mountTmpfs(t, data, '8m', dir);
  const port = await freePort();
  const h = await harness(t, {
    dir, http: true,
    services: {
      web: { id: 'web', executable: node('healthy.mjs'), environment: { PORT: port }, health_endpoint: `http://127.0.0.1:${port}/health`, health: { interval_seconds: 0.2 }, restart_policy: { backoff_seconds: 0 } },
    },
  });
  const first = await h.waitView('web', (v) => v.health === 'healthy');
  const health = async () => await (await fetch(`${h.url}/health`)).json() as Health;
  const metric = async (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`${h.url}/metrics`)).text())?.[1]);
  t.equal((await health()).status, 'ok', 'healthy before');
  const ws = await WsClient.open(h.url, '/ws?topics=services');
  const hello = await ws.next((m) => m.type === 'hello');
  const before = h.o.registry.events.lastSeq();
  t.equal(hello.seq, before, 'the /ws client starts at the newest event');

  // Nothing left in the write-ahead log's space to reuse, then the disk is full: the next write needs space it cannot have.
  h.o.registry.db.pragma('wal_checkpoint(TRUNCATE)');
  const ballast = join(data, 'ballast');
  fill(ballast);

  process.kill(first.pid!, 'SIGKILL');
  const again = await h.waitView('web', (v) => v.state === 'running' && v.health === 'healthy' && v.pid !== first.pid, 'web restarted while the registry disk is full');
  const full = await until(async () => {
    const got = await health();
    return got.problems.some((p) => /registry .*registry\.db cannot be written/.test(p)) ? got : undefined;
  }, 'the registry condition to show in /health', 20_000);
  t.equal(full.status, 'degraded', '/health says degraded');
  t.equal(await metric('orchestrator_registry_writable'), 0, '/metrics: orchestrator_registry_writable 0');
  const heldNow = await metric('orchestrator_registry_held_records');
  t.ok(heldNow > 0, `/metrics: ${heldNow} records held`);
  const condition = h.events(null, 'condition').find((e) => e.data.key === 'registry');
  t.ok(condition, 'the condition is an event');
  t.notOk(h.o.registry.runs.history('web', 10).some((r) => r.pid === again.pid), 'the new run is held, not in the file yet');
  const exits = h.events('web', 'exit').filter((e) => e.seq > before);
  t.match(exits, [{ data: { signal: 'SIGKILL', pid: first.pid } }], 'the kill is an exit (not a spawn failure)');
  // Held events are served like written ones.
  const rest = await (await fetch(`${h.url}/api/events?since=${before}`)).json() as { events: Array<{ seq: number; type: string }>; last_seq: number };
  t.ok(rest.events.some((e) => e.type === 'condition') && rest.events.some((e) => e.type === 'exit'), '/api/events lists the held events');

  // Space returns: everything held is written, the condition clears.
  unfill(ballast);
  const cleared = await h.waitFor(() => h.events(null, 'condition_cleared').find((e) => e.data.key === 'registry'), 'the registry condition to clear', 20_000);
  await until(async () => ((await health()).status === 'ok' ? true : undefined), '/health ok again', 20_000);
  t.equal(await metric('orchestrator_registry_writable'), 1, '/metrics: writable again');
  t.equal(await metric('orchestrator_registry_held_records'), 0, '/metrics: nothing held');
  t.equal(await metric('orchestrator_registry_dropped_records_total'), 0, '/metrics: nothing dropped');

  const runs = h.o.registry.runs.history('web', 10);
  t.match(runs.find((r) => r.pid === first.pid), { signal: 'SIGKILL', reason: 'killed by SIGKILL' }, 'the killed run ended in the ledger');
  t.ok(runs.find((r) => r.pid === again.pid && r.ended_at === null), 'the new run is open in the ledger with its pid');
  const row = h.o.registry.services.get('web')!;
  t.equal(row.restarts, 1, 'the status is written: one restart');
  t.match(JSON.parse(row.last_exit!), { signal: 'SIGKILL' }, 'with the last exit');

  // Every event any listener got is in the registry, and /ws got them in order without a gap.
  const seen = h.events().filter((e) => e.seq > before);
  const written = h.o.registry.events.after(before, 10_000);
  t.same(written.map((e) => [e.seq, e.type]), seen.map((e) => [e.seq, e.type]), 'every event is in the registry');
  await ws.until((all) => all.some((m) => m.type === 'event' && m.event.seq === cleared.seq), '/ws to get the clearing');
  const wsSeqs = ws.events().map((m) => m.event.seq as number);
  t.same(wsSeqs.slice(0, cleared.seq - before), Array.from({ length: cleared.seq - before }, (_, i) => before + 1 + i), '/ws got every event, in order, no gaps');
  t.notOk(seen.some((e) => e.service === 'web' && e.type === 'state' && e.data.to === 'failed'), 'web was never failed');
  await ws.close();

  await h.shutdown();
  const r = Registry.open(join(data, 'registry.db'));
  t.equal(r.integrityCheck(), 'ok', 'the registry file is sound');
  const inFile = new Set(r.events.after(before, 10_000).map((e) => `${e.seq} ${e.type}`));
  t.ok(seen.every((e) => inFile.has(`${e.seq} ${e.type}`)), 'the file holds every event of the episode');
  t.ok(r.runs.history('web', 10).some((x) => x.pid === again.pid), 'and the run started while it was full');
  r.close();
});
