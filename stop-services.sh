#!/usr/bin/env bash
# Stops the dashboard and the orchestrator started by the start-*.sh scripts: SIGTERM, a bounded
# wait, then SIGKILL; removes the pid files. On SIGTERM the orchestrator first stops every service
# it supervises (each with its own stop timeout), so it is given STOP_TIMEOUT seconds (default 60).
# A stale pid file (process gone, or the pid reused by another program) is removed, never acted on.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=scripts/service-lib.sh
. "$ROOT/scripts/service-lib.sh"
cd "$ROOT"

status=0
stop_process "$DASH_PIDFILE" dashboard "${DASHBOARD_STOP_TIMEOUT:-10}" dashboard || status=1
stop_process "$ORCH_PIDFILE" serve "${STOP_TIMEOUT:-60}" orchestrator || status=1
exit "$status"
