/** Entry point of the `orchestrator` command: `serve` runs the orchestrator, every other verb talks to one. */
import { serve } from '../main.js';
import { version } from '../version.js';
import { bool, COMMON_FLAGS, commandFirst, parseArgs, UsageError } from './args.js';
import { CliError, EXIT } from './client.js';
import { alertCommands } from './commands/alerts.js';
import { dashboardCommands } from './commands/dashboard.js';
import { eventCommands } from './commands/events.js';
import { exportCommands } from './commands/export.js';
import { logCommands } from './commands/logs.js';
import { mcpCommands } from './commands/mcp.js';
import { registryCommands } from './commands/registry.js';
import { runCommands } from './commands/runs.js';
import { serviceCommands } from './commands/services.js';
import { type Command, createContext } from './context.js';

const COMMANDS: Command[] = [...serviceCommands, ...logCommands, ...runCommands, ...eventCommands, ...registryCommands, ...alertCommands, ...dashboardCommands, ...mcpCommands, ...exportCommands];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.usage.length), 44);
  const lines = COMMANDS.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`);
  return `usage: orchestrator <command> [options]

  ${'serve [--config FILE] [--keep-services] [--log-stdout]'.padEnd(width)}  run the orchestrator in the foreground
${lines.join('\n')}

options for every command that talks to an orchestrator:
  --url URL         the orchestrator (default: ORCHESTRATOR_URL, else host and port of config/orchestrator.yaml)
  --api-key KEY     API key (default: ORCHESTRATOR_API_KEY, else api.api_key of that config file)
  --config FILE     the config file to read the address and key from
  --json            machine-readable output
  --no-color        no colours (they are only used on a terminal anyway)

exit codes: 0 ok, 1 refused by the orchestrator, 2 usage, 3 orchestrator unreachable, 4 API key missing or wrong, 5 no such service
`;
}

async function runServe(rest: string[]): Promise<void> {
  const opts: { config?: string; keepServices?: boolean; logStdout?: boolean } = {};
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--config' || a === '-c') opts.config = rest[++i];
    else if (a.startsWith('--config=')) opts.config = a.slice(9);
    else if (a === '--keep-services') opts.keepServices = true;
    else if (a === '--log-stdout') opts.logStdout = true;
    else { process.stderr.write(`orchestrator serve: unknown option ${a}\n${usage()}`); process.exit(EXIT.usage); }
  }
  await serve(opts);
}

export async function main(argv: string[]): Promise<number | undefined> {
  const [name, ...rest] = commandFirst(argv, COMMON_FLAGS);
  switch (name) {
    case 'serve':
      await runServe(rest);
      return undefined;
    case '--version': case '-v': case 'version':
      process.stdout.write(`${version()}\n`);
      return EXIT.ok;
    case undefined: case '--help': case '-h': case 'help':
      process.stdout.write(usage());
      return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`orchestrator: unknown command "${name}"\n${usage()}`);
    return EXIT.usage;
  }
  let ctx;
  try {
    const args = parseArgs(rest, command.flags ?? {});
    if (bool(args, 'help')) {
      process.stdout.write(`usage: orchestrator ${command.usage}\n\n${command.summary}\n${command.details ? `\n${command.details}` : ''}`);
      return EXIT.ok;
    }
    ctx = createContext(args);
    return (await command.run(ctx)) ?? EXIT.ok;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`orchestrator ${command.name}: ${e.message}\nusage: orchestrator ${command.usage}\n`);
      return EXIT.usage;
    }
    if (e instanceof CliError) {
      process.stderr.write(`orchestrator: ${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  } finally {
    await ctx?.close();
  }
}

// stdout closed early (`orchestrator events -f | head`): stop quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(EXIT.ok);
});

const code = await main(process.argv.slice(2));
if (code !== undefined) process.exitCode = code;
