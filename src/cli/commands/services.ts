/** The seed's verbs: status, list, show, start, stop, restart — plus health and url. */
import type { PresentedRollout, PresentedService } from '../../api/types.js';
import { bool, positionals, seconds, str, UsageError } from '../args.js';
import { CliError, EXIT, type Client } from '../client.js';
import { type Command, type Context, withCommon } from '../context.js';
import { bytes, clock, duration, fields, inline, table, type Style } from '../format.js';

export interface HealthBody {
  status: 'ok' | 'degraded' | 'unavailable';
  version: string;
  pid: number;
  started_at: string;
  uptime_seconds: number;
  services: { total: number; by_state: Record<string, number>; healthy: number; unhealthy: number };
  problems: string[];
}

interface ServiceList { services: Service[]; count: number }
type Service = PresentedService & { external?: boolean };
interface EventJson { seq: number; at: string; service: string | null; type: string; data: Record<string, unknown> }
type ServiceDetail = Service & { spec: Record<string, unknown>; events: EventJson[]; replicas?: number; instances?: Service[]; rollout?: PresentedRollout | null };

const enc = encodeURIComponent;

/**
 * The service table `list` and `status` print. Instances of a replicated service come under a row
 * of their service (its name and how many run, are healthy and ready), indented.
 */
export function servicesTable(services: Service[], style: Style, now = Date.now()): string {
  if (services.length === 0) return `${style.paint('dim', 'no services')}\n`;
  const rows: string[][] = [];
  let group: string | null = null;
  for (const s of services) {
    const of = s.replica?.service ?? null;
    if (of !== null && of !== group) rows.push(groupRow(of, s.type, services.filter((i) => i.replica?.service === of), style));
    group = of;
    rows.push(serviceRow(s, style, now));
  }
  return table(['ID', 'TYPE', 'STATE', 'HEALTH', 'READY', 'PID', 'UPTIME', 'RESTARTS', 'HEARTBEAT', 'CPU', 'MEM', 'NOTE'], rows, style);
}

/** The row of a replicated service above its instances. */
function groupRow(id: string, type: string, instances: Service[], style: Style): string[] {
  const count = (pred: (s: Service) => boolean) => instances.filter(pred).length;
  const n = instances.length;
  return [
    style.paint('bold', id), type, `${count((s) => s.state === 'running')}/${n} running`,
    instances.some((s) => s.health_check.endpoint) ? `${count((s) => s.health === 'healthy')}/${n} healthy` : '-',
    `${count((s) => s.ready)}/${n}`, '', '', String(instances.reduce((r, s) => r + s.restarts, 0)), '', '', '',
    `${n} replica${n === 1 ? '' : 's'}`,
  ];
}

function serviceRow(s: Service, style: Style, now: number): string[] {
  return [
    s.replica ? `  ${s.id}` : s.id,
    s.type,
    style.state(s.state),
    showsHealth(s) ? style.state(s.health) : style.paint('dim', '-'),
    readyCell(s, style),
    s.pid === null ? (s.external ? style.paint('dim', 'external') : '-') : String(s.pid),
    duration(s.uptime_seconds),
    String(s.restarts),
    s.heartbeat_age_seconds === null ? '-' : `${duration(s.heartbeat_age_seconds)} ago`,
    s.usage ? `${s.usage.cpu_percent.toFixed(1)}%` : '-',
    s.usage ? bytes(s.usage.rss_bytes) : '-',
    stateNote(s, now),
  ];
}

/** Health means something with a probe, or once heartbeats or output went silent ("stalled"). */
const showsHealth = (s: Service) => !!s.health_check.endpoint || s.health === 'stalled';

/** yes / no while a process runs (or an external service is shown), "-" when there is nothing to be ready. */
function readyCell(s: Service, style: Style): string {
  if (s.ready) return style.paint('green', 'yes');
  return ['running', 'starting', 'draining'].includes(s.state) ? style.paint('yellow', 'no') : style.paint('dim', '-');
}

/** Seconds from now until an ISO time, never below 0. */
const secondsUntil = (iso: string, now: number) => Math.max(0, (Date.parse(iso) - now) / 1000);

