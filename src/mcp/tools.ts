/**
 * The MCP tools, written once over a Backend (backend.ts). Each has a valibot input schema — the
 * API's own service schema for register and update — from which its JSON Schema is derived, a
 * scope it needs, and a handler whose answer is compact and bounded: lists are paged and say
 * `truncated: true` with how to get more.
 */
import * as v from 'valibot';
import type { PresentedService } from '../api/types.js';
import type { Health, ServiceState } from '../actors/protocol.js';
import { UNIT_ID_PATTERN } from '../config/instances.js';
import type { serviceSchema } from '../config/schema.js';
import type { Backend, LogRequest } from './backend.js';
import type { Principal, Scope } from '../http/auth.js';

const STATES: ServiceState[] = ['stopped', 'starting', 'running', 'draining', 'stopping', 'exited', 'backoff', 'throttled', 'failed'];
const HEALTHS: Health[] = ['unknown', 'healthy', 'unhealthy', 'stalled'];
const MAX_LINE_CHARS = 1000;
const MAX_LOG_LINES = 200;
const MAX_EVENTS = 200;
const MAX_SERVICES = 200;
const MAX_EVENT_DATA_CHARS = 500;

const id = () => v.pipe(v.string('expected a service id'), v.regex(UNIT_ID_PATTERN, 'expected a service id (letters, digits, ".", "_", "-"), or an instance id like api#0'), v.description('The service id, or an instance id <id>#n, as list_services shows it.'));
const int = (min: number, max: number, def: number, what: string) =>
  v.optional(v.pipe(v.number(`expected an integer ${min}-${max}`), v.integer(`expected an integer ${min}-${max}`), v.minValue(min, `expected at least ${min}`), v.maxValue(max, `expected at most ${max}`), v.description(what)), def);
const since = () => v.optional(v.pipe(
  v.string('expected an ISO 8601 time or epoch milliseconds'),
  v.check((s) => Number.isFinite(/^\d+$/.test(s) ? Number(s) : Date.parse(s)), 'expected an ISO 8601 time (2026-11-23T10:00:00Z) or epoch milliseconds'),
  v.description('Only lines written at or after this time: ISO 8601 (e.g. 2026-11-23T10:00:00Z) or epoch milliseconds.'),
));
const stream = () => v.optional(v.pipe(v.picklist(['stdout', 'stderr', 'both'], 'expected stdout, stderr or both'), v.description('Which output stream (default both, merged in time order).')), 'both');

export interface Tool {
  name: string;
  description: string;
  scope: Scope;
  input: v.GenericSchema;
  /**
   * The handler gets the arguments as given, once they passed the schema — not its output: a
   * service definition is stored as written, its defaults and paths resolved by the orchestrator.
   */
  raw?: boolean;
  run(backend: Backend, args: any, who: Principal): Promise<unknown>;
}

const tool = <S extends v.GenericSchema>(t: { name: string; description: string; scope: Scope; input: S; raw?: boolean; run(b: Backend, args: v.InferOutput<S>, who: Principal): Promise<unknown> }): Tool => t;

/** A service as a list shows it: what a model needs to decide, not every field. */
function row(s: PresentedService) {
  return {
    id: s.id, state: s.state, health: s.health, ready: s.ready, pid: s.pid, group: s.group, restarts: s.restarts,
    uptime_seconds: s.uptime_seconds, ...(s.reason ? { reason: s.reason } : {}),
    ...(s.last_exit ? { last_exit: `${s.last_exit.reason}${s.last_exit.code !== null ? ` code ${s.last_exit.code}` : ''}${s.last_exit.signal ? ` ${s.last_exit.signal}` : ''}` } : {}),
    ...(s.waiting_for.length ? { waiting_for: s.waiting_for } : {}),
  };
}

