#!/usr/bin/env bash
# Fault drill (issue 5): a worker is killed with SIGKILL in the middle of a burst.
#
#   bench/drill-kill-worker.sh
#
# Two workers share the jobs queue; KILL_AFTER seconds into the burst one is SIGKILLed
# (its unacknowledged jobs go back to the queue), and a replacement starts RESTART_AFTER
# seconds later. Checks: every event answered 202 is notified, none twice; queues empty.
#
# Knobs: EVENTS=3000 RATE=150 KILL_AFTER=6 RESTART_AFTER=3 TIMEOUT=180 WORKER_CONCURRENCY=8
#        SKIP_BUILD=1 KEEP_WORK=1

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$BENCH_DIR/pipeline-lib.sh"

EVENTS="${EVENTS:-3000}"
RATE="${RATE:-150}"
KILL_AFTER="${KILL_AFTER:-6}"
RESTART_AFTER="${RESTART_AFTER:-3}"
TIMEOUT="${TIMEOUT:-180}"
export NOTIFY_GROUP_WAIT_SECS=0
WORKERS=2

ensure_python
ensure_rabbitmq
build_release
make_vhost
cd "$WORK"
start_cxone_standin
start_slack_standin 0
start_pipeline

send_events "$EVENTS" "$RATE" "$WORK/sent.jsonl" >"$WORK/send-summary.json" &
sender=$!
STARTED_PIDS+=("$sender")
sleep "$KILL_AFTER"
notified_before="$(cat "$WORK/notified.jsonl" | wc -l)"
log "SIGKILL worker1 (pid ${PID[worker1]}) after $notified_before notifications"
kill -KILL "${PID[worker1]}"
sleep "$RESTART_AFTER"
start_role worker3 worker
WORKER_NAMES=(worker2 worker3)

wait "$sender" || die "sender failed"
wait_notified "$WORK/sent.jsonl" "$TIMEOUT" || true
delivery="$("$PY" "$TOOLS/analyze.py" delivery --sent "$WORK/sent.jsonl" --notified "$WORK/notified.jsonl")" && ok=1 || ok=0

echo
echo "Kill-worker drill: $EVENTS events at $RATE/s, worker1 SIGKILLed at ${KILL_AFTER}s, replaced ${RESTART_AFTER}s later"
echo "  sender: $(cat "$WORK/send-summary.json")"
echo "  delivery: $delivery"
echo "  queues: $(jobs_depths | tr '\n' ' ')"
if [[ "$ok" == 1 && -z "$(jobs_depths | awk '$2 != 0')" ]]; then
  echo "VERDICT: PASS - nothing lost, nothing notified twice"
else
  echo "VERDICT: FAIL (KEEP_WORK=1 keeps $WORK)"
  exit 1
fi
