#!/usr/bin/env bash
# Ingest benchmark (issue 5): the full receiver against the minimal actix-web + lapin
# receiver, same broker, same run, same load.
#
#   bench/ingest.sh                      # from a fresh clone; needs root for apt-get/RabbitMQ
#
# What it does: installs wrk if missing, makes sure RabbitMQ answers (starts it if not),
# builds the release binaries, starts both receivers on free loopback ports (each with its
# own queue prefix in a vhost of its own that is deleted afterwards), then, for each round,
# purges the queues and drives ~1.5 KB signed events at a fixed concurrency through the two
# receivers with wrk, in short slices that alternate between them. Prints requests/s, p50,
# p99, non-2xx, the receiver's and the broker's CPU time per request, the full/minimal
# ratio and a PASS/FAIL line against the goal.
#
# Knobs (environment):
#   WRK_THREADS=2 WRK_CONNECTIONS=64 WRK_DURATION=15s   the load (wrk -t -c -d): each
#                      receiver gets WRK_DURATION of load per round (whole seconds)
#   SLICES=5           ... cut into this many wrk runs, alternating with the other
#                      receiver's in ABBA order (SLICES=1: one run per receiver and round)
#   WARMUP=3s          an unmeasured run per receiver first (JIT-free, but warms the broker)
#   ROUNDS=7           measured rounds; odd rounds open with minimal, even ones with full
#   GOAL_RATIO=0.90    the verdict: all the requests the full receiver answered over the
#                      rounds, divided by all the minimal one answered in the same
#                      (interleaved) time, >= GOAL_RATIO (bench/README.md says why this
#                      figure and not the median of the rounds)
#   RECEIVERS="minimal full"   measure only some ("minimal" alone gives no verdict)
#   MINIMAL_ARGS=""    extra flags for the minimal receiver (e.g. "--channels 4", "--parse")
#   MINIMAL_HMAC=1     the minimal receiver checks the Cognigy HMAC too
#   FULL_ENV=""        extra VAR=value pairs for the full receiver
#   SKIP_BUILD=1       use the binaries already in target/release
#   PROFILE=release    (debug only for trying the script out: the figures mean nothing then)
#   KEEP_WORK=1        keep the temp dir (requests, logs)
#   PERF=1             profile each receiver (perf record) during its first slice of
#                      round 1; prints the top symbols by self time (where the time goes)
#   AA=1               calibration: a second minimal receiver takes the full receiver's
#                      place, so the verdict measures the benchmark's own noise (A/A)
#   SCHED=batch        run both receivers under SCHED_BATCH (chrt -b 0), to see what the
#                      policy gives (both always run under the same one)
# Exit: 0 on PASS (or no verdict asked), 1 on FAIL or error.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WRK_THREADS="${WRK_THREADS:-2}"
WRK_CONNECTIONS="${WRK_CONNECTIONS:-64}"
WRK_DURATION="${WRK_DURATION:-15s}"
WARMUP="${WARMUP:-3s}"
ROUNDS="${ROUNDS:-7}"
GOAL_RATIO="${GOAL_RATIO:-0.90}"
RECEIVERS="${RECEIVERS:-minimal full}"
REQUESTS="${REQUESTS:-256}"
BODY_SIZE="${BODY_SIZE:-1500}"

ensure_python
ensure_wrk
ensure_rabbitmq
build_release minimal
make_vhost

SECRET="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
declare -A PORT PID

want() { [[ " $RECEIVERS " == *" $1 "* ]]; }

# Run from the work dir so a developer's .env is not picked up by the full receiver.
cd "$WORK"

# The command prefix that runs a receiver under SCHED=batch; empty otherwise. Both
# receivers always run under the same policy, so the comparison is on equal terms.
sched_prefix() {
  [[ "${SCHED:-}" == batch ]] || return 0
  command -v chrt >/dev/null || die "SCHED=batch needs chrt (util-linux)"
  echo "chrt -b 0"
}

