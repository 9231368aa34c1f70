-- wrk script of the amlcore benchmark: POSTs a fixed JSON body (with the service key when given) and prints one
-- machine-readable line with the figures the benchmark reports.
--   BENCH_BODY_FILE  file whose content is the request body
--   BENCH_KEY        sent as "Authorization: Bearer <key>" when set
--   BENCH_CLOSE      when "1", every request asks for "Connection: close" (a new connection, and with https a
--                    new TLS handshake, per request)

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

wrk.method = "POST"
wrk.body = read_file(os.getenv("BENCH_BODY_FILE"))
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_KEY")
if key and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end

if os.getenv("BENCH_CLOSE") == "1" then
  wrk.headers["Connection"] = "close"
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d mean_us=%.1f max_us=%d " ..
    "connect_errors=%d read_errors=%d write_errors=%d timeouts=%d non_2xx_3xx=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.mean,
    latency.max, e.connect, e.read, e.write, e.timeout, e.status))
end
