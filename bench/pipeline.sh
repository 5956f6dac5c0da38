#!/usr/bin/env bash
# Pipeline benchmark (issue 5): events through receiver -> worker -> notifier against local
# stand-ins for CXone (bench/tools/standins.py), with NOTIFY_GROUP_WAIT_SECS=0.
#
#   bench/pipeline.sh
#
# Prints diagnoses/s, webhook-to-notification latency p50/p99 (measured outside the
# service: the sender's send time to the moment the notifier printed the diagnosis on its
# standard output sink), CXone requests per diagnosis (the stand-in's own count, every request
# from token to the last contact read, over the diagnoses notified), and checks
# that every event answered 202 was notified exactly once.
#
# Knobs: EVENTS=2000 RATE=0 (events/s, 0 = as fast as the receiver takes them)
#        CONCURRENCY=16 WORKERS=1 WORKER_CONCURRENCY=8 TIMEOUT=180 NOTIFY_SINK=stdout|slack
#        SKIP_BUILD=1 KEEP_WORK=1
# Needs `handover-doctor serve --role worker|notifier`; fails loudly without them.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$BENCH_DIR/pipeline-lib.sh"

EVENTS="${EVENTS:-2000}"
RATE="${RATE:-0}"
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

log "sending $EVENTS events (rate ${RATE:-max}/s, concurrency ${CONCURRENCY:-16})"
send_summary="$(send_events "$EVENTS" "$RATE" "$WORK/sent.jsonl")"
log "sender: $send_summary"
wait_notified "$WORK/sent.jsonl" "$TIMEOUT" || true

delivery="$("$PY" "$TOOLS/analyze.py" delivery --sent "$WORK/sent.jsonl" --notified "$WORK/notified.jsonl")" && ok=1 || ok=0
cx="$(curl -s "http://127.0.0.1:$CXONE_PORT/_stats")"
metrics="$("$PY" "$TOOLS/analyze.py" metrics $(metrics_urls receiver "${WORKER_NAMES[@]}" notifier))"

echo
echo "Pipeline benchmark: $EVENTS events, ${WORKERS:-1} worker(s) x WORKER_CONCURRENCY=${WORKER_CONCURRENCY:-8}, NOTIFY_GROUP_WAIT_SECS=0"
"$PY" - "$delivery" "$cx" "$metrics" <<'EOF'
import json, sys
d, cx, m = (json.loads(x) for x in sys.argv[1:4])
n = d["notified"] or 0
print(f"  accepted (202)          {d['accepted202']} of {d['sent']}  {d['byStatus']}")
print(f"  diagnoses notified      {n}  missing {d['missing']}  duplicates {d['duplicates']}  refused-but-notified {d['notifiedButRefused']}")
print(f"  diagnoses/s             {d['diagnosesPerSec']}")
print(f"  webhook->notification   p50 {d['latencyMsP50']} ms   p99 {d['latencyMsP99']} ms")
per = (cx["total"] / n) if n else float("nan")
print(f"  CXone requests per diagnosis  {per:.2f}  ({cx['total']} total for {n} diagnoses)")
print(f"  CXone requests by endpoint    {cx['byEndpoint']}")
print(f"  verdicts                {d['verdicts']}")
if m["errors"]:
    print(f"  /metrics not reachable  {m['errors']}")
EOF
echo "  peak RSS MB             $(report_memory receiver "${WORKER_NAMES[@]}" notifier | tr '\n' ' ')"
echo "  CPU seconds used        $(report_cpu receiver "${WORKER_NAMES[@]}" notifier | tr '\n' ' ')"
echo "  queues left             $(jobs_depths | tr '\n' ' ')"
if [[ "$ok" == 1 ]]; then
  echo "VERDICT: PASS - every accepted event was diagnosed and notified exactly once"
else
  echo "VERDICT: FAIL - see the counts above (KEEP_WORK=1 keeps $WORK)"
  exit 1
fi