function stateNote(s: Service, now: number): string {
  if (s.waiting_for.length) return `waiting for ${s.waiting_for.join(', ')}`;
  if (s.state === 'throttled') return s.throttled_until ? `retry in ${duration(Math.ceil(secondsUntil(s.throttled_until, now)))}` : s.reason;
  if (s.state === 'draining') return s.inflight === null ? 'draining' : `${s.inflight} in flight`;
  if (s.state === 'backoff' && s.next_start_at) return `next start ${clock(s.next_start_at)}`;
  if (s.state === 'failed' || s.state === 'exited' || s.health === 'unhealthy' || s.health === 'stalled') return s.reason;
  return s.status_text ? short(s.status_text, 60) : '';
}

/** One line of at most n characters. */
function short(text: string, n: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > n ? `${line.slice(0, n - 1)}…` : line;
}

function healthLine(h: HealthBody, url: string, style: Style): string {
  return `${style.state(h.status)}  orchestrator ${h.version} at ${url}, pid ${h.pid}, up ${duration(h.uptime_seconds)}; `
    + `${h.services.total} service${h.services.total === 1 ? '' : 's'}, ${h.services.healthy} healthy, ${h.services.unhealthy} unhealthy\n`;
}

/** GET /health: answers 503 while the supervision tree is down, which still counts as an answer. */
function getHealth(client: Client): Promise<HealthBody> {
  return client.json<HealthBody>('GET', '/health', { allow: [503] });
}

const status: Command = {
  name: 'status',
  usage: 'status',
  summary: 'orchestrator health and every service',
  flags: withCommon(),
  async run(ctx) {
    positionals(ctx.args, []);
    const client = ctx.client();
    const health = await getHealth(client);
    const list = await client.json<ServiceList>('GET', '/api/services');
    if (ctx.json) { ctx.out(`${JSON.stringify({ orchestrator: { url: client.url, ...health }, services: list.services }, null, 2)}\n`); return; }
    ctx.out(healthLine(health, client.url, ctx.style));
    for (const p of health.problems) ctx.out(`${ctx.style.paint('yellow', 'problem:')} ${p}\n`);
    ctx.out('\n');
    ctx.out(servicesTable(list.services, ctx.style));
    return health.status === 'unavailable' ? EXIT.refused : EXIT.ok;
  },
};

const health: Command = {
  name: 'health',
  usage: 'health',
  summary: "the orchestrator's own health (GET /health; needs no API key)",
  flags: withCommon(),
  async run(ctx) {
    positionals(ctx.args, []);
    const client = ctx.client();
    const h = await getHealth(client);
    ctx.out(ctx.json ? `${JSON.stringify(h)}\n` : healthLine(h, client.url, ctx.style));
    return h.status === 'unavailable' ? EXIT.refused : EXIT.ok;
  },
};

const url: Command = {
  name: 'url',
  usage: 'url',
  summary: 'print the orchestrator URL the CLI would use',
  flags: withCommon(),
  async run(ctx) {
    positionals(ctx.args, []);
    ctx.out(`${ctx.target().url}\n`);
  },
};

const list: Command = {
  name: 'list',
  usage: 'list [--state STATE]',
  summary: 'all services as a table',
  flags: withCommon({ state: { value: true } }),
  async run(ctx) {
    positionals(ctx.args, []);
    const body = await ctx.client().json<ServiceList>('GET', '/api/services', { query: { state: str(ctx.args, 'state') } });
    ctx.out(ctx.json ? `${JSON.stringify(body, null, 2)}\n` : servicesTable(body.services, ctx.style));
  },
};

const show: Command = {
  name: 'show',
  usage: 'show ID',
  summary: "one service's details, configuration and recent events",
  flags: withCommon(),
  async run(ctx) {
    const [id] = positionals(ctx.args, ['id']);
    const s = await ctx.client().json<ServiceDetail>('GET', `/api/services/${enc(id!)}`);
    if (ctx.json) { ctx.out(`${JSON.stringify(s, null, 2)}\n`); return; }
    ctx.out(renderDetail(s, ctx.style));
  },
};