# Starts the minimal receiver (examples/minimal_receiver.rs) in slot NAME, with its own
# queue, and waits until it answers.
start_minimal() {
  local name="$1"
  PORT[$name]="$(free_port)"
  # shellcheck disable=SC2086
  start_bg "$name" "$WORK/$name.log" env \
    AMQP_URL="$AMQP_URL_BENCH" QUEUE_PREFIX="bench-$RUN_ID-$name" \
    LISTEN_ADDR="127.0.0.1:${PORT[$name]}" RUST_LOG=warn \
    ${MINIMAL_HMAC:+MINIMAL_HMAC_SECRET="$SECRET"} \
    $(sched_prefix) "$MINIMAL_BIN" ${MINIMAL_ARGS:-}
  PID[$name]=$LAST_PID
  wait_http "http://127.0.0.1:${PORT[$name]}/readyz" "${PID[$name]}" 60 || {
    tail -20 "$WORK/$name.log" >&2
    die "the minimal receiver ($name) did not become ready"
  }
}

if want minimal; then
  start_minimal minimal
fi

if want full && [[ "${AA:-0}" == 1 ]]; then
  # A/A calibration: the same minimal receiver, a second instance with its own queue, in
  # the full receiver's slot. Any distance of the verdict from 1.0 is the method's noise.
  log "AA=1: a second minimal receiver takes the full receiver's place (calibration)"
  start_minimal full
elif want full; then
  if ! "$BIN" serve --help 2>/dev/null | grep -q receiver; then
    want minimal && log "measuring the minimal receiver only"
    FULL_MISSING=1
  else
    PORT[full]="$(free_port)"
    # shellcheck disable=SC2086
    start_bg full "$WORK/full.log" env \
      AMQP_URL="$AMQP_URL_BENCH" QUEUE_PREFIX="bench-$RUN_ID-full" \
      WEBHOOK_SIGNING_SECRETS="$SECRET" LISTEN_ADDR="127.0.0.1:${PORT[full]}" \
      RUST_LOG=warn LOG_FORMAT=json ${FULL_ENV:-} \
      $(sched_prefix) "$BIN" serve --role receiver
    PID[full]=$LAST_PID
    wait_http "http://127.0.0.1:${PORT[full]}/readyz" "${PID[full]}" 60 || {
      tail -20 "$WORK/full.log" >&2
      die "full receiver did not become ready (GET /readyz)"
    }
  fi
fi

ORDER=()
for r in minimal full; do
  want "$r" && [[ -n "${PID[$r]:-}" ]] && ORDER+=("$r")
done
[[ ${#ORDER[@]} -gt 0 ]] || die "no receiver to measure"

# Requests for one receiver in one round: fresh timestamps, ids unique to the round.
make_requests() {
  local name="$1" round="$2"
  "$PY" "$TOOLS/events.py" wrk-lua --count "$REQUESTS" --size "$BODY_SIZE" \
    --secret "$SECRET" --run-id "$RUN_ID-$name-$round" --out "$WORK/requests-$name-$round.lua"
}

# One wrk run against one receiver; prints wrk's RESULT line plus the receiver's and the
# broker's CPU seconds over the run.
drive() {
  local name="$1" duration="$2" round="$3" profile="${4:-0}"
  local cpu0 cpu1 bcpu0=0 bcpu1=0 out perf_pid="" bpid
  bpid="$(broker_pid)"
  if [[ "$profile" == 1 ]]; then
    # A CPU profile of the receiver (call graphs from frame pointers are poor in release
    # builds; flat self-time is what we read).
    perf record -q -F 499 -p "${PID[$name]}" -o "$WORK/perf-$name.data" -- sleep "${duration%s}" \
      >/dev/null 2>&1 &
    perf_pid=$!
  fi
  cpu0="$(cpu_secs "${PID[$name]}")"
  [[ -n "$bpid" ]] && bcpu0="$(cpu_secs "$bpid")"
  out="$(HD_BENCH_REQUESTS="$WORK/requests-$name-$round.lua" wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" \
    -d"$duration" --timeout 10s -s "$BENCH_DIR/ingest.lua" "http://127.0.0.1:${PORT[$name]}" 2>&1)" || {
    echo "$out" >&2
    die "wrk failed against $name"
  }
  cpu1="$(cpu_secs "${PID[$name]}")"
  [[ -n "$bpid" ]] && bcpu1="$(cpu_secs "$bpid")"
  if [[ -n "$perf_pid" ]]; then
    wait "$perf_pid" 2>/dev/null
    perf report -i "$WORK/perf-$name.data" --no-children --stdio --sort dso,symbol \
      --percent-limit 0.7 2>/dev/null | grep -v '^#' | grep -v '^$' >"$WORK/perf-$name.txt"
  fi
  local line
  line="$(grep '^RESULT ' <<<"$out")" || {
    echo "$out" >&2
    die "no RESULT line from wrk"
  }
  local broker_s="?"
  [[ -n "$bpid" ]] && broker_s="$(awk -v a="$bcpu0" -v b="$bcpu1" 'BEGIN { printf "%.3f", b - a }')"
  echo "$line cpu_s=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.3f", b - a }') broker_s=$broker_s"
}

