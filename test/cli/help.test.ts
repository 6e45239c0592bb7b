/**
 * Help and completion, as a new user meets them (the real `orchestrator` command): `--help` on
 * every command and `help COMMAND` exit 0 with the command's usage; `--version`; wrong options
 * are usage errors (exit 2) naming the option; `completion bash` completes commands and options
 * in real bash and fish shells (and zsh with its widget builtins stubbed); the scripts name every command and option.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './run.js';

const hasShell = (name: string) => { try { execFileSync('sh', ['-c', `command -v ${name}`]); return true; } catch { return false; } };

t.test('every command has --help (exit 0) and help COMMAND', async (t) => {
  const top = await cli(t, ['help']);
  t.equal(top.code, 0);
  const commands = [...top.stdout.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]!);
  t.ok(commands.length >= 20, `${commands.length} commands listed`);
  for (const name of ['serve', 'list', 'restart', 'logs', 'export', 'completion', 'help', 'version']) t.ok(commands.includes(name), `${name} is listed`);
  // Every command's --help; `help COMMAND` says the same (checked for a few: each is a process).
  for (const name of commands) {
    if (name === 'completion' || name === 'help' || name === 'version') continue; // their --help is the top help or a usage line
    const viaFlag = await cli(t, [name, '--help']);
    t.equal(viaFlag.code, 0, `${name} --help exits 0`);
    t.match(viaFlag.stdout, new RegExp(`^usage: orchestrator ${name}\\b`), `${name} --help shows its usage`);
    if (!['serve', 'restart', 'logs', 'export'].includes(name)) continue;
    const viaHelp = await cli(t, ['help', name]);
    t.equal(viaHelp.code, 0, `help ${name} exits 0`);
    t.equal(viaHelp.stdout, viaFlag.stdout, `help ${name} says what ${name} --help says`);
  }
  const unknown = await cli(t, ['help', 'frobnicate']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown command "frobnicate"/);
});

t.test('--version, and usage errors that name the option', async (t) => {
  const v = await cli(t, ['--version']);
  t.equal(v.code, 0);
  t.match(v.stdout, /^\d+\.\d+\.\d+/);
  const cases: Array<[string[], RegExp]> = [
    [['list', '--bogus'], /^orchestrator list: unknown option --bogus\n/],
    [['logs', 'x', '--lines'], /^orchestrator logs: option --lines needs a value\n/],
    [['list', '--json=yes'], /^orchestrator list: option --json takes no value\n/],
    [['serve', '--nope'], /^orchestrator serve: unknown option --nope\n/],
    [['completion', 'tcsh'], /^orchestrator completion: name one shell: bash, zsh, fish\n/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(t, args);
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    t.match(r.stderr, message);
  }
});

t.test('completion: bash and fish complete for real, zsh with its widget builtins stubbed; every command and option is named', async (t) => {
  const bash = await cli(t, ['completion', 'bash']);
  t.equal(bash.code, 0);
  const file = join(mkdtempSync(join(tmpdir(), 'orch-completion-')), 'orchestrator.bash');
  writeFileSync(file, bash.stdout);
  const complete = (...words: string[]) => execFileSync('bash', ['-c', `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _orchestrator; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' }).trim().split('\n');
  t.same(complete('orchestrator', 'res'), ['restart'], 'a command word');
  t.same(complete('orchestrator', 're').sort(), ['register', 'reload', 'remove', 'restart'], 'every command that starts so');
  t.same(complete('orchestrator', 'restart', 'web', '--ro'), ['--rolling'], 'an option of that command');
  t.same(complete('orchestrator', 'logs', 'web', '--st'), ['--stream'], 'another command\'s option');

  const zsh = await cli(t, ['completion', 'zsh']);
  const fish = await cli(t, ['completion', 'fish']);
  const dir = mkdtempSync(join(tmpdir(), 'orch-completion-'));
  writeFileSync(join(dir, '_orchestrator'), zsh.stdout);
  writeFileSync(join(dir, 'orchestrator.fish'), fish.stdout);
  // fish completes for real: `complete -C` asks its completion engine what a command line offers.
  if (hasShell('fish')) {
    const offer = (line: string) => execFileSync('fish', ['-c', `source ${join(dir, 'orchestrator.fish')}; complete -C '${line}'`], { encoding: 'utf8' }).trim().split('\n').map((l) => l.split('\t')[0]);
    t.same(offer('orchestrator res'), ['restart'], 'fish: a command word');
    t.same(offer('orchestrator restart web --ro'), ['--rolling'], 'fish: an option of that command');
  } else t.pass('fish completion', { skip: 'fish is not installed (apt-get install fish)' });
  // zsh: the script parses, and its function offers the right words (compadd and _describe, which
  // only work inside a completion widget, replaced by ones that print what they are given).
  if (hasShell('zsh')) {
    execFileSync('zsh', ['-n', join(dir, '_orchestrator')]);
    const stubs = 'compadd() { [[ $1 == -- ]] && shift; print -l -- "$@" }; _describe() { print -l -- "${(@)${(P)2}%%:*}" }; _files() {}; compdef() {}';
    const offer = (words: string[]) => execFileSync('zsh', ['-c', `source ${join(dir, '_orchestrator')} 2>/dev/null; ${stubs}; words=(${words.join(' ')}); CURRENT=${words.length}; _orchestrator`], { encoding: 'utf8' }).trim().split('\n');
    t.ok(offer(['orchestrator', 're']).includes('restart'), 'zsh: the command words');
    t.ok(offer(['orchestrator', 'restart', 'web', '--ro']).includes('--rolling'), 'zsh: the options of restart');
    t.notOk(offer(['orchestrator', 'logs', 'web', '--ro']).includes('--rolling'), 'zsh: not another command\'s');
  } else t.pass('zsh completion', { skip: 'zsh is not installed (apt-get install zsh)' });
  t.match(zsh.stdout, /^#compdef orchestrator\n/);
  for (const [name, option] of [['restart', '--rolling'], ['logs', '--stream'], ['export', '--out'], ['serve', '--keep-services']]) {
    t.match(zsh.stdout, new RegExp(`\\n {4}${name}\\) compadd -- .*'${option}'`), `zsh: ${name} ${option}`);
    t.match(fish.stdout, new RegExp(`__fish_seen_subcommand_from ${name}' -l ${option!.slice(2)}\\b`), `fish: ${name} ${option}`);
  }
});
