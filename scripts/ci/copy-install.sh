#!/usr/bin/env bash
# Usage: scripts/ci/copy-install.sh MAJOR DIR COMMAND [ARGS...]
#
# Copies this project into DIR (created if missing) without node_modules, .git, dist/, public/dist/,
# .tap/ and runtime files (data/, logs/, tmp/, *.pid), then runs COMMAND there with Node.js MAJOR
# (scripts/ci/with-node.sh: that Node first on PATH, node-gyp pointed at its headers). COMMAND is an
# install, so the copy gets node_modules of its own, with native addons (better-sqlite3) built for
# that Node, and dist/ (npm ci runs `prepare`); this folder's node_modules and dist/ stay untouched.
# .ci/run installs the other Node majors this way in the background while Node 20's tests run:
#
#   scripts/ci/copy-install.sh 22 /tmp/ci/node22 npm ci --no-audit --no-fund
#   scripts/ci/copy-install.sh 24 /tmp/ci/node24 npx -y npm@12 ci --no-audit --no-fund
#   (cd /tmp/ci/node22 && scripts/ci/with-node.sh 22 npx tap test/runtime/smoke.test.ts)
set -euo pipefail

if [ $# -lt 3 ]; then
  echo "usage: $0 MAJOR DIR COMMAND [ARGS...]" >&2
  exit 2
fi
major=$1
dir=$2
shift 2
root="$(cd "$(dirname "$0")/../.." && pwd)"

mkdir -p "$dir"
tar -C "$root" -cf - --exclude=./node_modules --exclude=./.git --exclude=./dist --exclude=./packages/sdk/dist --exclude=./public/dist \
  --exclude=./.tap --exclude=./data --exclude=./logs --exclude=./tmp --exclude='./*.pid' . | tar -xf - -C "$dir"
cd "$dir"
exec scripts/ci/with-node.sh "$major" "$@"
