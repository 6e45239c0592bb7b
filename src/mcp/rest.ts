/** The MCP backend of `orchestrator mcp` (stdio): the orchestrator's REST API, through the CLI's client. */
import type { PresentedService } from '../api/types.js';
import type { Client } from '../cli/client.js';
import type { Backend, EventPage, LogResult, ServiceDetail } from './backend.js';

const enc = encodeURIComponent;

export function restBackend(client: Client): Backend {
  const eventsPath = (service?: string) => (service ? `/api/services/${enc(service)}/events` : '/api/events');
  return {
    services: async () => (await client.json<{ services: PresentedService[] }>('GET', '/api/services')).services,
    service: (id) => client.json<ServiceDetail>('GET', `/api/services/${enc(id)}`),
    logs: async (id, q): Promise<LogResult> => {
      const answer = await client.raw('GET', `/api/services/${enc(id)}/logs`, {
        accept: 'application/x-ndjson',
        query: { lines: q.lines, stream: q.stream, since: q.since, q: q.text, regex: q.regex },
      });
      const lines = answer.text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { stream: string; line: string; at: string });
      return {
        lines: lines.map(({ stream, line, at }) => ({ stream, line, at })),
        truncated: answer.headers['x-log-truncated'] === 'true',
        timedOut: answer.headers['x-log-timed-out'] === 'true',
      };
    },
    eventsAfter: (since, limit, service) => client.json<EventPage>('GET', eventsPath(service), { query: { since, limit } }),
    latestEvents: async (limit, service) => {
      // A service's events without `since` are its newest; the whole log is read from a seq.
      if (service) return client.json<EventPage>('GET', eventsPath(service), { query: { limit } });
      const head = await client.json<EventPage>('GET', '/api/events', { query: { since: Number.MAX_SAFE_INTEGER, limit: 1 } });
      return client.json<EventPage>('GET', '/api/events', { query: { since: Math.max(0, head.last_seq - limit), limit } });
    },
    status: async () => {
      const h = await client.json<{ status: string; services: Awaited<ReturnType<Backend['status']>>['services']; problems: string[] }>('GET', '/health', { allow: [503] });
      return { status: h.status, services: h.services, problems: h.problems };
    },
    // The orchestrator records the key's own name as the actor: nothing to send for it.
    command: (id, command, _actor, rolling) => client.json<PresentedService>('PUT', `/api/services/${enc(id)}/${command}`, rolling ? { query: { rolling: 'true' } } : {}),
    reload: () => client.json<Record<string, unknown>>('POST', '/api/reload'),
    register: async (input) => {
      const answer = await client.raw('POST', '/api/services', { body: input });
      return { ...(JSON.parse(answer.text) as ServiceDetail), created: answer.status === 201 };
    },
    update: (id, changes) => client.json<ServiceDetail & { restarted: boolean }>('PATCH', `/api/services/${enc(id)}`, { body: changes }),
    remove: async (id) => {
      await client.json('DELETE', `/api/services/${enc(id)}`);
    },
  };
}
