#!/usr/bin/env bash
# Usage: scripts/ci/with-node.sh MAJOR COMMAND [ARGS...]
#
# Runs COMMAND with Node.js MAJOR first on PATH (fetched and cached by scripts/ci/node.sh) and
# node-gyp pointed at that Node's own headers, so that native addons (better-sqlite3) are built
# for that Node's ABI and not for the system Node's (this machine's npm config says nodedir=/usr,
# which npm passes to install scripts as npm_config_nodedir). Both variables node-gyp reads are
# set: npm_config_nodedir (npm 11; npm 12 still passes it on but warns "Unknown env config") and
# npm_package_config_node_gyp_nodedir (node-gyp's preferred form, which wins over the other).
# npm itself is the system npm (or whichever npm is on PATH): its shebang is `env node`, so it
# runs under the Node put first on PATH. Examples:
#
#   scripts/ci/with-node.sh 24 npm ci
#   scripts/ci/with-node.sh 24 npm test
#   scripts/ci/with-node.sh 26 node --version
#
# MAJOR "system" runs COMMAND unchanged (the system Node, its nodedir).
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 MAJOR COMMAND [ARGS...]" >&2
  exit 2
fi
major=$1
shift
if [ "$major" != system ]; then
  bin=$("$(dirname "$0")/node.sh" "$major")
  export PATH="$bin:$PATH"
  export npm_config_nodedir="${bin%/bin}"
  export npm_package_config_node_gyp_nodedir="${bin%/bin}"
  hash -r
fi
exec "$@"