export function renderDetail(s: ServiceDetail, style: Style, now = Date.now()): string {
  const spec = s.spec;
  const pairs: Array<[string, string]> = [
    ['name', `${s.name} (${s.type})`],
    ['state', `${style.state(s.state)}${s.reason ? ` — ${s.reason}` : ''}`],
    ['health', s.health_check.endpoint
      ? `${style.state(s.health)}  ${s.health_check.endpoint}${s.health_check.last
        ? `  last ${s.health_check.last.ok ? 'ok' : `failed (${s.health_check.last.error ?? `HTTP ${s.health_check.last.status}`})`} in ${s.health_check.last.latency_ms} ms at ${clock(s.health_check.last.at)}`
        : ''}`
      : s.health === 'stalled' ? style.state(s.health) : style.paint('dim', 'no health endpoint')],
    ['ready', `${readyCell(s, style)}${readiness(s) ? `  ${readiness(s)}` : ''}`],
    ['pid', s.pid === null ? (s.external ? 'external (not started by the orchestrator)' : '-') : `${s.pid}${s.adopted ? ' (adopted)' : ''}`],
    ['uptime', s.started_at ? `${duration(s.uptime_seconds)} (since ${clock(s.started_at)})` : '-'],
    ['restarts', `${s.restarts}${s.attempts ? `, ${s.attempts} failed attempt${s.attempts === 1 ? '' : 's'} in a row` : ''}`],
  ];
  if (s.heartbeat_at) pairs.push(['heartbeat', `${duration(s.heartbeat_age_seconds)} ago (${clock(s.heartbeat_at, new Date(now))})`]);
  if (s.progress !== null) pairs.push(['progress', String(s.progress)]);
  if (s.inflight !== null) pairs.push(['inflight', `${s.inflight}${s.state === 'draining' ? ' (draining: the stop signal waits for 0)' : ''}`]);
  if (s.status_text) pairs.push(['status', s.status_text]);
  if (s.next_run_at) pairs.push(['next run', `${clock(s.next_run_at, new Date(now))} (in ${duration(Math.ceil(secondsUntil(s.next_run_at, now)))}; orchestrator runs ID for its runs)`]);
  if (s.throttled_until) pairs.push(['throttled until', `${clock(s.throttled_until, new Date(now))} (in ${duration(Math.ceil(secondsUntil(s.throttled_until, now)))})`]);
  if (s.usage) pairs.push(['usage', `cpu ${s.usage.cpu_percent.toFixed(1)}%  mem ${bytes(s.usage.rss_bytes)}  processes ${s.usage.pids}`]);
  if (s.last_exit) pairs.push(['last exit', `${s.last_exit.signal ?? `code ${s.last_exit.code}`} — ${s.last_exit.reason} at ${clock(s.last_exit.at)}${s.last_exit.detail ? ` (${s.last_exit.detail})` : ''}`]);
  if (s.waiting_for.length) pairs.push(['waiting for', s.waiting_for.join(', ')]);
  if (s.next_start_at) pairs.push(['next start', clock(s.next_start_at)]);
  if (spec.executable) pairs.push(['executable', String(spec.executable)]);
  if (s.api_endpoint) pairs.push(['api', s.api_endpoint]);
  if (s.depends_on.length) pairs.push(['depends on', s.depends_on.join(', ')]);
  pairs.push(['source', `${s.external ? 'external, ' : ''}${spec.file ? `file ${String(spec.file)}` : s.source}`]);
  if (s.instances) {
    // Each instance has its own process: the table below shows them.
    for (const name of ['pid', 'uptime']) pairs.splice(pairs.findIndex(([k]) => k === name), 1);
    pairs.splice(1, 0, ['replicas', `${s.replicas}${s.rollout ? `; rolling restart ${rolloutText(s.rollout)}` : ''}`]);
  }
  let out = `${style.paint('bold', s.id)}\n${fields(pairs, style)}`;
  if (s.instances?.length) out += `\n${style.paint('bold', 'instances')}\n${servicesTable(s.instances.map((i) => ({ ...i, replica: null })), style, now)}`;
  if (s.events.length) {
    out += `\n${style.paint('bold', 'recent events')}\n`;
    out += table(['TIME', 'EVENT', 'DETAILS'], [...s.events].reverse().map((e) => [clock(e.at), e.type, inline(e.data)]), style);
  }
  return out;
}

/** The readiness endpoint of the spec, if it names one. */
function readiness(s: ServiceDetail): string | undefined {
  const h = s.spec.health as { readiness_endpoint?: unknown } | undefined;
  return typeof h?.readiness_endpoint === 'string' ? h.readiness_endpoint : undefined;
}

/** "finished: 4 of 4", "halted at web#1: …", "running: 2 of 4 done, now web#2". */
function rolloutText(r: PresentedRollout): string {
  if (r.state === 'halted') return `halted at ${r.failed?.instance}: ${r.failed?.reason} (${r.done.length} of ${r.total} done)`;
  if (r.state === 'finished') return `finished: ${r.done.length} of ${r.total}`;
  return `running: ${r.done.length} of ${r.total} done${r.current.length ? `, now ${r.current.join(', ')}` : ''}`;
}

type Verb = 'start' | 'stop' | 'restart';

