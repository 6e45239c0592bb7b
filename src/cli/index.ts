/** Entry point of the `orchestrator` command: `serve` runs the orchestrator, every other verb talks to one. */
import { serve } from '../main.js';
import { version } from '../version.js';

const USAGE = `usage: orchestrator <command> [options]

  serve [--config FILE] [--keep-services] [--log-stdout]
                         run the orchestrator in the foreground
  --version              print the version
`;

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve': {
      const opts: { config?: string; keepServices?: boolean; logStdout?: boolean } = {};
      for (let i = 0; i < rest.length; i++) {
        const a = rest[i]!;
        if (a === '--config' || a === '-c') opts.config = rest[++i];
        else if (a.startsWith('--config=')) opts.config = a.slice(9);
        else if (a === '--keep-services') opts.keepServices = true;
        else if (a === '--log-stdout') opts.logStdout = true;
        else { process.stderr.write(`orchestrator serve: unknown option ${a}\n${USAGE}`); process.exit(2); }
      }
      await serve(opts);
      return;
    }
    case '--version': case '-v': case 'version':
      process.stdout.write(`${version()}\n`);
      return;
    case undefined: case '--help': case '-h': case 'help':
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`orchestrator: unknown command "${command}"\n${USAGE}`);
      process.exit(2);
  }
}

await main(process.argv.slice(2));
