/**
 * export: the service files as systemd units or Kubernetes manifests, read straight from the
 * config (as `serve` loads them; no orchestrator needs to run), with the report of what did not map.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../../config/load.js';
import { contextOf, exportFleet, loadForExport, renderReport, TARGETS, UnknownServices, type Target } from '../../export/index.js';
import { bool, int, str, UsageError } from '../args.js';
import { CliError, EXIT } from '../client.js';
import { type Command, withCommon } from '../context.js';

export const REPORT_FILE = 'EXPORT-REPORT.md';

const exportCommand: Command = {
  name: 'export',
  usage: 'export systemd|kubernetes [--out DIR] [--image IMG] [--self] [IDS...]',
  summary: 'write the services as systemd units or Kubernetes manifests, with a report of what does not map',
  details: `Reads --config (default config/orchestrator.yaml) and its services folder as \`serve\` does; no
orchestrator needs to run. IDS: only these services (default: all).

  --config FILE          the orchestrator's config file (default config/orchestrator.yaml)
  --out DIR              write the files and ${REPORT_FILE} there (folders are created)
                         without it nothing is written: the report and the file names are printed
  --json                 print {"files": {name: content}, "report": markdown} instead (with or without --out)
  --image IMG            kubernetes: the image of every service whose file names no "image:"
  --self                 systemd: also orchestrator.service, the orchestrator itself (KillMode=process)
  --systemd-version N    systemd: the oldest release the units must work on (default 252);
                         254 or later adds RestartSteps= and RestartMaxDelaySec= (the backoff curve)

The report (printed, and ${REPORT_FILE} with --out) lists per service what mapped exactly, what
approximately (how) and what was dropped (why). Same input, same bytes: no time stamps.

exit codes: 0 ok (external services are skipped), 1 a service was refused (the others are still exported), 2 usage or a
configuration problem, 5 no such service among IDS
`,
  flags: withCommon({ out: { value: true, aliases: ['-o'] }, image: { value: true }, self: {}, 'systemd-version': { value: true } }),
  async run(ctx) {
    const [target, ...ids] = ctx.args.positionals;
    if (!target || !(TARGETS as readonly string[]).includes(target)) throw new UsageError(`expected systemd or kubernetes${target ? `, got "${target}"` : ''}`);
    if (bool(ctx.args, 'self') && target !== 'systemd') throw new UsageError('--self is for systemd only');
    if (str(ctx.args, 'image') !== undefined && target !== 'kubernetes') throw new UsageError('--image is for kubernetes only');
    let loaded;
    try {
      loaded = loadForExport(str(ctx.args, 'config'));
    } catch (e) {
      if (e instanceof ConfigError) throw new CliError(`the configuration has problems:\n${e.message}`, EXIT.usage);
      throw e;
    }
    let result;
    try {
      result = exportFleet(loaded.specs, contextOf(loaded.config), {
        target: target as Target, ids, image: str(ctx.args, 'image'), self: bool(ctx.args, 'self'),
        systemdVersion: int(ctx.args, 'systemd-version', 252, 200, 999),
      });
    } catch (e) {
      if (e instanceof UnknownServices) throw new CliError(e.message, EXIT.notFound);
      throw e;
    }
    const report = renderReport(result, loaded.config.file ? relativeToCwd(loaded.config.file) : '(default configuration)');
    const out = str(ctx.args, 'out');
    if (out) {
      const dir = resolve(out);
      for (const [name, text] of Object.entries({ ...result.files, [REPORT_FILE]: report })) {
        const file = join(dir, name);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, text);
      }
    }
    if (ctx.json) ctx.out(`${JSON.stringify({ files: result.files, report }, null, 2)}\n`);
    else {
      ctx.out(report);
      if (out) ctx.out(`\nwrote ${Object.keys(result.files).length} file(s) and ${REPORT_FILE} to ${out}\n`);
      else ctx.out(`\n${Object.keys(result.files).length} file(s) not written (no --out DIR): ${Object.keys(result.files).join(', ')}\n`);
    }
    const refused = result.services.filter((s) => s.refused && !s.skipped);
    for (const s of refused) ctx.note(`orchestrator export: ${s.id} refused: ${s.refused}`);
    return refused.length ? EXIT.refused : EXIT.ok;
  },
};

function relativeToCwd(file: string): string {
  const cwd = `${process.cwd()}/`;
  return file.startsWith(cwd) ? file.slice(cwd.length) : file;
}

export const exportCommands: Command[] = [exportCommand];
