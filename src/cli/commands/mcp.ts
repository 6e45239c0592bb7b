/**
 * mcp: an MCP server on stdin/stdout for a local agent, with the tools of /mcp over this
 * orchestrator's REST API (the address and key resolved like every other verb). Nothing but
 * protocol goes to stdout; logs go to stderr. Which tools are offered follows the key's scopes,
 * learnt from GET /api/whoami.
 */
import type { OrchestratorConfig } from '../../config/schema.js';
import { ALL_SCOPES, type Principal, type Scope } from '../../mcp/scopes.js';
import { positionals } from '../args.js';
import { CliError, EXIT, type Client } from '../client.js';
import { type Command, withCommon } from '../context.js';

/** Who the key is. An orchestrator from before API key scopes has no /api/whoami: its one key may do everything. */
async function whoami(client: Client): Promise<Principal> {
  try {
    const w = await client.json<{ name: string; scopes: string[] }>('GET', '/api/whoami');
    return { name: w.name, scopes: new Set(w.scopes as Scope[]) };
  } catch (e) {
    if (!(e instanceof CliError) || e.exitCode !== EXIT.notFound) throw e;
    // No such route is answered before the key is checked: check it with the cheapest request there is.
    await client.json('GET', '/api/events', { query: { since: Number.MAX_SAFE_INTEGER, limit: 1 } });
    return { name: client.target.apiKey ? 'api-key' : 'anonymous', scopes: ALL_SCOPES };
  }
}

const mcp: Command = {
  name: 'mcp',
  usage: 'mcp',
  summary: 'serve MCP (Model Context Protocol) on stdin/stdout: this orchestrator\'s tools for a local agent',
  flags: withCommon(),
  async run(ctx) {
    positionals(ctx.args, []);
    // Loaded here, not with the CLI: every other verb starts without the MCP SDK.
    const [{ StdioServerTransport }, { default: pino }, v, { serviceDefaults }, { orchestratorConfigSchema, serviceSchema }, { restBackend }, { createMcpServer }] = await Promise.all([
      import('@modelcontextprotocol/sdk/server/stdio.js'), import('pino'), import('valibot'), import('../../config/load.js'),
      import('../../config/schema.js'), import('../../mcp/rest.js'), import('../../mcp/server.js'),
    ]);
    const client = ctx.client();
    const log = pino({ level: process.env.ORCHESTRATOR_MCP_LOG_LEVEL ?? 'info', base: { component: 'mcp', pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
    // Asked once it is needed, and again after a failure (the orchestrator may start later).
    let principal: Promise<Principal> | null = null;
    const who = () => (principal ??= whoami(client).catch((e: unknown) => { principal = null; throw e; }));
    // Only for validating arguments (the orchestrator applies its own defaults): the built-in ones do.
    const defaults = v.parse(orchestratorConfigSchema(process.cwd()), {}) as OrchestratorConfig;
    const { server } = createMcpServer({
      backend: restBackend(client),
      principal: who,
      serviceSchema: serviceSchema(serviceDefaults(defaults), process.cwd()),
      log,
      subscriptions: false,
    });
    const transport = new StdioServerTransport();
    const closed = new Promise<void>((resolve) => {
      server.onclose = resolve;
      process.stdin.once('end', () => void server.close());
      process.stdin.once('close', () => void server.close());
    });
    await server.connect(transport);
    log.info({ url: client.url }, 'MCP server on stdio');
    await closed;
    log.info('MCP stdio session ended');
  },
};

export const mcpCommands: Command[] = [mcp];
