-- SPDX-License-Identifier: Apache-2.0
-- wrk script: POST the benchmark chat body with the bench key.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "bench-key")
local f = assert(io.open(os.getenv("BENCH_BODY") or "bench/chat-1500.json", "rb"))
wrk.body = f:read("*a")
f:close()
