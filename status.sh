#!/usr/bin/env bash
# Shows whether the orchestrator and dashboard are running (PIDs), every service's status, and the
# recent lines of logs/orchestrator.log and logs/dashboard.log. Exits 0 when the orchestrator is up.
#   LOG_LINES (default 10) lines of each log.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=scripts/service-lib.sh
. "$ROOT/scripts/service-lib.sh"
cd "$ROOT"

if [ ! -f "$ROOT/dist/cli.js" ]; then
  say "not built yet: ./start-orchestrator.sh installs and builds on its first run"
  exit 1
fi
URL="$(cli url --config "$ORCH_CONFIG")"
up=1

say "== Processes"
if pid="$(running_pid "$ORCH_PIDFILE" serve)"; then
  say "orchestrator  running  pid $pid  $URL"
else
  say "orchestrator  not running (no live orchestrator.pid)"
fi
if dpid="$(running_pid "$DASH_PIDFILE" dashboard)"; then
  dport="$(proc_cmdline "$dpid" | sed -n 's/.* --port \([0-9]*\).*/\1/p')"
  say "dashboard     running  pid $dpid  http://localhost:${dport:-3000}"
else
  say "dashboard     not running (no live dashboard.pid)"
fi

say ""
say "== Services"
if cli status --config "$ORCH_CONFIG"; then
  up=0
fi

say ""
say "== Recent logs"
say "logs/orchestrator.log:"
recent_log "$LOG_DIR/orchestrator.log" "${LOG_LINES:-10}"
say "logs/dashboard.log:"
recent_log "$LOG_DIR/dashboard.log" "${LOG_LINES:-10}"
exit "$up"