function controlCommand(verb: Verb): Command {
  return {
    name: verb,
    usage: `${verb} ID [--wait] [--timeout SECONDS]${verb === 'restart' ? ' [--rolling]' : ''}`,
    summary: `${verb} a service, all its replicas or one (ID#n)${verb === 'restart' ? ', --rolling: one at a time' : ''} (--wait: until ${verb === 'stop' ? 'stopped' : 'running and healthy'})`,
    flags: withCommon({ wait: { aliases: ['-w'] }, timeout: { value: true }, ...(verb === 'restart' ? { rolling: {} } : {}) }),
    async run(ctx) {
      const [id] = positionals(ctx.args, ['id']);
      const client = ctx.client();
      const path = `/api/services/${enc(id!)}`;
      if (verb === 'restart' && bool(ctx.args, 'rolling')) return rollingRestart(ctx, id!);
      const before = verb === 'restart' && bool(ctx.args, 'wait') ? await client.json<Service>('GET', path) : null;
      let s = await client.json<Service>('PUT', `${path}/${verb}`);
      if (bool(ctx.args, 'wait')) s = await waitFor(ctx, id!, verb, before?.pid ?? null, seconds(ctx.args, 'timeout', 60));
      else if (ctx.args.flags.has('timeout')) throw new UsageError('--timeout only goes with --wait');
      if (ctx.json) { ctx.out(`${JSON.stringify(s, null, 2)}\n`); return; }
      const past = { start: 'started', stop: 'stopped', restart: 'restarted' }[verb];
      ctx.out(bool(ctx.args, 'wait')
        ? `${id} ${past}: ${ctx.style.state(s.state)}${s.health_check.endpoint && s.state === 'running' ? ` (${ctx.style.state(s.health)})` : ''}${s.pid ? `, pid ${s.pid}` : ''}\n`
        : `${verb} requested for ${id}: now ${ctx.style.state(s.state)}\n`);
    },
  };
}

/** PUT …/restart?rolling=true; with --wait, until the rollout finished (exit 0) or halted (exit 1). */
async function rollingRestart(ctx: Context, id: string): Promise<number | undefined> {
  const client = ctx.client();
  const path = `/api/services/${enc(id)}`;
  let s = await client.json<ServiceDetail>('PUT', `${path}/restart`, { query: { rolling: 'true' } });
  if (bool(ctx.args, 'wait')) {
    const timeoutS = seconds(ctx.args, 'timeout', 600);
    const deadline = Date.now() + timeoutS * 1000;
    while (s.rollout?.state === 'running') {
      if (Date.now() > deadline) throw new CliError(`timed out after ${timeoutS}s waiting for the rolling restart of ${id} (${rolloutText(s.rollout)})`, EXIT.refused);
      await new Promise((r) => setTimeout(r, 250));
      s = await client.json<ServiceDetail>('GET', path);
    }
  }
  if (ctx.json) { ctx.out(`${JSON.stringify(s, null, 2)}\n`); return undefined; }
  if (!s.rollout) { ctx.out(`restart requested for ${id}: now ${ctx.style.state(s.state)}\n`); return undefined; }
  ctx.out(`rolling restart of ${id} ${rolloutText(s.rollout)}\n`);
  return s.rollout.state === 'halted' ? EXIT.refused : undefined;
}

/** Poll the service until the command has taken effect, failed, or the timeout passed. */
async function waitFor(ctx: Context, id: string, verb: Verb, oldPid: number | null, timeoutS: number): Promise<Service> {
  const client = ctx.client();
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const s = await client.json<Service>('GET', `/api/services/${enc(id)}`);
    if (verb === 'stop') {
      if (s.state === 'stopped' || s.state === 'failed') return s;
    } else {
      if (s.state === 'failed') throw new CliError(`${id} failed: ${s.reason}`, EXIT.refused);
      const fresh = verb !== 'restart' || oldPid === null || (s.pid !== null && s.pid !== oldPid);
      if (s.state === 'running' && fresh && (!s.health_check.endpoint || s.health === 'healthy')) return s;
    }
    if (Date.now() > deadline) throw new CliError(`timed out after ${timeoutS}s waiting for ${id} to be ${verb === 'stop' ? 'stopped' : 'running and healthy'} (now ${s.state}, ${s.health}: ${s.reason})`, EXIT.refused);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export const serviceCommands: Command[] = [status, list, show, controlCommand('start'), controlCommand('stop'), controlCommand('restart'), health, url];
