/**
 * The README's lifecycle examples (examples/lifecycle-agent.mjs, examples/lifecycle_agent.py) run
 * as written under the real orchestrator: with nothing but the three variables it gives every child,
 * each heartbeats with its in-flight jobs, drains before a planned restart, and turns an upstream
 * 429 (a loopback stand-in for an LLM API) into a throttled exit with the wait the upstream named.
 */
import t from 'tap';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { harness, type TestLike } from '../helpers/harness.js';
import { freePort, ROOT } from '../helpers/process.mjs';

const EXAMPLES: Array<[string, string, Record<string, string>]> = [
  ['JavaScript', `${process.execPath} ${join(ROOT, 'examples', 'lifecycle-agent.mjs')}`, {}],
  ['Python', `python3 ${join(ROOT, 'examples', 'lifecycle_agent.py')}`, { PYTHONPATH: join(ROOT, 'sdk', 'python') }],
];

/** An upstream API that is rate-limited: every call answers 429 with Retry-After: 1. */
async function limitedUpstream(t: TestLike): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' });
    res.end('{"error":"rate limited"}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/complete`;
}

for (const [lang, executable, environment] of EXAMPLES) {
  t.test(`${lang} example under the orchestrator: heartbeats, drains before a restart, a 429 is throttled`, async (t) => {
    const upstream = await limitedUpstream(t);
    const h = await harness(t, {
      http: true,
      config: { orchestrator: { port: await freePort() } },
      services: {
        worker: { id: 'worker', executable, environment, heartbeat: { timeout_seconds: 10 }, drain: { timeout_seconds: 30 }, stop: { timeout_seconds: 5 } },
        limited: { id: 'limited', executable, environment: { ...environment, UPSTREAM_URL: upstream }, throttle: { max_seconds: 60 }, restart_policy: { max_retries: 1 } },
      },
    });

    const working = await h.waitView('worker', (v) => (v.inflight ?? 0) > 0, 'the worker reports jobs in flight');
    t.ok(working.heartbeatAt !== null, 'its heartbeats arrive with its run token');
    const restart = await h.o.fleet.command('worker', 'restart');
    t.equal(restart.view.state, 'draining', 'a planned restart drains it first');
    const finished = await h.waitFor(() => h.events('worker', 'drain_finished')[0], 'the drain to finish', 30_000);
    t.equal(finished.data.by, 'inflight', 'it finished its jobs and said inflight 0');
    const again = await h.waitView('worker', (v) => v.restarts === 1 && v.state === 'running', 'the worker running again');
    t.equal(again.lastExit!.reason, 'restarted');

    const throttled = await h.waitFor(() => h.events('limited', 'throttled')[0], 'a throttled exit', 30_000);
    t.equal(throttled.data.retry_after_seconds, 1, 'with the wait the upstream named');
    t.equal(throttled.data.exit_code, 75);
    await h.waitFor(() => h.events('limited', 'throttled').length >= 2, 'a second throttled exit after the wait', 30_000);
    const limited = h.view('limited');
    t.not(limited.state, 'failed', 'throttled exits spend no retry (max_retries 1)');
    t.equal(limited.attempts, 0);
  });
}
