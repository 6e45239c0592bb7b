/**
 * mcp: an MCP server on stdin/stdout for a local agent, with the tools of /mcp over this
 * orchestrator's REST API (the address and key resolved like every other verb). Nothing but
 * protocol goes to stdout; logs go to stderr. Which tools are offered follows the key's scopes,
 * learnt from GET /api/whoami.
 */
import type { OrchestratorConfig } from '../../config/schema.js';
import type { Principal, Scope } from '../../http/auth.js';
import { positionals } from '../args.js';
import type { Client } from '../client.js';
import { type Command, withCommon } from '../context.js';

/** Who the key is, and so which tools to offer (the orchestrator checks every call again). */
async function whoami(client: Client): Promise<Principal> {
  const w = await client.json<{ name: string; scopes: string[] }>('GET', '/api/whoami');
  return { name: w.name, scopes: new Set(w.scopes as Scope[]) };
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