const clip = (line: string) => (line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}… [${line.length - MAX_LINE_CHARS} more chars]` : line);

function clipData(data: unknown): unknown {
  const text = JSON.stringify(data ?? null);
  return text.length > MAX_EVENT_DATA_CHARS ? `${text.slice(0, MAX_EVENT_DATA_CHARS)}… [truncated]` : data;
}

function timeOf(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  return /^\d+$/.test(s) ? Number(s) : Date.parse(s);
}

async function readLogs(b: Backend, serviceId: string, q: LogRequest, more: string) {
  const r = await b.logs(serviceId, q);
  return {
    service: serviceId,
    count: r.lines.length,
    lines: r.lines.map((l) => (q.stream === 'both' ? `${l.at} [${l.stream}] ${clip(l.line)}` : `${l.at} ${clip(l.line)}`)),
    ...(r.truncated ? { truncated: true, more } : {}),
    ...(r.timedOut ? { timed_out: true, note: 'the search ran out of time before reading every file; narrow it with since' } : {}),
  };
}

/** Every tool; which a caller sees depends on its scopes (server.ts). `spec` is the API's service schema. */
export function tools(spec: ReturnType<typeof serviceSchema>): Tool[] {
  const specObject = spec.pipe[0];
  return [
    tool({
      name: 'list_services',
      description: 'List the supervised services with their state (stopped, starting, running, backoff, failed …), health (unknown, healthy, unhealthy, stalled), readiness, pid, group and restart count. Filter by state, health or group. Paged: when the answer says truncated, call again with the given offset.',
      scope: 'read',
      input: v.strictObject({
        state: v.optional(v.pipe(v.picklist(STATES, `expected one of ${STATES.join(', ')}`), v.description('Only services in this state.'))),
        health: v.optional(v.pipe(v.picklist(HEALTHS, `expected one of ${HEALTHS.join(', ')}`), v.description('Only services with this health.'))),
        group: v.optional(v.pipe(v.string('expected a group name'), v.description('Only services of this supervision group.'))),
        limit: int(1, MAX_SERVICES, 50, 'At most this many services (default 50).'),
        offset: int(0, Number.MAX_SAFE_INTEGER, 0, 'Skip this many (paging).'),
      }),
      run: async (b, a) => {
        const all = (await b.services()).filter((s) => (!a.state || s.state === a.state) && (!a.health || s.health === a.health) && (!a.group || s.group === a.group));
        const page = all.slice(a.offset, a.offset + a.limit);
        const next = a.offset + page.length;
        return { total: all.length, count: page.length, services: page.map(row), ...(next < all.length ? { truncated: true, more: `call again with offset ${next}` } : {}) };
      },
    }),
    tool({
      name: 'get_service',
      description: 'Everything about one service: state, health and the last probe, pid, uptime, restarts, last exit, resource usage, heartbeat, its configuration (spec) and its 10 latest events.',
      scope: 'read',
      input: v.strictObject({ id: id() }),
      run: async (b, a) => {
        const d = await b.service(a.id);
        return { ...d, events: d.events.map((e) => ({ ...e, data: clipData(e.data) })) };
      },
    }),
    tool({
      name: 'tail_logs',
      description: 'The last lines a service wrote to stdout and stderr (each line with its time; long lines are cut). Use since to read only what came after a time.',
      scope: 'read',
      input: v.strictObject({
        id: id(),
        lines: int(1, MAX_LOG_LINES, 50, `How many of the last lines (default 50, at most ${MAX_LOG_LINES}).`),
        stream: stream(),
        since: since(),
      }),
      run: (b, a) => readLogs(b, a.id, { lines: a.lines, stream: a.stream, since: timeOf(a.since) }, 'only the last lines were given: ask with since (a later time) or more lines'),
    }),
    tool({
      name: 'search_logs',
      description: 'Search a service\'s logs, rotated files included, for a text (case-sensitive substring) or a regular expression (JavaScript syntax); gives the last matching lines. Give text or regex, not both.',
      scope: 'read',
      input: v.pipe(v.strictObject({
        id: id(),
        text: v.optional(v.pipe(v.string('expected a text'), v.minLength(1, 'expected a non-empty text'), v.description('Lines containing this text.'))),
        regex: v.optional(v.pipe(
          v.string('expected a regular expression'),
          v.check((s) => { try { new RegExp(s); return true; } catch { return false; } }, (issue) => { try { new RegExp(String(issue.input)); } catch (e) { return `not a valid regular expression: ${(e as Error).message}`; } return 'not a valid regular expression'; }),
          v.description('Lines matching this regular expression.'),
        )),
        lines: int(1, MAX_LOG_LINES, 50, `At most this many matching lines, the last ones (default 50, at most ${MAX_LOG_LINES}).`),
        stream: stream(),
        since: since(),
      }), v.forward(v.partialCheck([['text'], ['regex']], (a) => (a.text === undefined) !== (a.regex === undefined), 'give text or regex (exactly one)'), ['text'])),
      run: (b, a) => readLogs(b, a.id, { lines: a.lines, stream: a.stream, since: timeOf(a.since), text: a.text, regex: a.regex }, 'more lines matched than were given: narrow the search with since, or ask for more lines'),
    }),
    tool({
      name: 'list_events',
      description: 'The orchestrator\'s history: state changes, exits (with code, signal and reason), health changes, limits, restarts, registrations, reloads — numbered by seq. Without since: the latest events. With since: the events after that seq, oldest first (to follow on from an earlier answer, pass its next_since).',
      scope: 'read',
      input: v.strictObject({
        service: v.optional(id()),
        since: v.optional(v.pipe(v.number('expected an event seq'), v.integer('expected an event seq'), v.minValue(0, 'expected an event seq (0 or more)'), v.description('Only events with a seq above this.'))),
        limit: int(1, MAX_EVENTS, 50, `At most this many events (default 50, at most ${MAX_EVENTS}).`),
      }),
      run: async (b, a) => {
        const page = a.since === undefined ? await b.latestEvents(a.limit, a.service) : await b.eventsAfter(a.since, a.limit, a.service);
        const last = page.events.at(-1)?.seq ?? a.since ?? page.last_seq;
        const more = a.since !== undefined && page.events.length === a.limit && last < page.last_seq;
        return {
          count: page.events.length,
          events: page.events.map((e) => ({ seq: e.seq, at: e.at, service: e.service, type: e.type, data: clipData(e.data) })),
          next_since: last,
          last_seq: page.last_seq,
          ...(more ? { truncated: true, more: `call again with since ${last}` } : {}),
        };
      },
    }),
    tool({
      name: 'dependency_graph',
      description: 'How services depend on each other (depends_on): for each service its dependencies, its dependents, whether it is ready, and what it is still waiting for; plus the start order in layers (a layer starts once the ones before it are ready).',
      scope: 'read',
      input: v.strictObject({}),
      run: async (b) => {
        const all = await b.services();
        const dependents = new Map<string, string[]>();
        for (const s of all) for (const d of s.depends_on) dependents.set(d, [...(dependents.get(d) ?? []), s.id]);
        const layers: string[][] = [];
        const placed = new Set<string>();
        let rest = all;
        while (rest.length) {
          const layer = rest.filter((s) => s.depends_on.every((d) => placed.has(d) || !all.some((x) => x.id === d)));
          if (!layer.length) { layers.push(rest.map((s) => s.id)); break; } // a cycle: not accepted by the catalogue, shown anyway
          for (const s of layer) placed.add(s.id);
          layers.push(layer.map((s) => s.id));
          rest = rest.filter((s) => !placed.has(s.id));
        }
        return {
          services: all.map((s) => ({ id: s.id, state: s.state, ready: s.ready, depends_on: s.depends_on, dependents: dependents.get(s.id) ?? [], ...(s.waiting_for.length ? { waiting_for: s.waiting_for } : {}) })),
          start_order: layers,
        };
      },
    }),
    tool({
      name: 'fleet_summary',
      description: 'The whole fleet at a glance: overall status (ok, degraded, unavailable), counts by state, healthy and unhealthy counts, configuration problems and conditions (disk, registry), and the services that need attention (failed, backing off, exited, unhealthy, stalled).',
      scope: 'read',
      input: v.strictObject({}),
      run: async (b) => {
        const [status, all] = await Promise.all([b.status(), b.services()]);
        const attention = all.filter((s) => ['failed', 'backoff', 'exited'].includes(s.state) || s.health === 'unhealthy' || s.health === 'stalled');
        return {
          status: status.status, ...status.services, problems: status.problems,
          attention: attention.slice(0, 20).map(row),
          ...(attention.length > 20 ? { truncated: true, more: `${attention.length - 20} more: use list_services with a state or health filter` } : {}),
        };
      },
    }),
    ...(['start', 'stop', 'restart'] as const).map((command) => tool({
      name: `${command}_service`,
      description: {
        start: 'Start a stopped or failed service. Answers at once with the new state (usually starting); check with get_service that it becomes running and healthy.',
        stop: 'Stop a service: its stop signal to the whole process group, then SIGKILL after its stop timeout. It stays stopped (also across orchestrator restarts) until started.',
        restart: 'Restart a service (stop, then start). Answers at once; check with get_service that it comes back running and healthy. A replicated service restarts every instance; rolling: true restarts them one at a time, each healthy before the next (get_service shows the rollout).',
      }[command],
      scope: 'operate',
      input: command === 'restart'
        ? v.strictObject({ id: id(), rolling: v.optional(v.pipe(v.boolean(), v.description('A replicated service: one instance at a time'))) })
        : v.strictObject({ id: id() }),
      run: async (b: Backend, a: { id: string; rolling?: boolean }, who: Principal) => row(await b.command(a.id, command, who.name, a.rolling)),
    })),
    tool({
      name: 'reload_config',
      description: 'Re-read the service files (services/*.yaml) and apply only the differences: added, removed and changed services (restarting those whose change needs it). Answers which ones, and any problems in the files.',
      scope: 'operate',
      input: v.strictObject({}),
      run: (b, _a, who) => b.reload(who.name),
    }),
    tool({
      name: 'register_service',
      description: 'Register a new service (the same definition as a services/*.yaml file or POST /api/services): id and executable (a command line, run without a shell) are required; health_endpoint, environment, working_dir, restart policy, resource limits, depends_on and more are optional. With auto_start (the default) it starts at once.',
      scope: 'admin',
      input: spec,
      raw: true,
      run: (b, a, who) => b.register(a as Record<string, unknown>, who.name),
    }),
    tool({
      name: 'update_service',
      description: 'Change a service registered over the API: give its id and only the fields to change (merged into its definition). Restarts it only if a change needs that (executable, environment, working_dir …); the answer says whether it did. Services defined in files are changed by editing the file and reload_config.',
      scope: 'admin',
      input: v.required(v.partial(specObject), ['id']),
      raw: true,
      run: (b, a, who) => {
        const { id: serviceId, ...changes } = a as Record<string, unknown> & { id: string };
        return b.update(serviceId, changes, who.name);
      },
    }),
    tool({
      name: 'remove_service',
      description: 'Remove a service registered over the API: it is stopped first, then forgotten (its history stays). Refused while other services depend on it, and for services defined in files.',
      scope: 'admin',
      input: v.strictObject({ id: id() }),
      run: async (b, a, who) => {
        await b.remove(a.id, who.name);
        return { id: a.id, removed: true };
      },
    }),
  ];
}
