/**
 * Writing systemd unit files: sections of key=value lines under a header comment, with systemd's
 * quoting — `%` starts a specifier and `$` a variable in ExecStart=, so both are doubled unless
 * meant; words and Environment= assignments are double-quoted with C escapes when they need it.
 * Also: finding an executable on PATH, since ExecStart= wants an absolute path.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { splitCommandLine } from '../config/argv.js';

export type Section = Array<[string, string]>;
export interface UnitFile { header: string[]; sections: Array<[string, Section]> }

/** The file's text: header comment lines, then each non-empty section. */
export function renderUnit(unit: UnitFile): string {
  const out = unit.header.map((l) => `# ${l}`.trimEnd());
  for (const [name, lines] of unit.sections) {
    if (lines.length === 0) continue;
    out.push('', `[${name}]`, ...lines.map(([k, v]) => `${k}=${v}`));
  }
  return `${out.join('\n')}\n`;
}

/** Specifiers off: a literal % in any value. */
export const noSpec = (s: string) => s.replace(/%/g, '%%');

const cEscape = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t');

/**
 * One word of ExecStart=. `keepVars`: ${NAME} stays for systemd to expand from the unit's
 * environment (a replica's SERVICE_PORT); otherwise every $ is literal.
 */
export function execWord(word: string, keepVars = false): string {
  let s = noSpec(word);
  s = keepVars ? s.replace(/\$(?!\{[A-Za-z_][A-Za-z0-9_]*\})/g, '$$$$') : s.replace(/\$/g, '$$$$');
  return /^[A-Za-z0-9_@%+=:,./${}-]+$/.test(s) ? s : `"${cEscape(s)}"`;
}

/** An Environment= value: "NAME=value", quoted when the value needs it. */
export function envAssignment(name: string, value: string): string {
  const s = `${name}=${noSpec(value)}`;
  return /^[A-Za-z0-9_=:,./@+-]*$/.test(s) ? s : `"${cEscape(s)}"`;
}

/** A PATH search, as a shell would do it: the first regular, executable file. */
export function whichOnPath(name: string, path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const file = join(dir, name);
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, constants.X_OK);
      return file;
    } catch { /* not here */ }
  }
  return null;
}

export interface ResolvedCommand {
  argv: string[];
  /** How argv[0] was resolved, for the report. */
  how: 'absolute' | 'relative' | 'path' | 'not-found';
}

/** The command line as argv with an absolute argv[0]: relative to working_dir, or found on PATH. */
export function resolveCommand(executable: string, workingDir: string, which: (name: string) => string | null): ResolvedCommand {
  const argv = splitCommandLine(executable);
  const first = argv[0]!;
  if (isAbsolute(first)) return { argv, how: 'absolute' };
  if (first.includes('/')) return { argv: [resolve(workingDir, first), ...argv.slice(1)], how: 'relative' };
  const found = which(first);
  return found ? { argv: [found, ...argv.slice(1)], how: 'path' } : { argv, how: 'not-found' };
}
