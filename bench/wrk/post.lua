-- POST the JSON body in $BENCH_BODY_FILE to the URL given to wrk, and print one
-- machine-readable summary line ("BENCH_JSON {...}") when the run ends.
-- Latencies are wrk's, in microseconds; the harness turns them into milliseconds.

local path = os.getenv("BENCH_BODY_FILE")
local handle = assert(io.open(path, "rb"), "BENCH_BODY_FILE must name a readable file")
wrk.method = "POST"
wrk.body = handle:read("*a")
handle:close()
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
    '"status_errors": %d, "timeouts": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
