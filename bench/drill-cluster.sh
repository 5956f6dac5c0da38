#!/usr/bin/env bash
# Fault drill (issue 17): a three-node RabbitMQ cluster loses, one at a time, the node each
# role is connected to, under a steady stream of webhooks.
#
#   bench/drill-cluster.sh
#
# It starts three RabbitMQ nodes of its own on this machine (hd-drill-{a,b,c}@localhost,
# AMQP on 127.0.0.1:5681-5683, Erlang distribution on 25681-25683, data, logs, config and
# Erlang cookie under its temp dir), clusters them with `rabbitmqctl join_cluster`, and runs
# a receiver, a worker and a notifier (`serve --role ...`, one process each) with AMQP_URL
# set to the list of the three nodes. Then, for each role in turn, it kills (SIGKILL) the
# beam of the node that role is connected to, restarts it DOWN_SECS later, and waits until
# it is back in the cluster; two nodes are up at every moment, so the quorum queues keep a
# majority. It never touches the machine's own broker (rabbit@localhost on 5672): every
# CLI call names its node with -n, and the cluster is torn down on exit, whatever happens.
#
# Checks: no webhook answered 503 (a node was always reachable); every 202 diagnosed and
# notified exactly once (duplicate diagnoses are counted and explained); each role moved to
# a live node without a restart (same pid); the queues are empty at the end; the cluster
# has its three nodes again. Reports the time each role took to move, the longest answer
# during a failover, and the quorum queues' leaders before and after.
#
# Knobs: RATE=40 (events/s) WARMUP=10 DOWN_SECS=15 TAIL=10 TIMEOUT=180 CONCURRENCY=16
#        AMQP_BASE=5680 DIST_BASE=25680 (node i uses base+i) SKIP_BUILD=1 KEEP_WORK=1
#        PROFILE=debug

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$BENCH_DIR/pipeline-lib.sh"

RATE="${RATE:-40}"
WARMUP="${WARMUP:-10}"
DOWN_SECS="${DOWN_SECS:-15}"
TAIL="${TAIL:-10}"
TIMEOUT="${TIMEOUT:-180}"
AMQP_BASE="${AMQP_BASE:-5680}"
DIST_BASE="${DIST_BASE:-25680}"
export NOTIFY_GROUP_WAIT_SECS=0

RMQ_BIN=/usr/lib/rabbitmq/bin
NODES=(a b c)
CL="$WORK/cluster"
declare -A NODE_SH NODE_INDEX=([a]=1 [b]=2 [c]=3)

# ---------------------------------------------------------------- the cluster

node_name() { echo "hd-drill-$1@localhost"; }

# The environment of node $1 and of the CLI tools that talk to it. RABBITMQ_CONF_ENV_FILE
# points away from /etc/rabbitmq/rabbitmq-env.conf (which names the machine's own node),
# and HOME holds this drill's Erlang cookie.
node_env() {
  local n="$1" d="$CL/$1" i="${NODE_INDEX[$1]}"
  NODE_ENV=(
    HOME="$CL" RABBITMQ_CONF_ENV_FILE="$CL/rabbitmq-env.conf"
    RABBITMQ_NODENAME="$(node_name "$n")"
    RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf"
    RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins"
    RABBITMQ_DIST_PORT=$((DIST_BASE + i))
    RABBITMQ_MNESIA_BASE="$d/mnesia" RABBITMQ_LOG_BASE="$d/log" RABBITMQ_PID_FILE="$d/pid"
    ERL_EPMD_ADDRESS=127.0.0.1
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  )
}

# ctl NODE TOOL ARGS...: a RabbitMQ CLI tool against one drill node (always with -n).
ctl() {
  local n="$1" tool="$2"
  shift 2
  node_env "$n"
  env "${NODE_ENV[@]}" "$RMQ_BIN/$tool" -n "$(node_name "$n")" "$@" </dev/null
}

start_node() {
  local n="$1" d="$CL/$1"
  mkdir -p "$d/log" "$d/mnesia"
  if [[ ! -f "$d/rabbitmq.conf" ]]; then
    printf 'listeners.tcp.local = 127.0.0.1:%s\n' $((AMQP_BASE + NODE_INDEX[$n])) >"$d/rabbitmq.conf"
    echo '[].' >"$d/enabled_plugins"
  fi
  rm -f "$d/pid"
  node_env "$n"
  env "${NODE_ENV[@]}" "$RMQ_BIN/rabbitmq-server" >>"$d/stdout" 2>&1 &
  NODE_SH[$n]=$!
}

