/** What every CLI verb gets: its parsed arguments, an API client, output and style. */
import { bool, COMMON_FLAGS, str, type FlagSpecs, type Parsed } from './args.js';
import { Client } from './client.js';
import { Style } from './format.js';
import { resolveTarget, type Target } from './target.js';

export interface Context {
  args: Parsed;
  /** --json: machine-readable output (the API's own JSON), nothing else on stdout. */
  json: boolean;
  style: Style;
  target(): Target;
  /** The API client, created on first use (so `--help` and `dashboard` need no server). */
  client(): Client;
  out(text: string): void;
  /** A line on stderr (notes that must not mix with --json output). */
  note(text: string): void;
  /** Things to close before the process ends (clients, sockets). */
  onClose(fn: () => unknown): void;
  close(): Promise<void>;
}

export interface Command {
  name: string;
  /** e.g. "logs ID [-f] [--stream stdout|stderr] [--lines N]" */
  usage: string;
  summary: string;
  /** More of `--help` than the summary: options, output, exit codes. */
  details?: string;
  flags?: FlagSpecs;
  run(ctx: Context): Promise<number | void>;
}

export function createContext(args: Parsed): Context {
  let target: Target | undefined;
  let client: Client | undefined;
  const closers: Array<() => unknown> = [];
  const ctx: Context = {
    args,
    json: bool(args, 'json'),
    style: Style.detect(bool(args, 'no-color')),
    target: () => (target ??= resolveTarget({ url: str(args, 'url'), apiKey: str(args, 'api-key'), config: str(args, 'config') })),
    client: () => {
      if (!client) {
        client = new Client(ctx.target());
        closers.push(() => client?.close());
      }
      return client;
    },
    out: (text) => { process.stdout.write(text); },
    note: (text) => { process.stderr.write(text.endsWith('\n') ? text : `${text}\n`); },
    onClose: (fn) => { closers.push(fn); },
    close: async () => {
      for (const fn of closers.splice(0).reverse()) {
        try { await fn(); } catch { /* closing anyway */ }
      }
    },
  };
  return ctx;
}

export const withCommon = (flags: FlagSpecs = {}): FlagSpecs => ({ ...COMMON_FLAGS, ...flags });
