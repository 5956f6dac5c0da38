# Starting the whole pipeline (receiver, workers, notifier) against local stand-ins for
# CXone and Slack. Sourced by pipeline.sh, storm.sh and the drills, after lib.sh.
#
# Written against CONTRACT.md (commands, environment variables, metric names). When the
# binary does not have a role yet, start_pipeline stops the script with FAIL: these drills
# never pretend to pass.

# Starts the CXone stand-in; sets CXONE_PORT.
start_cxone_standin() {
  start_bg cxone-standin "$WORK/cxone.log" "$PY" "$TOOLS/standins.py" cxone --port-file "$WORK/cxone.port"
  wait_file "$WORK/cxone.port" || die "CXone stand-in did not start"
  CXONE_PORT="$(cat "$WORK/cxone.port")"
  CXONE_PID=$LAST_PID
}

# start_slack_standin RATE_LIMIT_SECS; sets SLACK_PORT.
start_slack_standin() {
  start_bg slack-standin "$WORK/slack.log" "$PY" "$TOOLS/standins.py" slack \
    --port-file "$WORK/slack.port" --messages "$WORK/slack-messages.jsonl" --rate-limit-secs "${1:-0}"
  wait_file "$WORK/slack.port" || die "Slack stand-in did not start"
  SLACK_PORT="$(cat "$WORK/slack.port")"
}

wait_file() {
  for _ in $(seq 1 50); do
    [[ -s "$1" ]] && return 0
    sleep 0.1
  done
  return 1
}

# The environment every role shares. NOTIFY_SINK=stdout (default) or slack.
pipeline_env() {
  PIPE_ENV=(
    AMQP_URL="$AMQP_URL_BENCH"
    QUEUE_PREFIX="$PREFIX"
    WEBHOOK_SIGNING_SECRETS="$SECRET"
    CXONE_ISSUER="http://127.0.0.1:$CXONE_PORT"
    CXONE_CLIENT_ID=bench-client CXONE_CLIENT_SECRET=bench-secret
    CXONE_ACCESS_KEY_ID=BENCHKEYID CXONE_ACCESS_KEY_SECRET=BENCHKEYSECRET
    NOTIFY_GROUP_WAIT_SECS="${NOTIFY_GROUP_WAIT_SECS:-0}"
    WORKER_CONCURRENCY="${WORKER_CONCURRENCY:-8}"
    ${CXONE_CACHE_TTL_SECS:+CXONE_CACHE_TTL_SECS="$CXONE_CACHE_TTL_SECS"}
    # The stand-in has no quota: unlimited unless a run sets one, so figures stay comparable.
    CXONE_MAX_RPS="${CXONE_MAX_RPS:-0}"
    LOG_FORMAT=json RUST_LOG="${RUST_LOG:-warn}"
  )
  if [[ "${NOTIFY_SINK:-stdout}" == slack ]]; then
    PIPE_ENV+=(SLACK_WEBHOOK_URL="http://127.0.0.1:$SLACK_PORT/services/T000/B000/bench")
  fi
}

# start_role NAME ROLE [PORT]: one `serve --role ROLE` process on its own loopback port
# (LISTEN_ADDR for the receiver, METRICS_ADDR for the others, so /metrics can be scraped)
# (a free one unless given). Sets PID[NAME] and PORT[NAME]. The notifier's stdout goes
# through stamp.py.
start_role() {
  local name="$1" role="$2"
  PORT[$name]="${3:-$(free_port)}"
  if [[ "$role" == notifier || "$role" == all ]]; then
    env "${PIPE_ENV[@]}" LISTEN_ADDR="127.0.0.1:${PORT[$name]}" METRICS_ADDR="127.0.0.1:${PORT[$name]}" "$BIN" serve --role "$role" \
      2>>"$WORK/$name.log" > >("$PY" "$TOOLS/stamp.py" --out "$WORK/notified.jsonl" --other "$WORK/$name.stdout") &
  else
    env "${PIPE_ENV[@]}" LISTEN_ADDR="127.0.0.1:${PORT[$name]}" METRICS_ADDR="127.0.0.1:${PORT[$name]}" "$BIN" serve --role "$role" \
      >>"$WORK/$name.log" 2>&1 &
  fi
  PID[$name]=$!
  STARTED_PIDS+=("${PID[$name]}")
  log "started $name (serve --role $role) pid ${PID[$name]} port ${PORT[$name]}"
}

