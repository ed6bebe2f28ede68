-- wrk script: optional method/body from the environment, and a JSON summary line at the end.
local method = os.getenv("BENCH_METHOD")
local body = os.getenv("BENCH_BODY")
local accept_encoding = os.getenv("BENCH_ACCEPT_ENCODING")
if method then wrk.method = method end
if accept_encoding and accept_encoding ~= "" then
  wrk.headers["Accept-Encoding"] = accept_encoding
end
if body then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

-- BENCH_VARY names a word of the body made new for every request (one thread: its counter
-- is the thread's own), so that no two requests are the same operation.
local vary = os.getenv("BENCH_VARY")
if body and vary and vary ~= "" then
  local counter = 0
  request = function()
    counter = counter + 1
    return wrk.format(nil, nil, nil, (string.gsub(body, vary, vary .. counter)))
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"socket_errors":%d,' ..
    '"non_2xx":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
