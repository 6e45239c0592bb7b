/** logs ID [-f] [--stream stdout|stderr] [--lines N]: the tail of a service's output, then live lines. */
import type { LogStream } from '../../api/types.js';
import { bool, int, positionals, str, UsageError } from '../args.js';
import { type Command, type Context, withCommon } from '../context.js';
import { follow, StopSignal, type FeedMessage } from '../feed.js';

type Stream = LogStream;
/** A line as the log API gives it; `instance` in the merged logs of a replicated service. */
interface Line { stream: Stream; line: string; instance?: string }

/**
 * Lines the live feed delivered that the tail already holds: the feed follows from the moment of
 * subscribing, the tail is read a moment later, so their overlap is the tail's end and the feed's
 * start. Returns how many leading feed lines to drop.
 */
export function overlap(tail: string[], live: string[]): number {
  for (let k = Math.min(tail.length, live.length); k > 0; k--) {
    let same = true;
    for (let i = 0; i < k && same; i++) same = tail[tail.length - k + i] === live[i];
    if (same) return k;
  }
  return 0;
}

const logs: Command = {
  name: 'logs',
  usage: 'logs ID [-f] [--stream stdout|stderr] [--lines N]',
  summary: "a service's recent output; -f follows it live until Ctrl-C",
  flags: withCommon({ follow: { aliases: ['-f'] }, stream: { value: true }, lines: { value: true, aliases: ['-n'] } }),
  async run(ctx) {
    const [id] = positionals(ctx.args, ['id']);
    const which = str(ctx.args, 'stream') ?? 'both';
    if (!['stdout', 'stderr', 'both'].includes(which)) throw new UsageError(`--stream must be stdout or stderr, got "${which}"`);
    const lines = int(ctx.args, 'lines', 100, 1, 10_000);
    const streams: Stream[] = which === 'both' ? ['stdout', 'stderr'] : [which as Stream];
    const print = printer(ctx, streams.length > 1);
    const fetchTail = async (): Promise<Line[]> => {
      const answer = await ctx.client().raw('GET', `/api/services/${encodeURIComponent(id!)}/logs`, {
        query: { lines, stream: which }, accept: 'application/x-ndjson',
      });
      return answer.text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
    };
    if (!bool(ctx.args, 'follow')) {
      for (const l of await fetchTail()) print(l.stream, l.line, l.instance);
      return;
    }

    const stop = new StopSignal();
    ctx.onClose(() => stop.dispose());
    // Check the id and key over plain HTTP first: a refused WebSocket handshake says nothing useful.
    // A replicated service is followed through each of its instances' topics.
    const detail = JSON.parse((await ctx.client().raw('GET', `/api/services/${encodeURIComponent(id!)}`)).text) as { instances?: Array<{ id: string }> };
    const sources = detail.instances ? detail.instances.map((i) => i.id) : [id!];
    const named = !!detail.instances;
    const key = (source: string, stream: Stream) => `${source}\u0000${stream}`;
    const pending = new Map<string, string[]>();
    let buffering = true;
    return follow(ctx.client(), stop, {
      topics: sources.map((s) => `logs/${s}`),
      note: ctx.note,
      onLive: async () => {
        const tail = await fetchTail();
        for (const l of tail) print(l.stream, l.line, l.instance);
        for (const source of sources) {
          for (const s of streams) {
            const tailOf = tail.filter((l) => l.stream === s && (!named || l.instance === source)).map((l) => l.line);
            const held = pending.get(key(source, s)) ?? [];
            for (const line of held.slice(overlap(tailOf, held))) print(s, line, named ? source : undefined);
          }
        }
        buffering = false;
      },
      onMessage: (msg: FeedMessage) => {
        if (msg.type !== 'log' || !sources.includes(msg.service)) return;
        const stream = msg.stream;
        if (!streams.includes(stream)) return;
        for (const line of msg.lines) {
          if (buffering) pending.set(key(msg.service, stream), [...(pending.get(key(msg.service, stream)) ?? []), line]);
          else print(stream, line, named ? msg.service : undefined);
        }
      },
    });
  },
};

/** Prints a line: its instance first (a replicated service), then its stream when both are shown. */
function printer(ctx: Context, tagged: boolean): (stream: Stream, line: string, instance?: string) => void {
  if (ctx.json) return (stream, line, instance) => ctx.out(`${JSON.stringify({ stream, line, ...(instance ? { instance } : {}) })}\n`);
  const who = (instance?: string) => (instance ? `${ctx.style.paint('bold', instance)} | ` : '');
  if (!tagged) return (_stream, line, instance) => ctx.out(`${who(instance)}${line}\n`);
  return (stream, line, instance) => ctx.out(`${who(instance)}${ctx.style.paint(stream === 'stderr' ? 'red' : 'dim', stream === 'stderr' ? 'err|' : 'out|')} ${line}\n`);
}

export const logCommands: Command[] = [logs];
