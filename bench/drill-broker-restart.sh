#!/usr/bin/env bash
# Fault drill (issue 5): the broker stops for DOWN_SECS in the middle of a load run.
#
#   bench/drill-broker-restart.sh
#
# It STOPS THE LOCAL RABBITMQ APP (rabbitmqctl stop_app / start_app): every other user of
# the broker on this machine sees it go away. Run it alone (CI runs it serially).
#
# Checks: while the broker is down the receiver answers 503 (and never 202); after
# start_app it answers 202 again without being restarted (same pid); every event answered
# 202 before, during or after is diagnosed and notified exactly once; nothing answered 503
# is notified, except events whose publish was on the wire at the instant the broker went
# away (from stop_app until it returned): the broker may have stored them while their
# confirm was lost with the connection. Those are counted as "inDoubt" and must be
# notified at most once (a Cognigy retry carries the same eventId, which the notifier
# de-duplicates); the queues are empty at the end.
#
# Knobs: DRILL_SECS=50 RATE=50 (events/s) DOWN_AT=15 DOWN_SECS=20 WORKERS=1 TIMEOUT=180
#        CONCURRENCY=16 SKIP_BUILD=1 KEEP_WORK=1

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$BENCH_DIR/pipeline-lib.sh"

DRILL_SECS="${DRILL_SECS:-50}"
RATE="${RATE:-50}"
DOWN_AT="${DOWN_AT:-15}"
DOWN_SECS="${DOWN_SECS:-20}"
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
receiver_pid="${PID[receiver]}"

count=$((DRILL_SECS * RATE))
log "sending $count events at $RATE/s for ${DRILL_SECS}s; broker down at ${DOWN_AT}s for ${DOWN_SECS}s"
send_events "$count" "$RATE" "$WORK/sent.jsonl" --timeout 15 >"$WORK/send-summary.json" &
sender=$!
STARTED_PIDS+=("$sender")

sleep "$DOWN_AT"
log "rabbitmqctl stop_app"
stopping_at=$(date +%s.%N)
rabbitmqctl -q stop_app >/dev/null
down_from=$(date +%s.%N)
sleep "$DOWN_SECS"
down_to=$(date +%s.%N)
log "rabbitmqctl start_app"
rabbitmqctl -q start_app >/dev/null
rabbitmqctl -q await_startup --timeout 60 >/dev/null
up_at=$(date +%s.%N)

wait "$sender" || die "sender failed"
log "sender: $(cat "$WORK/send-summary.json")"
wait_notified "$WORK/sent.jsonl" "$TIMEOUT" || true

window="$("$PY" - "$WORK/sent.jsonl" "$down_from" "$down_to" "$up_at" <<'EOF'
import json, sys
path, down_from, down_to, up_at = sys.argv[1], *map(float, sys.argv[2:5])
during_202 = during_503 = after_202 = 0
for line in open(path):
    r = json.loads(line)
    # Strictly inside the outage: sent after stop_app returned, answered before start_app.
    if r["sentAt"] > down_from and r["answeredAt"] < down_to:
        during_202 += r["status"] == 202
        during_503 += r["status"] == 503
    if r["sentAt"] > up_at:
        after_202 += r["status"] == 202
print(during_202, during_503, after_202)
EOF
)"
read -r during_202 during_503 after_202 <<<"$window"
delivery="$("$PY" "$TOOLS/analyze.py" delivery --sent "$WORK/sent.jsonl" --notified "$WORK/notified.jsonl" \
  --in-doubt "$stopping_at" "$down_from")" && delivered=1 || delivered=0

fail=0
check() { if [[ "$1" == 1 ]]; then echo "  PASS  $2"; else echo "  FAIL  $2"; fail=1; fi; }
echo
echo "Broker-restart drill: $count events at $RATE/s, broker stopped ${DOWN_SECS}s at ${DOWN_AT}s"
echo "  sender: $(cat "$WORK/send-summary.json")"
echo "  delivery: $delivery"
check "$([[ "$during_503" -gt 0 && "$during_202" -eq 0 ]] && echo 1)" "while down: $during_503 answered 503, $during_202 answered 202 (must be 0)"
check "$([[ "$after_202" -gt 0 ]] && kill -0 "$receiver_pid" 2>/dev/null && echo 1)" "after start_app: $after_202 answered 202 by the same receiver process (pid $receiver_pid)"
check "$delivered" "every 202 diagnosed and notified exactly once; no 503 notified but the in-doubt ones (publish on the wire as the broker stopped), each at most once"
check "$([[ -z "$(jobs_depths | awk '$2 != 0')" ]] && echo 1)" "queues empty: $(jobs_depths | tr '\n' ' ')"
if [[ "$fail" == 0 ]]; then echo "VERDICT: PASS"; else
  echo "VERDICT: FAIL (KEEP_WORK=1 keeps $WORK)"
  exit 1
fi