# Receiver, WORKERS workers and one notifier, each a process of its own (so each one's
# memory can be reported), then waits for the receiver's /readyz.
start_pipeline() {
  require_role worker
  require_role notifier
  PREFIX="bench-$RUN_ID"
  SECRET="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  declare -g -A PID PORT
  pipeline_env
  : >"$WORK/notified.jsonl"
  start_role receiver receiver
  wait_http "http://127.0.0.1:${PORT[receiver]}/readyz" "${PID[receiver]}" 60 || {
    tail -20 "$WORK/receiver.log" >&2
    die "receiver did not become ready"
  }
  WORKER_NAMES=()
  for ((w = 1; w <= ${WORKERS:-1}; w++)); do
    start_role "worker$w" worker
    WORKER_NAMES+=("worker$w")
  done
  start_role notifier notifier
  # Give the consumers a moment to attach; a role that died at start is a failure.
  sleep 2
  for n in receiver "${WORKER_NAMES[@]}" notifier; do
    kill -0 "${PID[$n]}" 2>/dev/null || {
      tail -20 "$WORK/$n.log" >&2
      die "$n exited at start"
    }
  done
  RECEIVER_URL="http://127.0.0.1:${PORT[receiver]}/webhooks/cognigy/handover"
}

# send_events COUNT RATE OUTFILE [extra events.py args]
send_events() {
  local count="$1" rate="$2" out="$3"
  shift 3
  "$PY" "$TOOLS/events.py" send --url "$RECEIVER_URL" --count "$count" --rate "$rate" \
    --concurrency "${CONCURRENCY:-16}" --secret "$SECRET" --run-id "$RUN_ID" --out "$out" "$@"
}

# wait_notified SENT_FILE TIMEOUT_S: until every 202 of SENT_FILE was notified (or timeout).
wait_notified() {
  local sent="$1" timeout="$2" want have
  want="$(grep -c '"status": 202' "$sent" || true)"
  for ((i = 0; i < timeout; i++)); do
    have="$("$PY" - "$WORK/notified.jsonl" <<'EOF'
import json, sys
ids = set()
for line in open(sys.argv[1]):
    ids.update(json.loads(line)["eventIds"])
print(len(ids))
EOF
)"
    [[ "$have" -ge "$want" ]] && return 0
    sleep 1
  done
  log "only $have of $want accepted events notified after ${timeout}s"
  return 1
}

# Prints "name peak_rss_mb" for each pipeline process still alive.
report_memory() {
  for n in "$@"; do
    if kill -0 "${PID[$n]}" 2>/dev/null; then
      echo "$n $(peak_rss_mb "${PID[$n]}")"
    fi
  done
}

# Prints "name cpu_secs" for each process still alive (user+system since it started):
# tells whether a stand-in, rather than the service, was the bottleneck.
report_cpu() {
  for n in "$@"; do
    if kill -0 "${PID[$n]}" 2>/dev/null; then
      echo "$n $(cpu_secs "${PID[$n]}")"
    fi
  done
  kill -0 "${CXONE_PID:-0}" 2>/dev/null && echo "cxone-standin $(cpu_secs "$CXONE_PID")"
  return 0
}

metrics_urls() {
  for n in "$@"; do echo "http://127.0.0.1:${PORT[$n]}/metrics"; done
}

jobs_depths_now() {
  queue_depths | awk -v p="$PREFIX" '$1 == p".jobs" || $1 == p".reports" { print }'
}

# The jobs and reports queue depths, once settled: a quorum queue's message count is
# refreshed on the broker's statistics tick (5 s), so one read can show messages that were
# acked long ago.
jobs_depths() {
  # Zero is trusted at once (a stale count is higher, never lower, once publishing has
  # stopped); anything else only when two reads more than a statistics tick apart agree.
  local now prev=""
  for _ in $(seq 1 8); do
    now="$(jobs_depths_now)"
    if [[ -z "$(awk '$2 != 0' <<<"$now")" ]]; then break; fi
    [[ "$now" == "$prev" ]] && break
    prev="$now"
    sleep 6
  done
  echo "$now"
}
