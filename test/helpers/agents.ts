/**
 * Fixture agents for the agent-lifecycle tests (issue 15): test/fixtures/agent.mjs under a real
 * orchestrator with its HTTP API on loopback, so agents heartbeat with their run tokens.
 */
import { harness, node, type TestLike } from './harness.js';
import { freePort } from './process.mjs';

export async function fleet(t: TestLike, services: Record<string, Record<string, unknown>>) {
  const port = await freePort();
  return harness(t, { http: true, config: { orchestrator: { port } }, services });
}

// A first heartbeat deadline of 10 s (health.startup_timeout_seconds): on a loaded machine a fresh
// node process may take longer than a short timeout to send its first heartbeat.
export const SLOW_BOOT = { startup_timeout_seconds: 10 };

export const agent = (id: string, environment: Record<string, unknown>, more: Record<string, unknown> = {}) => ({
  id, executable: node('agent.mjs'), environment, stop: { timeout_seconds: 2 }, ...more,
});
