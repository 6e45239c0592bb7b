# Shared by start-orchestrator.sh, start-dashboard.sh, stop-services.sh and status.sh (sourced, not run).
#
# Pid files hold one number, as the seed says. A pid is only trusted when that process is alive
# (not a zombie) and its command line is ours: "<this checkout>/bin/orchestrator.js <verb>". A pid
# file whose process is gone, or whose pid now belongs to something else, is stale: it is reported
# and removed, and nothing is ever signalled on its say-so.

ROOT="${ROOT:?ROOT must be set before sourcing service-lib.sh}"
ENTRY="$ROOT/bin/orchestrator.js"
# A small V8 young generation: less memory for the same CPU (see bench/README.md).
NODE_FLAGS="${ORCHESTRATOR_NODE_FLAGS:---max-semi-space-size=2}"
LOG_DIR="$ROOT/logs"
ORCH_PIDFILE="$ROOT/orchestrator.pid"
DASH_PIDFILE="$ROOT/dashboard.pid"
ORCH_CONFIG="config/orchestrator.yaml"

say() { printf '%s\n' "$*"; }
warn() { printf '%s\n' "$*" >&2; }

# The orchestrator CLI of this checkout.
cli() { node "$ENTRY" "$@"; }

# The command line of a live, non-zombie process, or nothing.
proc_cmdline() {
  local pid="$1"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  if [ -r "/proc/$pid/stat" ]; then
    local stat state
    stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
    state="${stat##*) }"
    state="${state%% *}"
    [ "$state" = Z ] || [ "$state" = X ] && return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null
  else
    ps -o args= -p "$pid" 2>/dev/null
  fi
}

# Is PID a live process of ours running VERB (serve | dashboard)?
is_ours() {
  local pid="$1" verb="$2" cmd
  cmd="$(proc_cmdline "$pid")" || return 1
  [[ "$cmd" == *"$ENTRY $verb"* ]]
}

# The pid in PIDFILE if that process is ours and alive; else clears a stale file and fails.
running_pid() {
  local pidfile="$1" verb="$2" pid
  [ -f "$pidfile" ] || return 1
  pid="$(head -n 1 "$pidfile" | tr -dc '0-9')"
  if [ -n "$pid" ] && is_ours "$pid" "$verb"; then
    printf '%s\n' "$pid"
    return 0
  fi
  if [ -n "$pid" ] && proc_cmdline "$pid" > /dev/null; then
    warn "$(basename "$pidfile"): stale (pid $pid is now another program: $(proc_cmdline "$pid" | cut -c1-80)); removed, nothing signalled"
  else
    warn "$(basename "$pidfile"): stale (process ${pid:-?} is gone); removed"
  fi
  rm -f "$pidfile"
  return 1
}

# Wait until PID is no longer our VERB process, for at most SECONDS. Fails on timeout.
wait_gone() {
  local pid="$1" verb="$2" seconds="$3" deadline
  deadline=$(( $(date +%s) + seconds ))
  while is_ours "$pid" "$verb"; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.1
  done
  return 0
}

# SIGTERM, wait up to SECONDS, then SIGKILL — re-checking before every signal that the pid is ours.
stop_process() {
  local pidfile="$1" verb="$2" seconds="$3" label="$4" pid
  if ! pid="$(running_pid "$pidfile" "$verb")"; then
    say "$label: not running"
    return 0
  fi
  say "$label: stopping (pid $pid, SIGTERM)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" "$verb" "$seconds"; then
    if is_ours "$pid" "$verb"; then
      warn "$label: still running after ${seconds}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" "$verb" 10 || { warn "$label: pid $pid did not die"; return 1; }
    fi
  fi
  rm -f "$pidfile"
  say "$label: stopped"
}

# Start VERB ARGS... in the background, in its own session (a closed terminal sends it no SIGHUP,
# which the orchestrator would take as "reload"), output appended to LOG, pid written to PIDFILE.
spawn_background() {
  local pidfile="$1" log="$2"
  shift 2
  mkdir -p "$(dirname "$log")"
  printf '%s\n' "--- $(date '+%Y-%m-%d %H:%M:%S') starting: $*" >> "$log"
  if command -v setsid > /dev/null; then
    setsid nohup node $NODE_FLAGS "$ENTRY" "$@" >> "$log" 2>&1 < /dev/null &
  else
    nohup node $NODE_FLAGS "$ENTRY" "$@" >> "$log" 2>&1 < /dev/null &
  fi
  printf '%s\n' "$!" > "$pidfile"
}

# Node.js 20 or later on PATH.
require_node() {
  command -v node > /dev/null || { warn "node is not installed (Node.js 20 or later is needed)"; exit 1; }
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || { warn "Node.js 20 or later is needed (found $(node --version))"; exit 1; }
}

# Dependencies and build: `npm ci` on first run (its prepare step builds), a rebuild when dist/ is
# missing or older than the sources.
ensure_built() {
  if [ ! -d "$ROOT/node_modules" ]; then
    say "installing dependencies (npm ci) ..."
    (cd "$ROOT" && npm ci --no-audit --no-fund) >&2
  fi
  if [ ! -f "$ROOT/dist/cli.js" ] || [ -n "$(cd "$ROOT" && find src public/src scripts/build.mjs -newer dist/cli.js -print -quit 2>/dev/null)" ]; then
    say "building (npm run build) ..."
    (cd "$ROOT" && npm run --silent build) >&2
  fi
}

# Is URL answering with a 2xx?
http_ok() {
  node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(3000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$1"
}

# The last N lines of a log, pino JSON lines rendered as "time LEVEL [service] message".
recent_log() {
  local file="$1" n="${2:-10}"
  [ -f "$file" ] || { say "  (no $file yet)"; return 0; }
  tail -n "$n" "$file" | node -e '
    const levels = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
    let buf = "";
    process.stdin.on("data", (d) => { buf += d; });
    process.stdin.on("end", () => {
      for (const line of buf.split("\n")) {
        if (!line) continue;
        try {
          const e = JSON.parse(line);
          const t = new Date(e.time).toLocaleTimeString("en-GB", { hour12: false });
          const who = e.service ? `[${e.service}] ` : e.component ? `[${e.component}] ` : "";
          process.stdout.write(`  ${t} ${(levels[e.level] || e.level).padEnd(5)} ${who}${e.msg ?? ""}\n`);
        } catch { process.stdout.write(`  ${line}\n`); }
      }
    });'
}
