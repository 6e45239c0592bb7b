/**
 * The README's lifecycle examples (examples/lifecycle-agent.mjs, examples/lifecycle_agent.py) run
 * as written, with a loopback stand-in for the orchestrator and one for their upstream API: they
 * heartbeat with their in-flight work, finish it and report inflight 0 when drained, exit 0 on the
 * stop signal, and on an upstream 429 report the wait (POST …/throttle) and exit 75.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadOrchestratorConfig, parseServiceInput, serviceDefaults } from '../../src/config/load.js';
import { start } from '../cli/run.js';
import { ROOT } from '../helpers/process.mjs';
import type { TestLike } from '../helpers/harness.js';
import { receiver, type Answer, type Seen } from './receiver.js';

const EXAMPLES: Array<[string, string, string[]]> = [
  ['JavaScript', process.execPath, [join(ROOT, 'examples', 'lifecycle-agent.mjs')]],
  ['Python', 'python3', [join(ROOT, 'examples', 'lifecycle_agent.py')]],
];

const heartbeats = (seen: Seen[]) => seen.filter((s) => s.path === '/api/services/agent-1/heartbeat').map((s) => s.body as { progress?: number; inflight?: number; status?: string });

async function setup(t: TestLike, upstreamReply: (n: number) => Promise<Answer> | Answer) {
  let drain = false;
  const orch = await receiver(t, (s) => (s.path.endsWith('/throttle') ? { status: 202 } : { status: 200, body: { drain } }));
  const upstream = await receiver(t, (_s, n) => upstreamReply(n));
  const env = {
    ORCHESTRATOR_URL: orch.url, ORCHESTRATOR_SERVICE_ID: 'agent-1', ORCHESTRATOR_TOKEN: 'tok',
    UPSTREAM_URL: `${upstream.url}/v1/complete`, PYTHONPATH: join(ROOT, 'sdk', 'python'),
  };
  return { orch, upstream, env, startDrain: () => { drain = true; } };
}

for (const [lang, cmd, args] of EXAMPLES) {
  t.test(`${lang} example: heartbeats with inflight, drains, stops on the signal`, async (t) => {
    // The upstream holds every job until the test lets the first two go.
    let release!: () => void;
    const released = new Promise<void>((r) => { release = r; });
    const s = await setup(t, () => released.then(() => ({ status: 200, body: { text: 'ok' } })));
    const agent = start(t, cmd, args, { env: s.env });

    await s.upstream.count(2);
    await s.orch.until((seen) => heartbeats(seen).some((h) => h.inflight === 2));
    t.pass('two jobs in flight, reported in a heartbeat');
    const beat = heartbeats(s.orch.seen).find((h) => h.inflight === 2)!;
    t.same(beat, { progress: 0, inflight: 2, status: '0 jobs done' }, 'progress, inflight and status');
    t.ok(s.orch.seen.every((r) => r.method === 'POST' && r.authorization === 'Bearer tok'), 'every call with the run token');

    s.startDrain();
    await agent.waitOutput(/draining: finishing 2 job\(s\), taking no new ones\n/);
    release();
    await agent.waitOutput(/drained after 2 jobs\n/);
    await s.orch.until((seen) => heartbeats(seen).some((h) => h.status === 'drained'));
    t.same(heartbeats(s.orch.seen).find((h) => h.status === 'drained'), { progress: 2, inflight: 0, status: 'drained' }, 'inflight 0 reported at once');
    t.equal(s.upstream.seen.length, 2, 'no new job once draining');

    agent.child.kill('SIGTERM');
    const end = await agent.exited;
    t.equal(end.code, 0, end.stderr);
    t.match(end.stdout, /stopping after 2 jobs\n$/);
  });

  t.test(`${lang} example: an upstream 429 → throttled with its Retry-After, exit 75`, async (t) => {
    const s = await setup(t, () => ({ status: 429, headers: { 'retry-after': '7' }, body: { error: 'rate limited' } }));
    const end = await start(t, cmd, args, { env: s.env }).exited;
    t.equal(end.code, 75, end.stderr);
    t.match(end.stdout, /upstream answered 429: throttled for 7s\n/);
    const throttle = s.orch.seen.find((r) => r.path === '/api/services/agent-1/throttle');
    t.same(throttle && { body: throttle.body, auth: throttle.authorization }, { body: { retry_after_seconds: 7 }, auth: 'Bearer tok' }, 'POST …/throttle with the wait');
  });
}

t.test('the README shows the examples as they are in examples/, and its YAML is valid', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Agent lifecycle: heartbeats, throttling, drain, readiness');
  t.ok(start > 0, 'the section is there');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  for (const file of ['lifecycle-agent.mjs', 'lifecycle_agent.py']) {
    t.ok(section.includes(`\n${readFileSync(join(ROOT, 'examples', file), 'utf8')}\`\`\``), `examples/${file} verbatim`);
  }
  const blocks = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]!) as Record<string, unknown>);
  t.equal(blocks.length, 3, 'the keys and two service files');
  const defaults = serviceDefaults(loadOrchestratorConfig(undefined, {}));
  const keys = { id: 'keys', executable: 'sleep 1', ...blocks[0] };
  for (const [i, input] of [keys, blocks[1], blocks[2]].entries()) {
    const { spec, problems } = parseServiceInput(input, defaults, join(ROOT, 'services'), 'file');
    t.same(problems, [], `block ${i + 1} is a valid service file`);
    if (i === 0) {
      t.match(spec, {
        health: { readiness_endpoint: 'http://127.0.0.1:8001/ready', startup_timeout_seconds: 600 },
        heartbeat: { timeout_seconds: 60, require_progress: false, action: 'restart' },
        silence: { timeout_seconds: 300, action: 'alert' },
        throttle: { exit_codes: [75], default_seconds: 60, max_seconds: 3600 },
        drain: { timeout_seconds: 120 },
      }, 'as documented');
    } else {
      t.equal(spec!.working_dir, ROOT.replace(/\/$/, ''), 'working_dir .. is the repository root');
    }
  }
  const bare = parseServiceInput({ id: 'bare', executable: 'sleep 1' }, defaults, ROOT).spec!;
  t.match(bare, { heartbeat: null, silence: null, throttle: { exit_codes: [75], default_seconds: 60, max_seconds: 3600 }, drain: { timeout_seconds: 120 }, health: { readiness_endpoint: null, startup_timeout_seconds: null } },
    'the defaults the README names');
});
