-- SPDX-License-Identifier: Apache-2.0
-- wrk script: like post.lua (the same 1.5 KB conversation), but every
-- request ends with a different last user message (10-40 words drawn at
-- random, so a different Content-Length too) and carries a fresh W3C
-- traceparent, as traffic from one application does.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "bench-key")

local words = {}
for w in ("shipment pallet customs delay invoice Rotterdam Hamburg refrigerated temperature " ..
  "manifest carrier route warehouse driver schedule Monday Tuesday morning evening late early " ..
  "summarise explain list compare why how what when which figures totals cost budget risk " ..
  "the a of to and in for on with by from at is was were are be been"):gmatch("%S+") do
  words[#words + 1] = w
end
local f = assert(io.open(os.getenv("BENCH_BODY") or "bench/chat-1500.json", "rb"))
local body = f:read("*a")
f:close()
-- head: everything up to the last message's text; tail: what follows it.
local last = 0
for i in body:gmatch('()"content": "') do last = i end
local head = body:sub(1, last + #'"content": "' - 1)
local tail = body:sub((body:find('"}]', last, true)))

math.randomseed(os.time())

local function hex(n)
  local t = {}
  for i = 1, n / 4 do t[i] = string.format("%04x", math.random(0, 65535)) end
  return table.concat(t)
end

function request()
  local n = math.random(10, 40)
  local msg = {}
  for i = 1, n do msg[i] = words[math.random(#words)] end
  wrk.headers["traceparent"] = "00-" .. hex(32) .. "-" .. hex(16) .. "-01"
  return wrk.format(nil, nil, nil, head .. table.concat(msg, " ") .. tail)
end
