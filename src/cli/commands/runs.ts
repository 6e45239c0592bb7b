/** runs ID [--limit N] [--before ROW]: a service's runs, newest first (a scheduled or one-shot job's history). */
import type { PresentedRun, RunsPage } from '../../api/types.js';
import { int, positionals } from '../args.js';
import { type Command, withCommon } from '../context.js';
import { clock, table, type Style } from '../format.js';

/** One run's end as a cell: its exit code or signal, coloured by how it ended. */
function endCell(r: PresentedRun, style: Style): string {
  if (r.ended_at === null) return style.paint('green', 'running');
  if (r.signal) return style.paint('red', r.signal);
  if (r.exit_code === null) return '-';
  return style.paint(r.exit_code === 0 ? 'green' : 'red', String(r.exit_code));
}

function seconds(s: number | null): string {
  if (s === null) return '-';
  return s < 10 ? `${s.toFixed(2)}s` : s < 120 ? `${s.toFixed(1)}s` : `${Math.round(s)}s`;
}

export function runsTable(page: RunsPage, style: Style, now = new Date()): string {
  if (!page.runs.length) return `${page.service}: no runs recorded\n`;
  const rows = page.runs.map((r) => [
    r.run_id, String(r.pid || '-'), clock(r.started_at, now), clock(r.ended_at, now), seconds(r.duration_seconds), endCell(r, style), r.reason ?? '',
  ]);
  const more = page.next_before === null ? '' : `${page.runs.length} of ${page.total}; older: --before ${page.next_before}\n`;
  return table(['RUN', 'PID', 'STARTED', 'ENDED', 'DURATION', 'EXIT', 'REASON'], rows, style) + more;
}

const runs: Command = {
  name: 'runs',
  usage: 'runs ID [--limit N] [--before ROW]',
  summary: "a service's runs, newest first: start, end, duration, exit code or signal",
  flags: withCommon({ limit: { value: true, aliases: ['-n'] }, before: { value: true } }),
  async run(ctx) {
    const [id] = positionals(ctx.args, ['id']);
    const query: Record<string, number> = { limit: int(ctx.args, 'limit', 20, 1, 500) };
    if (ctx.args.flags.has('before')) query.before = int(ctx.args, 'before', 0, 1);
    const page = await ctx.client().json<RunsPage>('GET', `/api/services/${encodeURIComponent(id!)}/runs`, { query });
    if (ctx.json) { ctx.out(`${JSON.stringify(page, null, 2)}\n`); return; }
    ctx.out(runsTable(page, ctx.style));
  },
};

export const runCommands: Command[] = [runs];
