#!/usr/bin/env bash
# Starts the web dashboard on http://localhost:3000 in the background (`orchestrator dashboard`),
# talking to the orchestrator of config/orchestrator.yaml. Writes dashboard.pid, appends its output
# to logs/dashboard.log. Running it again is harmless.
#   DASHBOARD_PORT (default 3000), DASHBOARD_HOST (default 127.0.0.1); START_TIMEOUT (default 30).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=scripts/service-lib.sh
. "$ROOT/scripts/service-lib.sh"
cd "$ROOT"

require_node
ensure_built

PORT="${DASHBOARD_PORT:-3000}"
HOST="${DASHBOARD_HOST:-127.0.0.1}"
URL="http://localhost:$PORT"
API="$(cli url --config "$ORCH_CONFIG")"
if pid="$(running_pid "$DASH_PIDFILE" dashboard)"; then
  say "dashboard already running (pid $pid) at $URL"
  exit 0
fi

spawn_background "$DASH_PIDFILE" "$LOG_DIR/dashboard.log" dashboard --port "$PORT" --host "$HOST" --api "$API"
pid="$(cat "$DASH_PIDFILE")"

deadline=$(( $(date +%s) + ${START_TIMEOUT:-30} ))
until http_ok "http://127.0.0.1:$PORT/config.json" && is_ours "$pid" dashboard; do
  if ! is_ours "$pid" dashboard; then
    warn "dashboard exited during start-up; the end of logs/dashboard.log:"
    tail -n 10 "$LOG_DIR/dashboard.log" >&2 || true
    rm -f "$DASH_PIDFILE"
    exit 1
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    warn "dashboard (pid $pid) did not answer on port $PORT within ${START_TIMEOUT:-30}s; see logs/dashboard.log"
    exit 1
  fi
  sleep 0.2
done

say "dashboard running (pid $pid): $URL (orchestrator API $API)"
http_ok "$API/health" || warn "note: the orchestrator at $API is not answering yet; start it with ./start-orchestrator.sh"
