/**
 * Chaos: random kill -9 of services and of the orchestrator itself, round after round, on one
 * registry. Afterwards the fleet must be exactly what it should be: the right services running,
 * each once, no orphan left after a stop, an event log without gaps, a sound registry — and each
 * misbehaving fixture in the state the design gives it.
 *
 * Seeded: CHAOS_SEED=<n> replays a run; CHAOS_ROUNDS=<n> makes it longer.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { procTable } from '../../src/os/proc.js';
import { Registry } from '../../src/store/index.js';
import { node } from '../helpers/harness.js';
import { freePort } from '../helpers/process.mjs';
import { killHard, reapFolders, serve, servedFolder, type ApiService, type Served } from '../helpers/serve.js';

t.teardown(reapFolders);


const SEED = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
const ROUNDS = Number(process.env.CHAOS_ROUNDS ?? 5);
const MARK = randomBytes(6).toString('hex');

/** mulberry32: a small seeded PRNG, so a failing run can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Live (non-zombie) processes carrying this run's mark, grouped by service id → set of process groups. */
function markedGroups(): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const p of procTable()) {
    if (p.state === 'Z' || p.state === 'X') continue;
    let env: string;
    try { env = readFileSync(`/proc/${p.pid}/environ`, 'latin1'); } catch { continue; }
    if (!env.includes(`CHAOS_MARK=${MARK}`)) continue;
    const id = /(?:^|\0)ORCHESTRATOR_SERVICE_ID=([^\0]+)/.exec(env)?.[1] ?? '?';
    const set = out.get(id) ?? new Set<number>();
    set.add(p.pgid);
    out.set(id, set);
  }
  return out;
}

