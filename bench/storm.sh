#!/usr/bin/env bash
# Storm drill (issue 5): STORM_EVENTS events within STORM_SECS seconds over 3 skills x 5
# causes, with a stand-in Slack that answers 429 to any message within a second of the
# last accepted one, and the default grouping window.
#
#   bench/storm.sh                                 # 10,000 events within a minute
#   STORM_EVENTS=500 STORM_SECS=10 bench/storm.sh  # the CI size
#
# Checks (each printed with its figure; any failure -> exit 1):
#   1. every 202 became exactly one diagnosis: the workers' handover_jobs_total (summed over
#      every outcome) equals the number of 202s, and no event is notified twice
#      (handover_notifications_total is reported alongside);
#   2. nothing left in P.jobs and P.reports once the notifier is done;
#   3. at most MAX_SLACK_MESSAGES Slack messages in all (grouping), each answered 429 honoured;
#   4. CXone skill lookups bounded by the cache, not by the events: `skills/{id}[/...]` calls
#      at most workers x skills x endpoints x (run time / CXONE_CACHE_TTL_SECS + 1);
#   5. peak resident memory of each process under MAX_RSS_MB.
#
# Knobs: STORM_EVENTS=10000 STORM_SECS=60 WORKERS=2 CONCURRENCY=32
#        SETTLE_SECS (default: group wait + group interval + 90 s)
#        MAX_SLACK_MESSAGES=48 CXONE_CACHE_TTL_SECS=60 MAX_RSS_MB=150
#        NOTIFY_GROUP_WAIT_SECS=30 NOTIFY_GROUP_INTERVAL_SECS=300 (the service's defaults)
#        NOTIFY_MAX_PENDING (service default 10000) SKIP_BUILD=1 KEEP_WORK=1

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$BENCH_DIR/pipeline-lib.sh"

STORM_EVENTS="${STORM_EVENTS:-10000}"
STORM_SECS="${STORM_SECS:-60}"
WORKERS="${WORKERS:-2}"
CONCURRENCY="${CONCURRENCY:-32}"
# Grouping is what this drill is about: the service's defaults unless told otherwise.
export NOTIFY_GROUP_WAIT_SECS="${NOTIFY_GROUP_WAIT_SECS:-30}"
export NOTIFY_GROUP_INTERVAL_SECS="${NOTIFY_GROUP_INTERVAL_SECS:-300}"
# Failures that arrive after a group's first message go out as its update one
# NOTIFY_GROUP_INTERVAL_SECS later: wait for that, plus pacing.
SETTLE_SECS="${SETTLE_SECS:-$((NOTIFY_GROUP_WAIT_SECS + NOTIFY_GROUP_INTERVAL_SECS + 90))}"
MAX_SLACK_MESSAGES="${MAX_SLACK_MESSAGES:-48}"
export CXONE_CACHE_TTL_SECS="${CXONE_CACHE_TTL_SECS:-60}"
MAX_RSS_MB="${MAX_RSS_MB:-150}"
export NOTIFY_SINK=slack

ensure_python
ensure_rabbitmq
build_release
make_vhost
cd "$WORK"
start_cxone_standin
start_slack_standin 1
start_pipeline

rate="$(awk -v n="$STORM_EVENTS" -v s="$STORM_SECS" 'BEGIN { printf "%.2f", n / s }')"
log "storm: $STORM_EVENTS events at $rate/s over 3 skills x 5 causes"
t0=$(date +%s)
send_summary="$(send_events "$STORM_EVENTS" "$rate" "$WORK/sent.jsonl" --skills 3 --causes 5)"
t1=$(date +%s)
log "sender ($((t1 - t0)) s): $send_summary"
accepted="$(grep -c '"status": 202' "$WORK/sent.jsonl" || true)"