# Until the node's broker app runs (await_startup gives up at once while the VM boots).
await_node() {
  local n="$1" i
  for ((i = 0; i < 120; i++)); do
    if ctl "$n" rabbitmqctl -q await_startup --timeout 5 >/dev/null 2>&1; then
      [[ -s "$CL/$n/pid" ]] && return 0
    fi
    kill -0 "${NODE_SH[$n]}" 2>/dev/null || break
    sleep 1
  done
  tail -20 "$CL/$n/stdout" >&2
  return 1
}

beam_pid() { cat "$CL/$1/pid" 2>/dev/null; }

cluster_down() {
  set +e
  local n pid
  for n in "${NODES[@]}"; do
    pid="$(beam_pid "$n")"
    if [[ -n "$pid" ]]; then kill -KILL "$pid" 2>/dev/null; fi
  done
  # Each node's start script reaps its beam and exits; one that does not is killed.
  for n in "${NODES[@]}"; do
    pid="${NODE_SH[$n]:-}"
    [[ -n "$pid" ]] || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  return 0
}
trap 'rc=$?; cluster_down; (exit $rc); cleanup' EXIT

# A live node to ask, other than $1.
live_node() {
  local n
  for n in "${NODES[@]}"; do
    [[ "$n" != "${1:-}" ]] && kill -0 "$(beam_pid "$n")" 2>/dev/null && { echo "$n"; return 0; }
  done
  return 1
}

letter_of_port() {
  local n
  for n in "${NODES[@]}"; do
    [[ "$1" == "$((AMQP_BASE + NODE_INDEX[$n]))" ]] && { echo "$n"; return 0; }
  done
  echo "?"
}

# The node a role publishes through, from its /readyz ("-" while it has none).
role_node() {
  local node
  node="$(curl -s --max-time 2 "http://127.0.0.1:${PORT[$1]}/readyz" |
    "$PY" -c 'import json,sys
try: print(json.load(sys.stdin).get("node") or "-")
except Exception: print("-")')"
  [[ "$node" == - ]] && { echo -; return 0; }
  letter_of_port "${node##*:}"
}

# "queue leader members" of this run's quorum queues, asked of a live node.
leaders() {
  ctl "$(live_node "${1:-}")" rabbitmqctl -q list_queues name leader members --no-table-headers 2>/dev/null |
    awk -v p="$PREFIX" 'index($1, p".") == 1 { print }' | sed 's/hd-drill-\([abc]\)@localhost/\1/g' | sort
}

# Depths of the jobs and reports queues, settled (see jobs_depths in pipeline-lib.sh).
cluster_depths() {
  local now prev="" i
  for ((i = 0; i < 8; i++)); do
    now="$(ctl "$(live_node)" rabbitmqctl -q list_queues name messages --no-table-headers 2>/dev/null |
      awk -v p="$PREFIX" '$1 == p".jobs" || $1 == p".reports" { print }')"
    [[ -n "$now" && -z "$(awk '$2 != 0' <<<"$now")" ]] && break
    [[ -n "$now" && "$now" == "$prev" ]] && break
    prev="$now"
    sleep 6
  done
  echo "$now"
}

# ---------------------------------------------------------------- run

[[ -x "$RMQ_BIN/rabbitmq-server" ]] ||
  die "RabbitMQ is not installed here ($RMQ_BIN/rabbitmq-server): apt-get install -y rabbitmq-server"
ensure_python
for n in "${NODES[@]}"; do
  for port in $((AMQP_BASE + NODE_INDEX[$n])) $((DIST_BASE + NODE_INDEX[$n])); do
    "$PY" -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()' "$port" 2>/dev/null ||
      die "port $port is taken (another drill running?): set AMQP_BASE / DIST_BASE"
  done
done
build_release
mkdir -p "$CL"
: >"$CL/rabbitmq-env.conf"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$CL/.erlang.cookie"
chmod 400 "$CL/.erlang.cookie"

