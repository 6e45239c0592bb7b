/** alerts [--sink NAME] [--limit N]: sinks and recent deliveries; alerts test NAME: send a test message and say what became of it. */
import type { AlertsView, PresentedDelivery } from '../../api/types.js';
import { int, seconds, str, UsageError } from '../args.js';
import { CliError, EXIT } from '../client.js';
import { type Command, type Context, withCommon } from '../context.js';
import { clock, table } from '../format.js';

const POLL_MS = 100;

function lastAttempt(d: PresentedDelivery): string {
  const a = d.attempts.at(-1);
  if (!a) return d.status === 'pending' ? `due ${clock(d.next_attempt_at)}` : '';
  const what = a.error ?? `HTTP ${a.status}`;
  return `#${a.n} ${clock(a.at)} ${what}${d.next_attempt_at ? `; next ${clock(d.next_attempt_at)}` : ''}`;
}

function show(ctx: Context, view: AlertsView): void {
  if (ctx.json) { ctx.out(`${JSON.stringify(view, null, 2)}\n`); return; }
  if (view.sinks.length === 0) { ctx.out('no alert sinks configured (alerts: in orchestrator.yaml)\n'); return; }
  ctx.out(table(['SINK', 'TYPE', 'URL', 'ON', 'PROBLEM'], view.sinks.map((s) => [
    s.name, s.type, s.url ?? (s.url_env ? `$${s.url_env}` : '-'), s.on.join(','), s.problem ? ctx.style.paint('red', s.problem) : '',
  ]), ctx.style));
  ctx.out(`\n${view.pending} pending, ${view.in_flight} in flight\n`);
  if (view.deliveries.length === 0) return;
  ctx.out(table(['CREATED', 'SINK', 'SERVICE', 'REASON', 'COUNT', 'STATUS', 'LAST ATTEMPT'], view.deliveries.map((d) => [
    clock(d.created_at), d.sink, d.service ?? '-', d.test ? 'test' : d.reason, String(d.count),
    ctx.style.paint(d.status === 'delivered' ? 'green' : d.status === 'gave_up' ? 'red' : 'yellow', d.status), lastAttempt(d),
  ]), ctx.style));
}

const alerts: Command = {
  name: 'alerts',
  usage: 'alerts [--sink NAME] [--limit N] | alerts test NAME [--wait SECONDS]',
  summary: 'alert sinks and recent deliveries; `test NAME` sends a test message and reports whether it arrived',
  flags: withCommon({ sink: { value: true }, limit: { value: true, aliases: ['-n'] }, wait: { value: true } }),
  async run(ctx) {
    const [verb, name, extra] = ctx.args.positionals;
    const client = ctx.client();
    if (verb === undefined) {
      const sink = str(ctx.args, 'sink');
      show(ctx, await client.json<AlertsView>('GET', '/api/alerts', { query: { sink, limit: int(ctx.args, 'limit', 20, 1, 200) } }));
      return;
    }
    if (verb !== 'test') throw new UsageError(`unknown alerts command "${verb}" (only "test NAME")`);
    if (!name) throw new UsageError('missing NAME (the alert sink)');
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
    const waitMs = seconds(ctx.args, 'wait', 30) * 1000;
    const { delivery } = await client.json<{ delivery: PresentedDelivery }>('POST', `/api/alerts/${encodeURIComponent(name)}/test`);
    // The first attempt's outcome: delivered, or why not (the orchestrator keeps retrying after that).
    const deadline = Date.now() + waitMs;
    let d = delivery;
    while (d.attempts.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      const view = await client.json<AlertsView>('GET', '/api/alerts', { query: { delivery: delivery.id, limit: 1 } });
      d = view.deliveries[0] ?? d;
    }
    if (ctx.json) ctx.out(`${JSON.stringify(d, null, 2)}\n`);
    const a = d.attempts.at(-1);
    if (d.status === 'delivered' && a) {
      if (!ctx.json) ctx.out(`delivered to ${name}: HTTP ${a.status} in ${a.duration_ms} ms (delivery ${d.id})\n`);
      return EXIT.ok;
    }
    const why = a ? `attempt ${a.n} failed: ${a.error ?? `HTTP ${a.status}`}` : `no attempt finished within ${waitMs / 1000}s`;
    const then = d.status === 'gave_up' ? 'gave up' : d.next_attempt_at ? `retrying at ${clock(d.next_attempt_at)}` : 'still trying';
    throw new CliError(`not delivered to ${name}: ${why}; ${then} (delivery ${d.id}; see orchestrator alerts)`, EXIT.refused);
  },
};

export const alertCommands: Command[] = [alerts];
