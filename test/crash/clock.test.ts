/** Wall-clock jumps (set back or forward) do not disturb backoff, probes or uptime: all timing is monotonic. */
import t from 'tap';
import { fixture, node } from '../helpers/harness.js';
import { freePort } from '../helpers/process.mjs';
import { reapFolders, serve, servedFolder } from '../helpers/serve.js';

t.teardown(reapFolders);


for (const [label, jumpMs] of [['set back an hour', -3_600_000], ['set forward a day', 86_400_000]] as const) {
  t.test(`wall clock ${label} while running`, async (t) => {
    const webPort = await freePort();
    const { dir, port } = await servedFolder({
      web: { id: 'web', executable: node('healthy.mjs'), environment: { PORT: webPort }, health_endpoint: `http://127.0.0.1:${webPort}/health`, health: { interval_seconds: 0.2 } },
      crashy: { id: 'crashy', executable: node('crashy.mjs'), environment: { DELAY_MS: 100 }, restart_policy: { backoff_seconds: 0.3, max_backoff_seconds: 0.3, max_retries: 1000 } },
    });
    const t0 = performance.now();
    const s = await serve(dir, port, [], { CLOCK_JUMP_AFTER_MS: '1500', CLOCK_JUMP_MS: String(jumpMs) }, [`--import=${fixture('clock-jump.mjs')}`]);
    t.teardown(async () => { s.run.child.kill('SIGTERM'); await s.run.exit; });
    await s.waitFor((l) => l.find((x) => x.id === 'web')?.health === 'healthy', 'web healthy');
    // The jump happens 1.5 s after start. A timer built on wall-clock deadlines would stall for an
    // hour (set back) or fire everything at once (set forward); ours keeps restarting crashy.
    const health = async () => (await (await fetch(`${s.url}/health`)).json()) as { timestamp: string };
    await s.waitFor(async () => Math.abs(Date.parse((await health()).timestamp) - Date.now() - jumpMs) < 10_000, 'the jump to happen');
    const r0 = (await s.service('crashy')).restarts;
    await s.waitFor((l) => l.find((x) => x.id === 'crashy')!.restarts >= r0 + 3, 'three more restarts after the jump', 15_000);
    t.pass('backoff restarts went on after the jump');
    const web = await s.service('web') as unknown as { uptime_seconds: number; health: string; health_check: { last: { at: string } } };
    t.equal(web.health, 'healthy', 'probes went on');
    // A wall-clock uptime would be off by the jump (an hour less, or a day more); ours is at most
    // the time since this test started the orchestrator.
    const elapsed = (performance.now() - t0) / 1000;
    t.ok(web.uptime_seconds > 0 && web.uptime_seconds <= elapsed + 1, `uptime is unaffected: ${web.uptime_seconds}s of ${elapsed.toFixed(1)}s since start`);
    const p1 = web.health_check.last.at;
    await s.waitFor(async (l) => (l.find((x) => x.id === 'web') as unknown as { health_check: { last: { at: string } } }).health_check.last.at !== p1, 'a newer probe result');
    t.pass('probe results keep coming');
    const seen = Date.parse((await health()).timestamp) - Date.now();
    t.ok(Math.abs(seen - jumpMs) < 10_000, `the orchestrator did see its wall clock jump (${Math.round(seen / 1000)} s)`);
  });
}
