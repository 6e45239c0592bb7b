/** Entry point of the `orchestrator` command: `serve` runs the orchestrator, every other verb talks to one. */
import { version } from '../version.js';
import { bool, COMMON_FLAGS, commandFirst, parseArgs, positionals, str, UsageError } from './args.js';
import { completionScript, SHELLS, type Shell } from './completion.js';
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
  const lines = [...LOCAL.slice(0, 1), ...COMMANDS, ...LOCAL.slice(1)].map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`);
  return `usage: orchestrator <command> [options]     (orchestrator help COMMAND, or COMMAND --help: its options)

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

/** The verbs that do not talk to an orchestrator, as `help` and completion list them. */
const SERVE = {
  name: 'serve', usage: 'serve [--config FILE] [--keep-services] [--log-stdout]', summary: 'run the orchestrator in the foreground',
  details: 'options:\n  --config FILE     config/orchestrator.yaml by default\n  --keep-services   on exit, leave the services running for the next orchestrator to adopt\n  --log-stdout      write the orchestrator\'s own log to stdout as well\n',
  flags: { config: { value: true, aliases: ['-c'] }, 'keep-services': {}, 'log-stdout': {}, help: { aliases: ['-h'] } },
};
const LOCAL = [
  SERVE,
  { name: 'help', usage: 'help [COMMAND]', summary: 'this list, or one command\'s options', flags: {} },
  { name: 'completion', usage: 'completion bash|zsh|fish', summary: 'a shell completion script for the commands and their options', flags: {} },
  { name: 'version', usage: 'version', summary: 'the version (also --version)', flags: {} },
];

/** `--help` of one command: its usage, summary and details. */
function commandHelp(c: { usage: string; summary: string; details?: string }): string {
  return `usage: orchestrator ${c.usage}\n\n${c.summary}\n${c.details ? `\n${c.details}` : ''}`;
}

async function runServe(rest: string[]): Promise<number | undefined> {
  let args;
  try {
    args = parseArgs(rest, SERVE.flags);
    positionals(args, []);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`orchestrator serve: ${e.message}\nusage: orchestrator ${SERVE.usage}\n`);
    return EXIT.usage;
  }
  if (bool(args, 'help')) { process.stdout.write(commandHelp(SERVE)); return EXIT.ok; }
  // The server (registry, HTTP engine, actors, logs) loads only for serve: the other commands are
  // HTTP clients, and start in a fraction of the time without it.
  const { serve } = await import('../main.js');
  await serve({ config: str(args, 'config'), keepServices: bool(args, 'keep-services'), logStdout: bool(args, 'log-stdout') });
  return undefined;
}

export async function main(argv: string[]): Promise<number | undefined> {
  const [name, ...rest] = commandFirst(argv, COMMON_FLAGS);
  switch (name) {
    case 'serve':
      return runServe(rest);
    case '--version': case '-v': case 'version':
      process.stdout.write(`${version()}\n`);
      return EXIT.ok;
    case undefined: case '--help': case '-h':
      process.stdout.write(usage());
      return EXIT.ok;
    case 'help': {
      const about = rest.find((a) => !a.startsWith('-'));
      if (about === undefined) { process.stdout.write(usage()); return EXIT.ok; }
      const c = [...COMMANDS, ...LOCAL].find((x) => x.name === about);
      if (!c) { process.stderr.write(`orchestrator help: unknown command "${about}"\n${usage()}`); return EXIT.usage; }
      process.stdout.write(commandHelp(c));
      return EXIT.ok;
    }
    case 'completion': {
      const shell = rest[0];
      if (rest.length !== 1 || !(SHELLS as readonly string[]).includes(shell!)) {
        process.stderr.write(`orchestrator completion: name one shell: ${SHELLS.join(', ')}\nusage: orchestrator completion bash|zsh|fish\n`);
        return rest[0] === '--help' || rest[0] === '-h' ? EXIT.ok : EXIT.usage;
      }
      process.stdout.write(completionScript(shell as Shell, [...COMMANDS, ...LOCAL]));
      return EXIT.ok;
    }
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
      process.stdout.write(commandHelp(command));
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