# Settle: until the jobs and reports queues are empty and the Slack count stops moving
# for a whole grouping window plus pacing, or SETTLE_SECS.
metric_sum() { # metric_sum NAME JSON -> sum over every label set
  "$PY" -c 'import json,sys; m=json.loads(sys.argv[2])["sums"]; print(int(sum(v for k,v in m.items() if k.split("{")[0]==sys.argv[1])))' "$1" "$2"
}
last_slack=-1
stable=0
for ((i = 0; i < SETTLE_SECS; i++)); do
  depth="$(jobs_depths_now | awk '{ s += $2 } END { print s + 0 }')"
  slack_now="$(curl -s "http://127.0.0.1:$SLACK_PORT/_stats" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["accepted"])')"
  if [[ "$depth" == 0 && "$slack_now" == "$last_slack" ]]; then
    stable=$((stable + 1))
  else
    stable=0
  fi
  last_slack="$slack_now"
  [[ "$stable" -ge $((NOTIFY_GROUP_WAIT_SECS + 5)) ]] && break
  sleep 1
done

metrics="$("$PY" "$TOOLS/analyze.py" metrics $(metrics_urls "${WORKER_NAMES[@]}" notifier))"
jobs_total="$(metric_sum handover_jobs_total "$metrics")"
notif_total="$(metric_sum handover_notifications_total "$metrics")"
slack="$(curl -s "http://127.0.0.1:$SLACK_PORT/_stats")"
cx="$(curl -s "http://127.0.0.1:$CXONE_PORT/_stats")"
slack_msgs="$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["accepted"])' "$slack")"
slack_429="$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["rejected429"])' "$slack")"
t_end=$(date +%s)
# Each worker caches each of the 3 skills' 3 look-ups (skill, agents, activity) for the TTL.
MAX_SKILL_LOOKUPS=$((WORKERS * 3 * 3 * ((t_end - t0) / CXONE_CACHE_TTL_SECS + 1)))
skill_lookups="$("$PY" -c 'import json,sys; b=json.loads(sys.argv[1])["byEndpoint"]; print(sum(v for k,v in b.items() if k.startswith("skills/")))' "$cx")"
depths="$(jobs_depths | tr '\n' ' ')"
mem="$(report_memory receiver "${WORKER_NAMES[@]}" notifier)"

fail=0
check() { # check OK? "label"
  if [[ "$1" == 1 ]]; then echo "  PASS  $2"; else echo "  FAIL  $2"; fail=1; fi
}
echo
echo "Storm drill: $STORM_EVENTS events in ${STORM_SECS}s target ($((t1 - t0)) s actual), 3 skills x 5 causes, ${WORKERS} workers, NOTIFY_GROUP_WAIT_SECS=$NOTIFY_GROUP_WAIT_SECS, NOTIFY_GROUP_INTERVAL_SECS=$NOTIFY_GROUP_INTERVAL_SECS, Slack 429 within 1 s"
echo "  sender: $send_summary"
echo "  metrics: $metrics"
check "$([[ -n "$jobs_total" && "$jobs_total" -eq "$accepted" && "$accepted" -gt 0 ]] && echo 1)" \
  "every 202 became exactly one diagnosis: 202s $accepted, handover_jobs_total $jobs_total (notifications_total $notif_total)"
check "$([[ -z "$(jobs_depths | awk '$2 != 0')" ]] && echo 1)" "nothing left in $PREFIX.jobs / $PREFIX.reports: $depths"
check "$([[ "$slack_msgs" -le "$MAX_SLACK_MESSAGES" && "$slack_msgs" -gt 0 ]] && echo 1)" \
  "Slack messages $slack_msgs (<= $MAX_SLACK_MESSAGES), 429s answered $slack_429"
check "$([[ "$skill_lookups" -le "$MAX_SKILL_LOOKUPS" ]] && echo 1)" \
  "CXone skill lookups $skill_lookups for $accepted events (<= $MAX_SKILL_LOOKUPS: $WORKERS workers x 3 skills x 3 look-ups x ($((t_end - t0)) s / ${CXONE_CACHE_TTL_SECS} s TTL + 1)); all CXone: $("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["byEndpoint"])' "$cx")"
while read -r name mb; do
  check "$(awk -v m="$mb" -v x="$MAX_RSS_MB" 'BEGIN { print (m < x) ? 1 : 0 }')" "peak RSS $name ${mb} MB (< $MAX_RSS_MB)"
done <<<"$mem"
if [[ "$fail" == 0 ]]; then echo "VERDICT: PASS"; else
  echo "VERDICT: FAIL (KEEP_WORK=1 keeps $WORK)"
  exit 1
fi
