/**
 * Shell completion: `orchestrator completion bash|zsh|fish` prints a script that completes the
 * command words and each command's options, generated from the same command table the CLI runs
 * (so it cannot drift). Install: `orchestrator completion bash > /etc/bash_completion.d/orchestrator`,
 * `orchestrator completion zsh > "${fpath[1]}/_orchestrator"`, or
 * `orchestrator completion fish > ~/.config/fish/completions/orchestrator.fish`.
 */
import type { FlagSpecs } from './args.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

export interface Completable {
  name: string;
  summary: string;
  flags?: FlagSpecs;
}

/** Every option of a command as it is typed: --name and its short alias. */
function options(c: Completable): string[] {
  return Object.entries(c.flags ?? {}).flatMap(([name, spec]) => [`--${name}`, ...(spec.aliases ?? [])]);
}

/** Single-quoted for a shell. */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function completionScript(shell: Shell, commands: Completable[]): string {
  switch (shell) {
    case 'bash': return bash(commands);
    case 'zsh': return zsh(commands);
    case 'fish': return fish(commands);
  }
}

function bash(commands: Completable[]): string {
  const cases = commands.map((c) => `    ${c.name}) opts=${q(options(c).join(' '))} ;;`).join('\n');
  return `# bash completion for orchestrator (orchestrator completion bash)
_orchestrator() {
  local cur=\${COMP_WORDS[COMP_CWORD]} opts
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W ${q(commands.map((c) => c.name).join(' '))} -- "$cur"))
    return
  fi
  case \${COMP_WORDS[1]} in
${cases}
    *) opts='' ;;
  esac
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o default -F _orchestrator orchestrator
`;
}

function zsh(commands: Completable[]): string {
  const described = commands.map((c) => `    ${q(`${c.name}:${c.summary.replace(/:/g, '\\:')}`)}`).join('\n');
  const cases = commands.map((c) => `    ${c.name}) compadd -- ${options(c).map(q).join(' ')} ;;`).join('\n');
  return `#compdef orchestrator
# zsh completion for orchestrator (orchestrator completion zsh)
_orchestrator() {
  local -a commands
  commands=(
${described}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  case $words[2] in
${cases}
  esac
  _files
}
compdef _orchestrator orchestrator
`;
}

function fish(commands: Completable[]): string {
  const lines = ['# fish completion for orchestrator (orchestrator completion fish)', 'complete -c orchestrator -f'];
  for (const c of commands) {
    lines.push(`complete -c orchestrator -n __fish_use_subcommand -a ${q(c.name)} -d ${q(c.summary)}`);
    for (const [name, spec] of Object.entries(c.flags ?? {})) {
      const short = spec.aliases?.find((a) => /^-[A-Za-z]$/.test(a));
      lines.push(`complete -c orchestrator -n ${q(`__fish_seen_subcommand_from ${c.name}`)} -l ${name}${short ? ` -s ${short.slice(1)}` : ''}${spec.value ? ' -r' : ''}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