t0=$(date +%s.%N)
for n in "${NODES[@]}"; do start_node "$n"; done
for n in "${NODES[@]}"; do await_node "$n" || die "node $(node_name "$n") did not start"; done
for n in b c; do
  ctl "$n" rabbitmqctl -q stop_app >/dev/null
  ctl "$n" rabbitmqctl -q join_cluster "$(node_name a)" >/dev/null || die "$(node_name "$n") could not join the cluster"
  ctl "$n" rabbitmqctl -q start_app >/dev/null
done
running="$(ctl a rabbitmqctl -q cluster_status --formatter json | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["running_nodes"]))')"
[[ "$running" == 3 ]] || die "the cluster has $running running nodes, not 3"
cluster_secs="$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
log "three-node cluster up in ${cluster_secs}s"

AMQP_URL_BENCH="$(for n in "${NODES[@]}"; do printf 'amqp://guest:guest@127.0.0.1:%s/%%2f,' $((AMQP_BASE + NODE_INDEX[$n])); done)"
AMQP_URL_BENCH="${AMQP_URL_BENCH%,}"
cd "$WORK"
start_cxone_standin
start_slack_standin 0
start_pipeline
ROLES=(receiver worker1 notifier)
declare -A ROLE_PID
for r in "${ROLES[@]}"; do ROLE_PID[$r]="${PID[$r]}"; done
# The consumers attach a moment after the roles start.
sleep 2
leaders_before="$(leaders)"

