#!/usr/bin/env bash
# Fault drill (issue 5): SIGTERM to the receiver and a worker during load.
#
#   bench/drill-sigterm.sh
#
# TERM_AT seconds into a load run the receiver and worker1 get SIGTERM. Checks: each exits
# within EXIT_BOUND seconds; no request that was sent before the signal went unanswered
# (in-flight requests finish); after both are started again (the receiver on the same
# port) every event answered 202 is diagnosed and notified exactly once; queues empty.
#
# Knobs: DRILL_SECS=30 RATE=100 TERM_AT=10 RESTART_AFTER=2 EXIT_BOUND=35 TIMEOUT=180
#        SKIP_BUILD=1 KEEP_WORK=1

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$BENCH_DIR/pipeline-lib.sh"

DRILL_SECS="${DRILL_SECS:-30}"
RATE="${RATE:-100}"
TERM_AT="${TERM_AT:-10}"
RESTART_AFTER="${RESTART_AFTER:-2}"
EXIT_BOUND="${EXIT_BOUND:-35}"
TIMEOUT="${TIMEOUT:-180}"
export NOTIFY_GROUP_WAIT_SECS=0

ensure_python
ensure_rabbitmq
build_release
make_vhost
cd "$WORK"
start_cxone_standin
start_slack_standin 0
start_pipeline

count=$((DRILL_SECS * RATE))
send_events "$count" "$RATE" "$WORK/sent.jsonl" --timeout 40 >"$WORK/send-summary.json" &
sender=$!
STARTED_PIDS+=("$sender")
sleep "$TERM_AT"

term_at=$(date +%s.%N)
declare -A EXIT_SECS EXIT_CODE
for n in receiver worker1; do kill -TERM "${PID[$n]}"; done
log "SIGTERM receiver (pid ${PID[receiver]}) and worker1 (pid ${PID[worker1]})"
for n in receiver worker1; do
  if wait "${PID[$n]}"; then EXIT_CODE[$n]=0; else EXIT_CODE[$n]=$?; fi
  EXIT_SECS[$n]="$(awk -v a="$term_at" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
  log "$n exited with ${EXIT_CODE[$n]} after ${EXIT_SECS[$n]} s"
done
sleep "$RESTART_AFTER"
start_role receiver receiver "${PORT[receiver]}"
wait_http "http://127.0.0.1:${PORT[receiver]}/readyz" "${PID[receiver]}" 60 || die "receiver did not come back"
start_role worker1b worker
WORKER_NAMES=(worker1b "${WORKER_NAMES[@]:1}")

wait "$sender" || die "sender failed"
wait_notified "$WORK/sent.jsonl" "$TIMEOUT" || true
unanswered="$("$PY" - "$WORK/sent.jsonl" "$term_at" <<'EOF'
import json, sys
t = float(sys.argv[2])
print(sum(1 for l in open(sys.argv[1]) if (r := json.loads(l))["sentAt"] < t and r["status"] == 0))
EOF
)"
delivery="$("$PY" "$TOOLS/analyze.py" delivery --sent "$WORK/sent.jsonl" --notified "$WORK/notified.jsonl")" && delivered=1 || delivered=0

fail=0
check() { if [[ "$1" == 1 ]]; then echo "  PASS  $2"; else echo "  FAIL  $2"; fail=1; fi; }
echo
echo "SIGTERM drill: $count events at $RATE/s, receiver and worker1 terminated at ${TERM_AT}s, restarted ${RESTART_AFTER}s after exit"
echo "  sender: $(cat "$WORK/send-summary.json")"
echo "  delivery: $delivery"
for n in receiver worker1; do
  check "$(awk -v s="${EXIT_SECS[$n]}" -v b="$EXIT_BOUND" 'BEGIN { print (s <= b) ? 1 : 0 }')" \
    "$n exited (code ${EXIT_CODE[$n]}) ${EXIT_SECS[$n]} s after SIGTERM (<= $EXIT_BOUND s)"
done
check "$([[ "$unanswered" -eq 0 ]] && echo 1)" "requests sent before SIGTERM left without an answer: $unanswered"
check "$delivered" "every 202 diagnosed and notified exactly once"
check "$([[ -z "$(jobs_depths | awk '$2 != 0')" ]] && echo 1)" "queues empty: $(jobs_depths | tr '\n' ' ')"
if [[ "$fail" == 0 ]]; then echo "VERDICT: PASS"; else
  echo "VERDICT: FAIL (KEEP_WORK=1 keeps $WORK)"
  exit 1
fi
