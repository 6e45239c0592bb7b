/**
 * How `list` and `show` print the agent lifecycle fields (ready, heartbeat age, progress, inflight,
 * status text, throttled until; the states draining and throttled, health stalled), from services
 * as the API presents them. End to end against a live orchestrator: test/cli/services.test.ts.
 */
import t from 'tap';
import type { PresentedService } from '../../src/api/types.js';
import { renderDetail, servicesTable } from '../../src/cli/commands/services.js';
import { Style } from '../../src/cli/format.js';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const plain = new Style(false);

function svc(id: string, over: Partial<PresentedService>): PresentedService {
  return {
    id, name: id, type: 'ai-agent', group: 'default', source: 'file', external: false, state: 'running', health: 'unknown',
    reason: '', pid: 100, adopted: false, started_at: new Date(NOW - 90_000).toISOString(), uptime_seconds: 90, restarts: 0,
    attempts: 0, last_exit: null, health_check: { endpoint: null, last: null }, usage: null, waiting_for: [], next_start_at: null,
    api_endpoint: null, depends_on: [], ready: true, heartbeat_at: null, heartbeat_age_seconds: null, progress: null,
    inflight: null, status_text: null, throttled_until: null, ...over,
  } as PresentedService;
}

const FLEET = [
  svc('busy', { heartbeat_at: new Date(NOW - 4_000).toISOString(), heartbeat_age_seconds: 4.2, progress: 17, inflight: 2, status_text: 'summarising  the\nthread' }),
  svc('drainer', { state: 'draining', ready: false, heartbeat_age_seconds: 1, inflight: 3 }),
  svc('limited', { state: 'throttled', ready: false, pid: null, uptime_seconds: null, throttled_until: new Date(NOW + 41_200).toISOString(), reason: 'throttled: upstream 429' }),
  svc('hung', { health: 'stalled', ready: false, heartbeat_age_seconds: 75, reason: 'no heartbeat for 60s' }),
  svc('warming', { state: 'running', ready: false, health: 'healthy', health_check: { endpoint: 'http://127.0.0.1:1/health', last: null, consecutive_failures: 0 } }),
  svc('off', { state: 'stopped', ready: false, pid: null, uptime_seconds: null }),
];

t.test('list: READY and HEARTBEAT columns, throttled with the time left, draining with inflight, stalled', async (t) => {
  const out = servicesTable(FLEET, plain, NOW);
  const lines = out.trimEnd().split('\n');
  t.match(lines[0], /^ID\s+TYPE\s+STATE\s+HEALTH\s+READY\s+PID\s+UPTIME\s+RESTARTS\s+HEARTBEAT\s+CPU\s+MEM\s+NOTE$/);
  const rowOf = (id: string) => lines.find((l) => l.startsWith(`${id} `))!;
  t.match(rowOf('busy'), /^busy\s+ai-agent\s+running\s+-\s+yes\s+100\s+1m30s\s+0\s+4s ago\s+-\s+-\s+summarising the thread$/, 'status text as the note, on one line');
  t.match(rowOf('drainer'), /\sdraining\s+-\s+no\s.*\s1s ago\s.*\s3 in flight$/, 'draining with its inflight');
  t.match(rowOf('limited'), /\sthrottled\s+-\s+-\s+-\s.*\sretry in 42s$/, 'throttled with the time left, rounded up');
  t.match(rowOf('hung'), /\srunning\s+stalled\s+no\s.*\s1m15s ago\s.*\sno heartbeat for 60s$/, 'stalled shows without a health endpoint');
  t.match(rowOf('warming'), /\srunning\s+healthy\s+no\s/, 'live but not ready');
  t.match(rowOf('off'), /\sstopped\s+-\s+-\s+-\s/, 'nothing to be ready');
  const col = lines[0]!.indexOf('HEARTBEAT');
  t.equal(rowOf('busy').indexOf('4s ago'), col, 'HEARTBEAT column aligned');
  t.equal(rowOf('hung').indexOf('1m15s ago'), col);

  const long = servicesTable([svc('chatty', { status_text: 'x'.repeat(100) })], plain, NOW);
  t.match(long, /\sx{59}…\n$/, 'a long status is cut to 60 characters');
  const coloured = servicesTable(FLEET, new Style(true), NOW);
  t.match(coloured, /\u001b\[33mthrottled\u001b\[39m/, 'throttled in yellow');
  t.match(coloured, /\u001b\[33mstalled\u001b\[39m/, 'stalled in yellow');
  t.match(coloured, /\u001b\[32myes\u001b\[39m/, 'ready in green');
});

t.test('show: ready, heartbeat, progress, inflight, status, throttled until', async (t) => {
  const detail = (s: PresentedService, spec: Record<string, unknown> = {}) => renderDetail({ ...s, spec, events: [] }, plain, NOW);
  const busy = detail(FLEET[0]!, { health: { readiness_endpoint: 'http://127.0.0.1:8001/ready' } });
  t.match(busy, /\nready:\s+yes {2}http:\/\/127\.0\.0\.1:8001\/ready\n/, 'ready, with the readiness endpoint');
  t.match(busy, /\nheartbeat:\s+4s ago \(\d\d:\d\d:\d\d\)\n/);
  t.match(busy, /\nprogress:\s+17\n/);
  t.match(busy, /\ninflight:\s+2\n/);
  t.match(busy, /\nstatus:\s+summarising {2}the\nthread\n/, 'the status text as sent');
  t.notMatch(busy, /throttled until/);
  t.match(detail(FLEET[1]!), /\ninflight:\s+3 \(draining: the stop signal waits for 0\)\n/);
  t.match(detail(FLEET[2]!), /\nstate:\s+throttled — throttled: upstream 429\n[\s\S]*\nthrottled until:\s+\d\d:\d\d:\d\d \(in 42s\)\n/);
  t.match(detail(FLEET[3]!), /\nhealth:\s+stalled\n/, 'stalled without a health endpoint');
  const off = detail(FLEET[5]!);
  t.match(off, /\nready:\s+-\n/);
  t.notMatch(off, /heartbeat:|progress:|inflight:|status:/, 'no lifecycle lines for a service that sent nothing');
});
