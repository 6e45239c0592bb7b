/** The MCP backend inside the orchestrator (/mcp): the same ports the REST routes use. */
import { formatProblem } from '../config/load.js';
import { notFound } from '../errors.js';
import type { HttpPorts } from '../http/ports.js';
import { presentEvent, presentService, presentSpec } from '../http/present.js';
import type { Stream } from '../os/logs.js';
import type { Backend, EventPage, ServiceDetail } from './backend.js';

const DETAIL_EVENTS = 10;

export function localBackend(o: HttpPorts): Backend {
  const detail = (id: string): ServiceDetail => {
    const entry = o.fleet.get(id);
    const group = o.fleet.isGroup(id);
    return {
      ...presentService(entry), spec: presentSpec(entry.spec), events: o.events.latest(id, DETAIL_EVENTS, group).reverse().map(presentEvent),
      ...(group ? { instances: o.fleet.group(id).instances.map(presentService), rollout: o.fleet.rollout(id) } : {}),
    };
  };
  const page = (events: ReturnType<HttpPorts['events']['after']>): EventPage => ({ events: events.map(presentEvent), last_seq: o.events.lastSeq() });

  return {
    services: async () => o.fleet.list().map(presentService),
    service: async (id) => detail(id),
    logs: async (id, q) => {
      if (!o.fleet.has(id)) throw notFound(`service "${id}"`);
      const streams: Stream[] = q.stream === 'both' ? ['stdout', 'stderr'] : [q.stream];
      const answer = await o.logs.query(id, { streams, lines: q.lines, since: q.since, text: q.text, regex: q.regex });
      return {
        lines: answer.lines.map((l) => ({ stream: l.stream, line: l.line, at: new Date(l.at).toISOString() })),
        truncated: answer.truncated,
        timedOut: answer.timedOut,
      };
    },
    eventsAfter: async (since, limit, service) => {
      if (service && !o.fleet.has(service)) throw notFound(`service "${service}"`);
      return page(o.events.after(since, limit, service, !!service && o.fleet.isGroup(service)));
    },
    latestEvents: async (limit, service) => {
      if (service) {
        if (!o.fleet.has(service)) throw notFound(`service "${service}"`);
        return page(o.events.latest(service, limit, o.fleet.isGroup(service)).reverse());
      }
      return page(o.events.after(Math.max(0, o.events.lastSeq() - limit), limit));
    },
    status: async () => {
      const problems = [...o.fleet.problems.map(formatProblem), ...o.history.conditions()];
      const hostUp = o.status.hostReady();
      return { status: !hostUp ? 'unavailable' : problems.length ? 'degraded' : 'ok', services: o.fleet.summary(), problems };
    },
    command: async (id, command, actor, rolling) => {
      if (!o.fleet.isGroup(id)) return presentService(await o.fleet.command(id, command, `${command} requested over MCP`, actor));
      // A replicated service: every instance, or (restart, rolling) one at a time.
      if (command === 'restart' && rolling) o.fleet.rollingRestart(id, actor);
      else await o.fleet.commandGroup(id, command, `${command} requested over MCP`, actor);
      return presentService(o.fleet.get(id));
    },
    reload: async (actor) => {
      const r = await o.fleet.reload(actor);
      return { ...r, problems: r.problems.map(formatProblem) };
    },
    register: async (input, actor) => {
      const entry = await o.fleet.register(input, actor);
      return { ...detail(entry.spec.id), created: entry.created };
    },
    update: async (id, changes, actor) => {
      const r = await o.fleet.update(id, changes, true, actor);
      return { ...detail(r.spec.id), restarted: r.restarted };
    },
    remove: async (id, actor) => {
      await o.fleet.remove(id, { actor });
    },
  };
}