# What the broker holds for a receiver now (its queue was purged before the round): proves
# the 202s were stored; it can exceed the 2xx count by the requests wrk abandoned at the
# end of each slice. A quorum queue's message count is refreshed on the broker's statistics
# tick (5 s): trust it only once two reads more than a tick apart agree.
queued_for() {
  local name="$1" queued="" prev=""
  for _ in $(seq 1 6); do
    queued="$(queue_depths | awk -v q="bench-$RUN_ID-$name.jobs" '$1 == q { print $2 }')"
    [[ -n "$queued" && "$queued" == "$prev" ]] && break
    prev="$queued"
    sleep 6
  done
  echo "${queued:-?}"
}

field() { sed -E "s/.* $1=([^ ]+).*/\1/" <<<"$2"; }

# awk helpers for the result lines: get("key") reads key=value from the current line as a
# number; median(a, n) sorts a[1..n] in place and returns its median.
AWK_FNS='
  function get(k,   s) { s = $0; sub(".* " k "=", "", s); sub(/ .*/, "", s); return s + 0 }
  function median(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
'

# Each receiver's WRK_DURATION per round is cut into SLICES wrk runs, and the two
# receivers' slices alternate in ABBA order (A B B A A B ...). The broker's speed moves in
# steps of a few seconds (its write-ahead log rolls over every ~500 MB), and a step that
# falls into one receiver's whole 15 s run decided the round; cut finely and interleaved,
# both receivers share each step. SLICES=1 is the old design: one run per receiver.
SLICES="${SLICES:-5}"
DUR_S="${WRK_DURATION%s}"
[[ "$DUR_S" =~ ^[0-9]+$ ]] || die "WRK_DURATION must be whole seconds (e.g. 15s), got $WRK_DURATION"
SLICE_S=$(((DUR_S + SLICES / 2) / SLICES))
((SLICE_S >= 1)) || SLICE_S=1

log "load: wrk -t$WRK_THREADS -c$WRK_CONNECTIONS, $SLICES slice(s) of ${SLICE_S}s per receiver and round, $REQUESTS distinct ~${BODY_SIZE}-byte signed events, $ROUNDS round(s)"
for name in "${ORDER[@]}"; do
  purge_vhost_queues
  wait_broker_quiet 20 >/dev/null
  log "warm-up $name ($WARMUP)"
  make_requests "$name" warmup
  drive "$name" "$WARMUP" warmup >/dev/null
done

declare -A BEST
RESULTS="$WORK/results.txt"
SLICE_LOG="$WORK/slices.txt"
: >"$RESULTS"
: >"$SLICE_LOG"
for ((round = 1; round <= ROUNDS; round++)); do
  # ABBA across rounds too: the receiver that opens one round opens the next one second.
  names=("${ORDER[@]}")
  if ((round % 2 == 0)); then
    names=()
    for ((k = ${#ORDER[@]} - 1; k >= 0; k--)); do names+=("${ORDER[$k]}"); done
  fi
  purge_vhost_queues
  quiet="$(wait_broker_quiet 20)"
  for name in "${names[@]}"; do make_requests "$name" "$round"; done
  log "round $round: ${names[*]} in $SLICES slice(s) of ${SLICE_S}s each, ABBA (broker quiet after ${quiet} s)"
  declare -A PROFILED=()
  total=$((SLICES * ${#names[@]}))
  for ((k = 0; k < total; k++)); do
    # A B B A A B B A ...: slot k goes to names[((k + 1) / 2) % 2] (one receiver: always it).
    name="${names[$((((k + 1) / 2) % ${#names[@]}))]}"
    profile=0
    if [[ "${PERF:-0}" == 1 && "$round" == 1 && -z "${PROFILED[$name]:-}" ]]; then
      profile=1
      PROFILED[$name]=1
    fi
    res="$(drive "$name" "${SLICE_S}s" "$round" "$profile")"
    echo "$name $round $k $res" >>"$SLICE_LOG"
  done
  # The round's figures per receiver: requests and CPU summed over its slices, requests/s
  # over their total duration, p50/p90 the median of the slices', p99 the worst slice's.
  for name in "${names[@]}"; do
    q="$(queued_for "$name")"
    res="$(awk -v n="$name" -v r="$round" -v rss="$(rss_mb "${PID[$name]}")" -v q="$q" "$AWK_FNS"'
      $1 == n && $2 == r {
        m++; req += get("requests"); dur += get("duration_us"); cpu += get("cpu_s"); b += get("broker_s")
        if ($0 ~ / broker_s=\?/) nob = 1
        p50[m] = get("p50_ms"); p90[m] = get("p90_ms"); if (get("p99_ms") > p99) p99 = get("p99_ms")
        non += get("non2xx"); ce += get("connect_err"); re += get("read_err"); we += get("write_err"); to += get("timeouts")
        srps = srps sprintf("%s%.0f", (m > 1 ? "," : ""), get("rps"))
      }
      END {
        printf "RESULT requests=%d duration_us=%d rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f non2xx=%d connect_err=%d read_err=%d write_err=%d timeouts=%d cpu_ms_per_1k=%.1f broker_us=%s rss_mb=%s queued=%s slices_rps=%s\n",
          req, dur, (dur > 0 ? req / (dur / 1e6) : 0), median(p50, m), median(p90, m), p99, non, ce, re, we, to,
          (req > 0 ? cpu * 1e6 / req : 0), (nob ? "?" : sprintf("%.1f", req > 0 ? b * 1e6 / req : 0)), rss, q, srps
      }' "$SLICE_LOG")"
    echo "$name $round $res" >>"$RESULTS"
    rps="$(field rps "$res")"
    if [[ -z "${BEST[$name]:-}" ]] || awk -v a="$rps" -v b="$(field rps "${BEST[$name]}")" 'BEGIN { exit !(a > b) }'; then
      BEST[$name]="$res"
    fi
  done
done

echo
echo "Ingest benchmark: wrk -t$WRK_THREADS -c$WRK_CONNECTIONS, ${WRK_DURATION} per receiver and round in $SLICES slice(s) of ${SLICE_S}s (ABBA), ~${BODY_SIZE} B signed events, RabbitMQ $(rabbitmqctl -q version 2>/dev/null || echo '?') quorum queue, $(nproc) cores"
printf '%-8s %5s %10s %8s %8s %8s %8s %10s %13s %10s %7s %9s %9s\n' receiver round 'req/s' 'p50 ms' 'p90 ms' 'p99 ms' non-2xx sock-errs 'cpu ms/1k req' 'broker us' 'rss MB' requests queued
while read -r name round res; do
  se=$(($(field connect_err "x $res") + $(field read_err "x $res") + $(field write_err "x $res") + $(field timeouts "x $res")))
  printf '%-8s %5s %10.0f %8.2f %8.2f %8.2f %8d %10d %13s %10s %7s %9s %9s\n' "$name" "$round" \
    "$(field rps "x $res")" "$(field p50_ms "x $res")" "$(field p90_ms "x $res")" "$(field p99_ms "x $res")" \
    "$(field non2xx "x $res")" "$se" "$(field cpu_ms_per_1k "x $res")" "$(field broker_us "x $res")" "$(field rss_mb "x $res")" \
    "$(field requests "x $res")" "$(field queued "x $res")"
done <"$RESULTS"
echo

if [[ "${PERF:-0}" == 1 ]]; then
  for name in "${ORDER[@]}"; do
    echo "perf: $name, top symbols by self time (round 1)"
    head -30 "$WORK/perf-$name.txt" 2>/dev/null |
      sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//; s/[[:space:]]+/ /g; s/^/  /'
    echo
  done
fi

if [[ -n "${FULL_MISSING:-}" ]]; then
  echo "VERDICT: FAIL - the full receiver (handover-doctor serve --role receiver) is not on this branch yet"
  exit 1
fi
if [[ -z "${BEST[full]:-}" || -z "${BEST[minimal]:-}" ]]; then
  echo "VERDICT: not evaluated (RECEIVERS=\"$RECEIVERS\")"
  exit 0
fi

full_rps="$(field rps "x ${BEST[full]}")"
min_rps="$(field rps "x ${BEST[minimal]}")"
best_ratio="$(awk -v f="$full_rps" -v m="$min_rps" 'BEGIN { printf "%.3f", f / m }')"
# The verdict's figure: each receiver's requests over all its slices divided by their total
# duration, full over minimal. Also, per round, full/minimal of the round and the median of
# those, and the ratio of each receiver's median requests/s.
read -r median_ratio medians_ratio totals_ratio pairs <<<"$(awk "$AWK_FNS"'
  { rps[$1, $2] = get("rps"); req[$1] += get("requests"); dur[$1] += get("duration_us"); if ($2 > rounds) rounds = $2 }
  END {
    n = 0; nf = 0; nm = 0; list = ""
    for (i = 1; i <= rounds; i++) {
      if ((("full", i) in rps) && (("minimal", i) in rps)) {
        q[++n] = rps["full", i] / rps["minimal", i]; list = list sprintf("%s%.3f", (n > 1 ? "," : ""), q[n])
      }
      if (("full", i) in rps) f[++nf] = rps["full", i]
      if (("minimal", i) in rps) m[++nm] = rps["minimal", i]
    }
    printf "%.3f %.3f %.3f %s\n", median(q, n), median(f, nf) / median(m, nm), (req["full"] / dur["full"]) / (req["minimal"] / dur["minimal"]), list
  }' "$RESULTS")"
non2xx=0
while read -r name round res; do
  non2xx=$((non2xx + $(field non2xx "x $res")))
done <"$RESULTS"
echo "per round full/minimal: $pairs"
echo "ratio of all requests = $totals_ratio (goal >= $GOAL_RATIO); median of the per-round ratios = $median_ratio; ratio of the median req/s = $medians_ratio; best rounds: full $full_rps, minimal $min_rps req/s -> $best_ratio"
[[ "${AA:-0}" == 1 ]] && echo "(AA=1: both receivers are the minimal one; this verdict is the method's noise, not the service's)"
if [[ "$non2xx" -ne 0 ]]; then
  echo "VERDICT: FAIL - $non2xx non-2xx answers (see $WORK when KEEP_WORK=1)"
  exit 1
fi
if awk -v r="$totals_ratio" -v g="$GOAL_RATIO" 'BEGIN { exit !(r >= g) }'; then
  echo "VERDICT: PASS - the full receiver is within $(awk -v g="$GOAL_RATIO" 'BEGIN { printf "%d", (1 - g) * 100 + 0.5 }')% of the minimal one ($totals_ratio over $ROUNDS rounds)"
else
  echo "VERDICT: FAIL - the full receiver is below $GOAL_RATIO x the minimal one ($totals_ratio over $ROUNDS rounds)"
  exit 1
fi