phase_secs=$((DOWN_SECS + 15))
drill_secs=$((WARMUP + ${#ROLES[@]} * phase_secs + TAIL))
count=$((drill_secs * RATE))
log "sending $count events at $RATE/s for ${drill_secs}s; for each role, its node killed for ${DOWN_SECS}s"
send_events "$count" "$RATE" "$WORK/sent.jsonl" --timeout 15 >"$WORK/send-summary.json" &
sender=$!
STARTED_PIDS+=("$sender")
sleep "$WARMUP"

: >"$WORK/phases.txt"
for r in "${ROLES[@]}"; do
  victim="$(role_node "$r")"
  [[ "$victim" =~ ^[abc]$ ]] || die "$r names no node in /readyz"
  placement="$(for x in "${ROLES[@]}"; do printf '%s=%s ' "$x" "$(role_node "$x")"; done)"
  log "phase $r: roles on ${placement}; kill -9 node $victim (beam $(beam_pid "$victim"))"
  killed_at=$(date +%s.%N)
  kill -KILL "$(beam_pid "$victim")"
  # Every role that was on the victim has moved once its /readyz names another node.
  moved=""
  for ((i = 0; i < 300; i++)); do
    all=1
    for x in "${ROLES[@]}"; do
      now="$(role_node "$x")"
      [[ "$now" =~ ^[abc]$ && "$now" != "$victim" ]] || all=0
    done
    if [[ "$all" == 1 ]]; then
      moved="$(awk -v a="$killed_at" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')"
      break
    fi
    sleep 0.1
  done
  after="$(for x in "${ROLES[@]}"; do printf '%s=%s ' "$x" "$(role_node "$x")"; done)"
  rest=$(awk -v a="$killed_at" -v d="$DOWN_SECS" -v b="$(date +%s.%N)" 'BEGIN { r = d - (b - a); printf "%.1f", (r > 0 ? r : 0) }')
  sleep "$rest"
  log "restarting node $victim"
  start_node "$victim"
  await_node "$victim" || die "node $victim did not come back"
  back_at=$(date +%s.%N)
  echo "$r $victim $killed_at ${moved:-none} $back_at ${placement// /,} ${after// /,}" >>"$WORK/phases.txt"
  log "node $victim back after $(awk -v a="$killed_at" -v b="$back_at" 'BEGIN { printf "%.1f", b - a }')s; roles moved in ${moved:-(not within 30 s)}s"
done

wait "$sender" || die "sender failed"
log "sender: $(cat "$WORK/send-summary.json")"
wait_notified "$WORK/sent.jsonl" "$TIMEOUT" || true
leaders_after="$(leaders)"
running="$(ctl a rabbitmqctl -q cluster_status --formatter json | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["running_nodes"]))')"
depths="$(cluster_depths)"
metrics="$("$PY" "$TOOLS/analyze.py" metrics $(metrics_urls "${ROLES[@]}"))"
delivery="$("$PY" "$TOOLS/analyze.py" delivery --sent "$WORK/sent.jsonl" --notified "$WORK/notified.jsonl")" && delivered=1 || delivered=0

# Per phase: answers to requests sent within 2 s either side of the kill.
phase_report="$("$PY" - "$WORK/sent.jsonl" "$WORK/phases.txt" <<'EOF'
import json, sys
sent = [json.loads(l) for l in open(sys.argv[1])]
for line in open(sys.argv[2]):
    role, victim, killed, moved, back, before, after = line.split()
    killed, back = float(killed), float(back)
    near = [r for r in sent if killed - 2 <= r["sentAt"] <= killed + 2]
    during = [r for r in sent if killed <= r["sentAt"] <= back]
    worst = max((r["answeredAt"] - r["sentAt"] for r in near), default=0)
    s503 = sum(r["status"] == 503 for r in during)
    s202 = sum(r["status"] == 202 for r in during)
    print(f"  {role}'s node {victim} killed: roles {before.rstrip(',')} -> {after.rstrip(',')} "
          f"in {moved} s; node back after {back - killed:.1f} s; while it was down {s202} answered 202, "
          f"{s503} 503; slowest answer around the kill {worst * 1000:.0f} ms")
EOF
)"
dups="$("$PY" - "$metrics" "$delivery" <<'EOF'
import json, sys
m, d = json.loads(sys.argv[1])["sums"], json.loads(sys.argv[2])
diagnosed = sum(v for k, v in m.items() if k.startswith('handover_jobs_total{outcome="diagnosed"'))
dedup = sum(v for k, v in m.items() if k.startswith("handover_notifications_total") and 'outcome="deduplicated"' in k)
print(f"{int(diagnosed)} diagnoses for {d['accepted202']} 202s ({int(diagnosed) - d['accepted202']:+d}: "
      f"jobs redelivered because the worker's node died before their ack reached it, or resent by the "
      f"receiver after a confirm lost with the node); the notifier dropped {int(dedup)} repeated event(s) "
      f"(handover_notifications_total{{outcome=\"deduplicated\"}})")
EOF
)"
n503="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("byStatus", {}).get("503", 0))' "$WORK/send-summary.json")"
same_pids=1
for r in "${ROLES[@]}"; do kill -0 "${ROLE_PID[$r]}" 2>/dev/null || same_pids=0; done
all_moved=1
grep -q ' none ' "$WORK/phases.txt" && all_moved=0

fail=0
check() { if [[ "$1" == 1 ]]; then echo "  PASS  $2"; else echo "  FAIL  $2"; fail=1; fi; }
echo
echo "Cluster drill: 3 RabbitMQ nodes (cluster up in ${cluster_secs}s), $count events at $RATE/s; the node of each role killed (SIGKILL) for ${DOWN_SECS}s, one at a time"
echo "  sender: $(cat "$WORK/send-summary.json")"
echo "  delivery: $delivery"
echo "$phase_report"
echo "  duplicates: $dups"
echo "  quorum queue leaders before (queue leader members):"
sed 's/^/    /' <<<"$leaders_before"
echo "  quorum queue leaders after:"
sed 's/^/    /' <<<"$leaders_after"
check "$([[ "$n503" == 0 ]] && echo 1)" "no webhook answered 503 ($n503): a node was reachable all along"
check "$delivered" "every 202 diagnosed and notified exactly once, nothing refused notified"
check "$([[ "$all_moved" == 1 && "$same_pids" == 1 ]] && echo 1)" "each role moved to a live node by itself, same processes (pids ${ROLE_PID[*]})"
check "$([[ -n "$depths" && -z "$(awk '$2 != 0' <<<"$depths")" ]] && echo 1)" "queues empty: $(tr '\n' ' ' <<<"$depths")"
check "$([[ "$running" == 3 ]] && echo 1)" "the cluster runs its three nodes again ($running)"
if [[ "$fail" == 0 ]]; then echo "VERDICT: PASS"; else
  echo "VERDICT: FAIL (KEEP_WORK=1 keeps $WORK)"
  exit 1
fi