t.test(`chaos: ${ROUNDS} rounds of kill -9 (seed ${SEED})`, async (t) => {
  const rand = prng(SEED);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  const env = (extra: Record<string, unknown> = {}) => ({ CHAOS_MARK: MARK, ...extra });
  const [webPort, hangPort, flapPort] = [await freePort(), await freePort(), await freePort()];
  const plain = ['p1', 'p2', 'p3', 'p4'];
  const services: Record<string, Record<string, unknown>> = {
    ...Object.fromEntries(plain.map((id) => [id, { id, executable: node('sleeper.mjs'), environment: env(), restart_policy: { backoff_seconds: 0.05, max_retries: 1000 } }])),
    web: { id: 'web', executable: node('healthy.mjs'), environment: env({ PORT: webPort }), health_endpoint: `http://127.0.0.1:${webPort}/health`, restart_policy: { backoff_seconds: 0.05, max_retries: 1000 } },
    stubborn: { id: 'stubborn', executable: node('ignores-sigterm.mjs'), environment: env(), stop: { timeout_seconds: 0.5 }, restart_policy: { backoff_seconds: 0.05, max_retries: 1000 } },
    forky: { id: 'forky', executable: node('forks.mjs'), environment: env({ CHILDREN: 2, EXIT_AFTER_FORK: 1 }), stop: { timeout_seconds: 0.3 }, restart_policy: { backoff_seconds: 0.05, max_retries: 2 } },
    leaky: { id: 'leaky', executable: node('leaky.mjs'), environment: env({ MB_PER_TICK: 40, MAX_MB: 400 }), resources: { max_memory: '100MB' }, restart_policy: { backoff_seconds: 0.05, max_retries: 1 } },
    hang: { id: 'hang', executable: node('hangs.mjs'), environment: env({ PORT: hangPort }), health_endpoint: `http://127.0.0.1:${hangPort}/health`, health: { interval_seconds: 0.2, timeout_seconds: 0.3, failure_threshold: 2 }, restart_policy: { backoff_seconds: 0.05, max_retries: 1 } },
    flap: { id: 'flap', executable: node('flappy.mjs'), environment: env({ PORT: flapPort }), health_endpoint: `http://127.0.0.1:${flapPort}/health`, health: { interval_seconds: 0.1, failure_threshold: 2 }, restart_policy: { backoff_seconds: 0.05, max_retries: 1000 } },
    crashloop: { id: 'crashloop', executable: node('crashy.mjs'), environment: env({ EXIT_CODE: 7 }), restart_policy: { backoff_seconds: 0.05, max_retries: 2 } },
  };
  const { dir, port } = await servedFolder(services, { monitoring: { sample_interval: 0.2 }, supervision: { intensity: 100_000, period_seconds: 1 } });
  t.comment(`seed ${SEED}, folder ${dir}`);
  let s: Served = await serve(dir, port);
  t.teardown(async () => {
    if (s.run.child.exitCode === null) { s.run.child.kill('SIGKILL'); await s.run.exit; }
    for (const groups of markedGroups().values()) for (const g of groups) { try { process.kill(-g, 'SIGKILL'); } catch { /* gone */ } }
  });
  const wanted = new Map(plain.map((id) => [id, true]));
  const runningIds = () => [...plain.filter((id) => wanted.get(id)), 'web', 'stubborn', 'flap'];

  for (let round = 1; round <= ROUNDS; round++) {
    const list = await s.waitFor((l) => l.length === Object.keys(services).length, `round ${round}: services listed`);
    // Kill some service processes.
    const victims = list.filter((x) => x.pid && runningIds().includes(x.id));
    for (let k = 0, n = 1 + Math.floor(rand() * 3); k < n && victims.length; k++) {
      const v = pick(victims);
      try { process.kill(v.pid!, 'SIGKILL'); } catch { /* already gone */ }
    }
    // Change what should run.
    const toggle = pick(plain);
    wanted.set(toggle, !wanted.get(toggle));
    await s.put(toggle, wanted.get(toggle) ? 'start' : 'stop');
    // Let things move for a moment, then kill the orchestrator itself.
    await new Promise((r) => setTimeout(r, Math.floor(rand() * 400)));
    await killHard(s);
    if (rand() < 0.5) {
      // Kill a service while nobody watches.
      const v = pick(list.filter((x) => x.pid));
      try { process.kill(v.pid!, 'SIGKILL'); } catch { /* gone */ }
    }
    s = await serve(dir, port);
    t.comment(`round ${round}: toggled ${toggle} → ${wanted.get(toggle) ? 'up' : 'down'}`);
  }

  // Settle: every service where the design says it ends.
  const expectState = (x: ApiService): boolean => {
    if (plain.includes(x.id)) return x.state === (wanted.get(x.id) ? 'running' : 'stopped');
    if (['web', 'stubborn', 'flap'].includes(x.id)) return x.state === 'running';
    return x.state === 'failed';
  };
  let seen: ApiService[] = [];
  const final = await s.waitFor((l) => {
    seen = l;
    return l.every(expectState) && l.filter((x) => x.id === 'web')[0]!.health === 'healthy';
  }, 'the fleet to settle', 60_000).catch((e: Error) => {
    // Say which services did not get where they should, for the replay.
    const off = seen.filter((x) => !expectState(x) || (x.id === 'web' && x.health !== 'healthy'));
    throw new Error(`${e.message}; not settled: ${off.map((x) => `${x.id} ${x.state}/${x.health} (${x.reason})`).join('; ')}`);
  });
  const byId = Object.fromEntries(final.map((x) => [x.id, x])) as Record<string, ApiService>;
  t.equal(byId.forky!.state, 'failed', 'forks grandchildren and exits → failed after its retries');
  t.equal(byId.leaky!.last_exit?.reason, 'memory_limit', 'leaks past its limit → restarted for memory, then failed');
  t.equal(byId.hang!.last_exit?.reason, 'unhealthy', 'hanging health endpoint → restarted as unhealthy, then failed');
  t.equal(byId.crashloop!.state, 'failed', 'crash-loops past max_retries → failed');
  t.equal(byId.flap!.state, 'running', 'flapping health → keeps running');
  t.equal(byId.stubborn!.state, 'running', 'ignores SIGTERM → running');

  // Exactly the right processes: one process group per running service, its leader the reported pid.
  const groups = markedGroups();
  for (const x of final) {
    const g = [...(groups.get(x.id) ?? [])];
    if (x.state === 'running') t.same(g, [x.pid], `${x.id}: exactly one process group, led by pid ${x.pid}`);
    else t.same(g, [], `${x.id}: no process left (${x.state})`);
  }

  // A clean stop leaves nothing behind.
  s.run.child.kill('SIGTERM');
  t.equal((await s.run.exit).code, 0, 'clean stop');
  t.same([...markedGroups().keys()], [], 'no orphan after stop');

  const r = Registry.open(join(dir, 'data', 'registry.db'));
  t.equal(r.integrityCheck(), 'ok', 'registry integrity_check ok');
  const seqs = r.events.after(0, 10_000_000).map((e) => e.seq);
  t.ok(seqs.length > 0);
  t.ok(seqs.every((q, i) => q === i + 1), `event seq strictly increasing without gaps (1..${seqs.length})`);
  t.equal((r.db.prepare('SELECT COUNT(*) AS n FROM runs WHERE ended_at IS NULL').get() as { n: number }).n, 0, 'no run left open in the ledger');
  r.close();
});
