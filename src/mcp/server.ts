/**
 * One MCP server (the SDK's low-level Server) over a Backend, for one principal: tools/list shows
 * only the tools its scopes allow and tools/call refuses the rest; arguments are checked with the
 * tool's valibot schema and a problem comes back as a tool error naming the field. Resources:
 * each service's spec and log tail, readable, and — where the backend sees changes (in-process,
 * over /mcp) — subscribable, with notifications/resources/updated when the service changes state.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema, ErrorCode, ListResourcesRequestSchema, ListResourceTemplatesRequestSchema, ListToolsRequestSchema,
  McpError, ReadResourceRequestSchema, SubscribeRequestSchema, UnsubscribeRequestSchema, type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import { toJsonSchema } from '@valibot/to-json-schema';
import type { Logger } from 'pino';
import * as v from 'valibot';
import { formatProblem, issuesToProblems } from '../config/load.js';
import type { serviceSchema } from '../config/schema.js';
import { AppError } from '../errors.js';
import { version } from '../version.js';
import type { Backend } from './backend.js';
import type { Principal } from '../http/auth.js';
import { tools, type Tool } from './tools.js';

const RESOURCE = /^orchestrator:\/\/services\/([A-Za-z0-9][A-Za-z0-9._-]{0,63})\/(spec|logs)$/;
const RESOURCE_PAGE = 100;
const LOG_RESOURCE_LINES = 100;

export interface McpServerOptions {
  backend: Backend;
  /** Who is calling (stdio learns it from GET /api/whoami, once). */
  principal(): Promise<Principal>;
  /** The API's service schema (register, update). */
  serviceSchema: ReturnType<typeof serviceSchema>;
  log: Logger;
  /** resources/subscribe is offered (the caller calls `changed` when services change). */
  subscriptions: boolean;
  instructions?: string;
}

export interface McpServer {
  server: Server;
  /** These services changed state: notify the subscribers of their resources. */
  changed(ids: Iterable<string>): void;
}

const INSTRUCTIONS = 'This server operates an AI agent orchestrator: a supervisor that keeps a fleet of services (processes) alive, health-checks and restarts them, and keeps their logs and history. Start with fleet_summary or list_services; get_service, tail_logs, search_logs and list_events explain what happened to a service. Answers are JSON; lists are bounded and say truncated: true with how to get more.';

const jsonSchemas = new WeakMap<Tool, Record<string, unknown>>();

function inputSchema(t: Tool): Record<string, unknown> {
  let s = jsonSchemas.get(t);
  if (!s) {
    // Input types: defaults are shown, transforms (sizes, paths) are the server's business.
    const { $schema: _drop, ...rest } = toJsonSchema(t.input, { typeMode: 'input', errorMode: 'ignore' }) as Record<string, unknown>;
    s = { type: 'object', ...rest };
    jsonSchemas.set(t, s);
  }
  return s;
}

const text = (value: unknown, isError = false): CallToolResult => ({ content: [{ type: 'text', text: JSON.stringify(value) }], ...(isError ? { isError: true } : {}) });

/** An error as a model reads it: what went wrong, and the field when there is one. */
function describe(err: unknown): Record<string, unknown> {
  if (err instanceof AppError) {
    return {
      error: err.message, code: err.code,
      ...(err.field ? { field: err.field } : {}),
      ...(err.problems && err.problems.length > 1 ? { problems: err.problems.map(formatProblem) } : {}),
    };
  }
  return { error: (err as Error).message ?? String(err) };
}

