/**
 * The agent lifecycle end to end (issue 15): heartbeat deadlines (restart or stalled),
 * require_progress and output silence. Real fixture agents (test/fixtures/agent.mjs) talk to a
 * real orchestrator over HTTP with their run token. Waits are on views and events; the only
 * durations asserted are the ones the behaviour itself names.
 */
import t from 'tap';
import { agent, fleet, SLOW_BOOT } from '../helpers/agents.js';

t.test('a heartbeat that stops: restart (heartbeat_timeout), or stalled with action alert', async (t) => {
  const h = await fleet(t, {
    hangs: agent('hangs', { HEARTBEAT_MS: 100, HEARTBEATS: 5 }, {
      heartbeat: { timeout_seconds: 0.6 }, health: SLOW_BOOT, restart_policy: { backoff_seconds: 0, max_retries: 5 },
    }),
    watched: agent('watched', { HEARTBEAT_MS: 100, HEARTBEATS: 5 }, { heartbeat: { timeout_seconds: 0.6, action: 'alert' }, health: SLOW_BOOT }),
  });
  const restarted = await h.waitView('hangs', (v) => v.restarts >= 1 && v.state === 'running', 'hangs restarted');
  t.equal(restarted.lastExit!.reason, 'heartbeat_timeout');
  t.ok(h.events('hangs', 'heartbeat_timeout').length >= 1, 'a heartbeat_timeout event');

  const stalled = await h.waitView('watched', (v) => v.health === 'stalled', 'watched stalled');
  t.equal(stalled.restarts, 0, 'alert does not restart');
  t.equal(stalled.state, 'running');
  t.equal(stalled.progress, null);
  t.match(stalled.statusText, /^beat \d+$/, 'the last status line is shown');
  t.ok(stalled.heartbeatAt !== null, 'with the time of the last heartbeat');
  t.equal((await h.waitFor(() => h.events('watched', 'heartbeat_timeout')[0], 'its event')).data.action, 'alert');
});

t.test('require_progress: heartbeats whose progress does not move count as none', async (t) => {
  const h = await fleet(t, {
    stuck: agent('stuck', { HEARTBEAT_MS: 100, PROGRESS: 'stuck' }, { heartbeat: { timeout_seconds: 0.8, require_progress: true, action: 'alert' }, health: SLOW_BOOT }),
    moving: agent('moving', { HEARTBEAT_MS: 100, PROGRESS: 'advance' }, { heartbeat: { timeout_seconds: 0.8, require_progress: true, action: 'alert' }, health: SLOW_BOOT }),
  });
  const stuck = await h.waitView('stuck', (v) => v.health === 'stalled', 'stuck stalled although it heartbeats');
  t.equal(stuck.progress, 1);
  // moving started with stuck and heartbeats as often: by now it has passed the same deadline.
  const moving = await h.waitView('moving', (v) => (v.progress ?? 0) >= 30, 'moving past three 0.8 s deadlines after its first heartbeat');
  t.not(moving.health, 'stalled', 'advancing progress keeps it live');
  t.same(h.events('moving', 'heartbeat_timeout'), []);
});

t.test('output silence: alert makes it stalled; a service that writes is never silent', async (t) => {
  const h = await fleet(t, {
    quiet: agent('quiet', { QUIET: 1 }, { silence: { timeout_seconds: 0.5 } }),
    // (2 s: room for a slow start on a loaded machine before its first line)
    chatty: agent('chatty', { HEARTBEAT_MS: 100 }, { silence: { timeout_seconds: 2, action: 'restart' } }),
  });
  const quiet = await h.waitView('quiet', (v) => v.health === 'stalled', 'quiet stalled');
  t.equal(quiet.restarts, 0);
  t.equal((await h.waitFor(() => h.events('quiet', 'silence')[0], 'its event')).data.action, 'alert');
  const chatty = await h.waitView('chatty', (v) => Number((v.statusText ?? 'beat 0').split(' ')[1]) >= 60, 'chatty past three silence windows');
  t.equal(chatty.restarts, 0, 'a service that writes is never silent');
  t.same(h.events('chatty', 'silence'), []);
});
