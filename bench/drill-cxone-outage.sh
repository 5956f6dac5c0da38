#!/usr/bin/env bash
# Fault drill (issue 5): CXone answers 500 for OUTAGE_500_SECS, then 429 (Retry-After: 1)
# for OUTAGE_429_SECS, then recovers; events keep arriving all along.
#
#   bench/drill-cxone-outage.sh
#
# Checks: every event answered 202 is diagnosed and notified exactly once (the workers
# retry, then either finish the diagnosis or report HD503 cxone-unavailable: nothing is
# dropped); the CXone stand-in saw the failures and then 200s again; events sent after the
# outage are diagnosed with CXone checked (no HD503 among them). Prints the verdicts and the
# CXone request counts per status.
#
# Knobs: EVENTS=900 RATE=10 OUTAGE_500_SECS=30 OUTAGE_429_SECS=30 TIMEOUT=900
#        SKIP_BUILD=1 KEEP_WORK=1

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$BENCH_DIR/pipeline-lib.sh"

EVENTS="${EVENTS:-900}"
RATE="${RATE:-10}"
OUTAGE_500_SECS="${OUTAGE_500_SECS:-30}"
OUTAGE_429_SECS="${OUTAGE_429_SECS:-30}"
TIMEOUT="${TIMEOUT:-900}"
export NOTIFY_GROUP_WAIT_SECS=0

ensure_python
ensure_rabbitmq
build_release
make_vhost
cd "$WORK"
start_cxone_standin
start_slack_standin 0
start_pipeline
control() { curl -s -X POST "http://127.0.0.1:$CXONE_PORT/_control" -d "$1" >/dev/null; }

send_events "$EVENTS" "$RATE" "$WORK/sent.jsonl" >"$WORK/send-summary.json" &
sender=$!
STARTED_PIDS+=("$sender")
sleep 5
log "CXone: 500 for ${OUTAGE_500_SECS}s"
control "{\"mode\":\"500\",\"seconds\":$OUTAGE_500_SECS}"
sleep "$OUTAGE_500_SECS"
log "CXone: 429 for ${OUTAGE_429_SECS}s"
control "{\"mode\":\"429\",\"seconds\":$OUTAGE_429_SECS}"
sleep "$OUTAGE_429_SECS"
recovered_at=$(date +%s.%N)
log "CXone recovered"

wait "$sender" || die "sender failed"
wait_notified "$WORK/sent.jsonl" "$TIMEOUT" || true
delivery="$("$PY" "$TOOLS/analyze.py" delivery --sent "$WORK/sent.jsonl" --notified "$WORK/notified.jsonl")" && delivered=1 || delivered=0
cx="$(curl -s "http://127.0.0.1:$CXONE_PORT/_stats")"
after="$("$PY" - "$WORK/sent.jsonl" "$WORK/notified.jsonl" "$recovered_at" <<'EOF'
import json, sys
t = float(sys.argv[3])
late = {r["eventId"] for l in open(sys.argv[1]) if (r := json.loads(l))["sentAt"] > t + 2 and r["status"] == 202}
bad = 0
for l in open(sys.argv[2]):
    n = json.loads(l)
    bad += sum(1 for e, v in zip(n["eventIds"], n["verdicts"]) if e in late and v == "HD503")
print(len(late), bad)
EOF
)"
read -r late late_503 <<<"$after"
statuses="$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["byStatus"])' "$cx")"
failed_calls="$("$PY" -c 'import json,sys; s=json.loads(sys.argv[1])["byStatus"]; print(s.get("500",0)+s.get("429",0))' "$cx")"

fail=0
check() { if [[ "$1" == 1 ]]; then echo "  PASS  $2"; else echo "  FAIL  $2"; fail=1; fi; }
echo
echo "CXone-outage drill: $EVENTS events at $RATE/s; CXone 500 for ${OUTAGE_500_SECS}s then 429 for ${OUTAGE_429_SECS}s"
echo "  sender: $(cat "$WORK/send-summary.json")"
echo "  delivery: $delivery"
echo "  CXone requests by status: $statuses"
check "$delivered" "every 202 diagnosed and notified exactly once"
check "$([[ "$failed_calls" -gt 0 ]] && echo 1)" "the outage was seen by the workers: $failed_calls CXone calls answered 500/429"
check "$([[ "$late" -gt 0 && "$late_503" -eq 0 ]] && echo 1)" "after recovery: $late events, $late_503 of them HD503 (must be 0)"
check "$([[ -z "$(jobs_depths | awk '$2 != 0')" ]] && echo 1)" "queues empty: $(jobs_depths | tr '\n' ' ')"
if [[ "$fail" == 0 ]]; then echo "VERDICT: PASS"; else
  echo "VERDICT: FAIL (KEEP_WORK=1 keeps $WORK)"
  exit 1
fi
