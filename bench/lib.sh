# Shared helpers for the bench/ scripts. Source it; do not run it.
#
# Everything here talks to 127.0.0.1 only, tracks the processes it starts by pid (and stops
# only those), and runs each benchmark in its own RabbitMQ vhost that is deleted on exit, so
# nothing is left on the shared broker whatever happens.

set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
TOOLS="$BENCH_DIR/tools"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_DIR/target}"
PY="${PYTHON:-python3}"

RUN_ID="$(date +%s)-$$"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/hd-bench.XXXXXX")"
VHOST=""
STARTED_PIDS=()

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}

# ---------------------------------------------------------------- cleanup

cleanup() {
  local rc=$?
  set +e
  for pid in "${STARTED_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${STARTED_PIDS[@]}"; do
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null
  done
  if [[ -n "$VHOST" ]]; then
    # The broker may be stopped by a drill that failed half-way; bring it back first.
    rabbitmqctl -q start_app >/dev/null 2>&1
    rabbitmqctl -q delete_vhost "$VHOST" >/dev/null 2>&1 && log "deleted vhost $VHOST"
  fi
  if [[ "${KEEP_WORK:-0}" == 1 ]]; then
    log "kept work dir $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- tools

ensure_wrk() {
  command -v wrk >/dev/null && return
  log "installing wrk (apt-get)"
  if ! apt-get install -y -qq wrk >/dev/null 2>&1; then
    apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null ||
      die "could not install wrk (apt-get install -y wrk)"
  fi
}

ensure_python() {
  command -v "$PY" >/dev/null || die "python3 is needed for the signing and stand-in helpers"
}

# Makes sure a local RabbitMQ answers; starts it detached when it does not.
ensure_rabbitmq() {
  command -v rabbitmqctl >/dev/null ||
    die "rabbitmqctl not found: install rabbitmq-server (apt-get install -y rabbitmq-server)"
  if rabbitmqctl -q await_startup --timeout 5 >/dev/null 2>&1; then
    return
  fi
  # A node that runs with the app stopped (a drill that died half-way) only needs start_app.
  if rabbitmqctl -q status >/dev/null 2>&1; then
    log "RabbitMQ node up but app stopped: start_app"
    rabbitmqctl -q start_app >/dev/null
  else
    log "starting RabbitMQ (rabbitmq-server -detached)"
    rabbitmq-server -detached >/dev/null 2>&1 || true
  fi
  rabbitmqctl -q await_startup --timeout 120 >/dev/null 2>&1 ||
    die "RabbitMQ did not come up within 120 s"
}

# A vhost of our own: unique queue names can't collide, and deleting it cleans up everything.
make_vhost() {
  VHOST="hd-bench-$RUN_ID"
  rabbitmqctl -q add_vhost "$VHOST" >/dev/null
  rabbitmqctl -q set_permissions -p "$VHOST" guest '.*' '.*' '.*' >/dev/null
  AMQP_URL_BENCH="amqp://guest:guest@127.0.0.1:5672/$VHOST"
  log "vhost $VHOST"
}

purge_vhost_queues() {
  local q
  while read -r q; do
    # </dev/null: rabbitmqctl reads stdin and would swallow the rest of the list.
    [[ -n "$q" ]] && rabbitmqctl -q purge_queue -p "$VHOST" "$q" </dev/null >/dev/null 2>&1
  done < <(rabbitmqctl -q list_queues -p "$VHOST" name --no-table-headers 2>/dev/null)
  return 0
}

# The local broker's Erlang VM (beam.smp), for its CPU time; empty when not found.
broker_pid() {
  pgrep -o -f 'beam.smp.*rabbit' 2>/dev/null || true
}

# Waits until the broker is quiet: under 10 % of a core over half a second, for at most
# MAX seconds (default 20). A purge of a few hundred thousand messages, the log and snapshot
# work after it and the previous run's tail keep the broker busy for a few seconds; a run
# started before that ends pays for its predecessor. Prints the seconds waited.
wait_broker_quiet() {
  local max="${1:-20}" pid t0 t1 waited=0
  pid="$(broker_pid)"
  [[ -n "$pid" ]] || { echo 0; return 0; }
  t1="$(cpu_secs "$pid")"
  while awk -v w="$waited" -v m="$max" 'BEGIN { exit !(w < m) }'; do
    t0="$t1"
    sleep 0.5
    t1="$(cpu_secs "$pid")"
    waited="$(awk -v w="$waited" 'BEGIN { printf "%.1f", w + 0.5 }')"
    awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 0.05) }' && break
  done
  echo "$waited"
}

