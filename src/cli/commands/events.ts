/** events [-f] [--service ID] [--limit N] [--since SEQ]: the registry's history, then live events. */
import type { PresentedEvent } from '../../api/types.js';
import { bool, int, positionals, str } from '../args.js';
import { type Command, type Context, withCommon } from '../context.js';
import { follow, StopSignal, type FeedMessage } from '../feed.js';
import { clock, inline } from '../format.js';

type EventJson = PresentedEvent;
interface EventPage { events: EventJson[]; last_seq: number }

const EVENT_COLOURS: Record<string, 'green' | 'red' | 'yellow'> = {
  started: 'green', healthy: 'green', running: 'green', registered: 'green',
  exited: 'yellow', backoff: 'yellow', unhealthy: 'red', failed: 'red', limit_exceeded: 'red',
};

function eventLine(ctx: Context, e: EventJson): string {
  if (ctx.json) return `${JSON.stringify(e)}\n`;
  const type = ctx.style.paint(EVENT_COLOURS[e.type], e.type.padEnd(12));
  return `${ctx.style.paint('dim', clock(e.at))}  ${ctx.style.paint('dim', `#${e.seq}`.padStart(6))}  ${(e.service ?? '-').padEnd(18)} ${type} ${inline(e.data)}`.trimEnd() + '\n';
}

const events: Command = {
  name: 'events',
  usage: 'events [-f] [--service ID] [--limit N] [--since SEQ]',
  summary: 'recent history (state changes, exits, health); -f follows live until Ctrl-C',
  flags: withCommon({ follow: { aliases: ['-f'] }, service: { value: true, aliases: ['-s'] }, limit: { value: true, aliases: ['-n'] }, since: { value: true } }),
  async run(ctx) {
    positionals(ctx.args, []);
    const client = ctx.client();
    const service = str(ctx.args, 'service');
    const limit = int(ctx.args, 'limit', 20, 1, 1000);
    const path = service ? `/api/services/${encodeURIComponent(service)}/events` : '/api/events';
    let page: EventPage;
    if (ctx.args.flags.has('since')) {
      page = await client.json<EventPage>('GET', path, { query: { since: int(ctx.args, 'since', 0), limit } });
    } else if (service) {
      page = await client.json<EventPage>('GET', path, { query: { limit } }); // the newest `limit`, oldest first
    } else {
      const head = await client.json<EventPage>('GET', path, { query: { since: 0, limit: 1 } });
      page = await client.json<EventPage>('GET', path, { query: { since: Math.max(0, head.last_seq - limit), limit } });
    }
    let last = page.events.length ? page.events[page.events.length - 1]!.seq : page.last_seq;
    for (const e of page.events) ctx.out(eventLine(ctx, e));
    if (!bool(ctx.args, 'follow')) return;

    // Resume from the last event printed: the feed replays anything after it, so nothing is lost.
    const stop = new StopSignal();
    ctx.onClose(() => stop.dispose());
    return follow(client, stop, {
      topics: [service ? `service/${service}` : 'services'],
      since: () => last,
      note: ctx.note,
      onMessage: (msg: FeedMessage) => {
        if (msg.type === 'reset') { ctx.note(`feed: ${msg.reason}`); last = msg.seq; return; }
        const list = msg.type === 'event' ? [msg.event] : msg.type === 'events' ? msg.events : [];
        for (const e of list) {
          if (e.seq <= last) continue;
          last = e.seq;
          ctx.out(eventLine(ctx, e));
        }
      },
    });
  },
};

export const eventCommands: Command[] = [events];
