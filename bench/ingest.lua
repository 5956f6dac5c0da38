-- wrk script for bench/ingest.sh: cycles through pre-signed handover events.
--
-- The requests (body + X-Cognigy-Timestamp + X-Cognigy-Signature) are made by
-- bench/tools/events.py just before the run, so the timestamps are fresh; the file is named
-- by HD_BENCH_REQUESTS. Each wrk thread starts at a different offset. `done` prints one
-- machine-readable RESULT line that ingest.sh parses.
--
-- No response() callback on purpose: it would make wrk parse every answer in Lua and cost
-- the load generator CPU it shares with the server. wrk counts answers >= 400 itself
-- (errors.status), which is what "non-2xx" means here.

local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local reqs = {}
local n, i

function init(args)
  local list = dofile(os.getenv("HD_BENCH_REQUESTS"))
  for k, r in ipairs(list) do
    reqs[k] = wrk.format("POST", "/webhooks/cognigy/handover", {
      ["Content-Type"] = "application/json",
      ["X-Cognigy-Timestamp"] = r.ts,
      ["X-Cognigy-Signature"] = r.sig,
    }, r.body)
  end
  n = #reqs
  i = ((id or 0) * 97) % n
end

function request()
  i = i % n + 1
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%d connect_err=%d read_err=%d write_err=%d timeouts=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e.status, e.connect, e.read, e.write, e.timeout))
end