# Prints "name messages" for each queue of the vhost.
queue_depths() {
  rabbitmqctl -q list_queues -p "$VHOST" name messages --no-table-headers 2>/dev/null
}

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# ---------------------------------------------------------------- build

# PROFILE=release (default) or debug: the drills check behaviour, not speed, so CI can run
# them on the debug binary its tests already built instead of a second, release build.
PROFILE="${PROFILE:-release}"
BIN="$TARGET_DIR/$PROFILE/handover-doctor"
MINIMAL_BIN="$TARGET_DIR/$PROFILE/examples/minimal_receiver"

# build_release [minimal]: the service binary, plus the minimal baseline when asked. Two
# cargo invocations on purpose: an example pulls in the dev-dependencies, whose features
# (tokio's test-util) would otherwise be unified into the service binary we measure.
build_release() {
  local profile_flag=()
  [[ "$PROFILE" == release ]] && profile_flag=(--release)
  if [[ "${SKIP_BUILD:-0}" == 1 ]]; then
    log "SKIP_BUILD=1: using existing binaries"
  else
    log "building: cargo build ${profile_flag[*]} --bin handover-doctor"
    (cd "$REPO_DIR" && cargo build --locked "${profile_flag[@]}" --bin handover-doctor) \
      >"$WORK/build.log" 2>&1 || {
      tail -30 "$WORK/build.log" >&2
      die "build failed"
    }
    if [[ "${1:-}" == minimal ]]; then
      log "building: cargo build ${profile_flag[*]} --features bench --example minimal_receiver"
      (cd "$REPO_DIR" && cargo build --locked "${profile_flag[@]}" --features bench --example minimal_receiver) \
        >>"$WORK/build.log" 2>&1 || {
        tail -30 "$WORK/build.log" >&2
        die "build failed"
      }
    fi
  fi
  [[ -x "$BIN" ]] || die "missing $BIN"
  if [[ "${1:-}" == minimal ]]; then
    [[ -x "$MINIMAL_BIN" ]] || die "missing $MINIMAL_BIN"
  fi
  return 0
}

# Does the handover-doctor binary have this subcommand (and role)? Drills that need the
# pipeline refuse to run, loudly, when it is not there yet.
has_command() {
  "$BIN" "$@" --help >/dev/null 2>&1
}
require_command() {
  has_command "$@" || die "handover-doctor has no '$*' yet (not on this branch): cannot run this drill"
}
require_role() {
  "$BIN" serve --help 2>/dev/null | grep -q -- "$1" ||
    die "handover-doctor serve has no role '$1' yet (not on this branch): cannot run this drill"
}

# ---------------------------------------------------------------- processes

# start_bg NAME LOGFILE cmd...  (env via `env A=B cmd`); sets LAST_PID.
start_bg() {
  local name="$1" logf="$2"
  shift 2
  "$@" >"$logf" 2>&1 &
  LAST_PID=$!
  STARTED_PIDS+=("$LAST_PID")
  log "started $name pid $LAST_PID (log $logf)"
}

# wait_http URL PID [TIMEOUT_S]: until URL answers 200, or the process died, or the timeout.
wait_http() {
  local url="$1" pid="$2" timeout="${3:-60}" i
  for ((i = 0; i < timeout * 5; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      return 1
    fi
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url")" == 200 ]]; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

stop_pid() {
  local pid="$1" sig="${2:-TERM}"
  kill "-$sig" "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# CPU seconds (user+system) a process has used so far.
cpu_secs() {
  awk -v t="$(getconf CLK_TCK)" '{ printf "%.3f\n", ($14 + $15) / t }' "/proc/$1/stat"
}

rss_mb() {
  awk '/VmRSS/ { printf "%.1f\n", $2 / 1024 }' "/proc/$1/status"
}

# Peak resident memory (VmHWM) in MB.
peak_rss_mb() {
  awk '/VmHWM/ { printf "%.1f\n", $2 / 1024 }' "/proc/$1/status"
}
