#!/usr/bin/env bash
# Starts the orchestrator API (http://127.0.0.1:8000 with config/orchestrator.yaml) in the background.
# First run: installs dependencies (npm ci) and builds. Writes orchestrator.pid, appends its output
# to logs/orchestrator.log, and returns once GET /health answers. Running it again is harmless.
#   ORCHESTRATOR_PORT / ORCHESTRATOR_HOST / ORCHESTRATOR_API_KEY override the config file;
#   START_TIMEOUT (seconds, default 60) bounds the wait for /health.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=scripts/service-lib.sh
. "$ROOT/scripts/service-lib.sh"
cd "$ROOT"

require_node
ensure_built

URL="$(cli url --config "$ORCH_CONFIG")"
if pid="$(running_pid "$ORCH_PIDFILE" serve)"; then
  say "orchestrator already running (pid $pid) at $URL"
  exit 0
fi
# Something else already answering there (an orchestrator started by hand, or another program)?
if other="$(cli health --json --url "$URL" 2> /dev/null)"; then
  warn "an orchestrator not started by this script is already answering at $URL: $other"
  warn "stop it first, or set ORCHESTRATOR_PORT to use another port"
  exit 1
fi

spawn_background "$ORCH_PIDFILE" "$LOG_DIR/orchestrator.log" serve --config "$ORCH_CONFIG"
pid="$(cat "$ORCH_PIDFILE")"
say "orchestrator starting (pid $pid), log: logs/orchestrator.log"

deadline=$(( $(date +%s) + ${START_TIMEOUT:-60} ))
while :; do
  if ! is_ours "$pid" serve; then
    warn "orchestrator exited during start-up; the end of logs/orchestrator.log:"
    tail -n 20 "$LOG_DIR/orchestrator.log" >&2 || true
    rm -f "$ORCH_PIDFILE"
    exit 1
  fi
  # /health answers 503 until the supervision tree is up, and must come from our process.
  if health="$(cli health --json --url "$URL" 2> /dev/null)" && [[ "$health" == *"\"pid\":$pid,"* ]]; then
    break
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    warn "orchestrator (pid $pid) did not answer $URL/health within ${START_TIMEOUT:-60}s; it is left running: see logs/orchestrator.log, ./stop-services.sh stops it"
    exit 1
  fi
  sleep 0.2
done

say "orchestrator running (pid $pid)"
say "  API:        $URL/api/services"
say "  WebSocket:  ${URL/http/ws}/ws"
say "  health:     $URL/health"
say "  dashboard:  $URL/ (or ./start-dashboard.sh for http://localhost:${DASHBOARD_PORT:-3000})"