export function createMcpServer(opts: McpServerOptions): McpServer {
  const { backend, log } = opts;
  const all = tools(opts.serviceSchema);
  const byName = new Map(all.map((t) => [t.name, t]));
  const subscribed = new Set<string>();
  const server = new Server(
    { name: 'agent-orchestrator', version: version() },
    {
      capabilities: { tools: {}, resources: { subscribe: opts.subscriptions } },
      instructions: opts.instructions ?? INSTRUCTIONS,
    },
  );

  server.setRequestHandler(ListToolsRequestSchema, async () => {
    const who = await opts.principal();
    return {
      tools: all.filter((t) => who.scopes.has(t.scope)).map((t) => ({
        name: t.name, description: t.description, inputSchema: inputSchema(t) as { type: 'object' },
        annotations: { readOnlyHint: t.scope === 'read', destructiveHint: t.name === 'remove_service' || t.name === 'stop_service' },
      })),
    };
  });

  server.setRequestHandler(CallToolRequestSchema, async (req) => {
    const t = byName.get(req.params.name);
    if (!t) throw new McpError(ErrorCode.InvalidParams, `no tool named "${req.params.name}"; tools/list names the ones there are`);
    const who = await opts.principal();
    if (!who.scopes.has(t.scope)) {
      log.warn({ tool: t.name, principal: who.name }, 'MCP tool refused: scope');
      return text({ error: `${t.name} needs the ${t.scope} scope; the key "${who.name}" has ${[...who.scopes].join(', ') || 'none'}`, code: 'forbidden' }, true);
    }
    const args = req.params.arguments ?? {};
    const parsed = v.safeParse(t.input, args);
    if (!parsed.success) {
      const problems = issuesToProblems(parsed.issues);
      return text({
        error: `invalid arguments: ${problems.map((p) => formatProblem({ ...p, field: p.field || '(arguments)' })).join('; ')}`,
        code: 'validation',
        field: problems[0]?.field || '(arguments)',
      }, true);
    }
    try {
      const result = await t.run(backend, t.raw ? args : parsed.output, who);
      if (t.scope !== 'read') log.info({ tool: t.name, principal: who.name, id: (args as { id?: unknown }).id }, 'MCP tool call');
      return text(result);
    } catch (err) {
      if (!(err instanceof AppError) && (err as Error).name !== 'CliError') log.error({ err, tool: t.name }, 'MCP tool failed');
      return text(describe(err), true);
    }
  });

  server.setRequestHandler(ListResourcesRequestSchema, async (req) => {
    const services = await backend.services();
    const start = Number(req.params?.cursor ?? 0) || 0;
    const page = services.slice(start, start + RESOURCE_PAGE);
    const next = start + page.length;
    return {
      resources: page.flatMap((s) => [
        { uri: `orchestrator://services/${s.id}/spec`, name: `${s.id} spec`, description: `Definition and current state of ${s.name}`, mimeType: 'application/json' },
        { uri: `orchestrator://services/${s.id}/logs`, name: `${s.id} logs`, description: `The last ${LOG_RESOURCE_LINES} log lines of ${s.name}`, mimeType: 'text/plain' },
      ]),
      ...(next < services.length ? { nextCursor: String(next) } : {}),
    };
  });

  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({
    resourceTemplates: [
      { uriTemplate: 'orchestrator://services/{id}/spec', name: 'service spec', description: 'A service\'s definition and current state', mimeType: 'application/json' },
      { uriTemplate: 'orchestrator://services/{id}/logs', name: 'service logs', description: `A service's last ${LOG_RESOURCE_LINES} log lines`, mimeType: 'text/plain' },
    ],
  }));

  const parseUri = (uri: string) => {
    const m = RESOURCE.exec(uri);
    if (!m) throw new McpError(ErrorCode.InvalidParams, `unknown resource ${uri}: expected orchestrator://services/{id}/spec or orchestrator://services/{id}/logs`);
    return { id: m[1]!, kind: m[2] as 'spec' | 'logs' };
  };

  server.setRequestHandler(ReadResourceRequestSchema, async (req) => {
    const { uri } = req.params;
    const { id, kind } = parseUri(uri);
    try {
      if (kind === 'spec') {
        const d = await backend.service(id);
        return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify({ id: d.id, state: d.state, health: d.health, ready: d.ready, pid: d.pid, spec: d.spec }) }] };
      }
      const r = await backend.logs(id, { lines: LOG_RESOURCE_LINES, stream: 'both' });
      return { contents: [{ uri, mimeType: 'text/plain', text: r.lines.map((l) => `${l.at} [${l.stream}] ${l.line}`).join('\n') }] };
    } catch (err) {
      throw new McpError(err instanceof AppError && err.status === 404 ? ErrorCode.InvalidParams : ErrorCode.InternalError, (err as Error).message);
    }
  });

  if (opts.subscriptions) {
    server.setRequestHandler(SubscribeRequestSchema, async (req) => {
      parseUri(req.params.uri);
      subscribed.add(req.params.uri);
      return {};
    });
    server.setRequestHandler(UnsubscribeRequestSchema, async (req) => {
      subscribed.delete(req.params.uri);
      return {};
    });
  }

  return {
    server,
    changed: (ids) => {
      if (subscribed.size === 0) return;
      for (const id of ids) {
        for (const kind of ['spec', 'logs']) {
          const uri = `orchestrator://services/${id}/${kind}`;
          if (subscribed.has(uri)) server.sendResourceUpdated({ uri }).catch((err: unknown) => log.debug({ err, uri }, 'resource update not sent'));
        }
      }
    },
  };
}
