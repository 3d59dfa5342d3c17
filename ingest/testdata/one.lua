-- wrk script: one event per POST /v1/emojis, cycling through 1,000 users and
-- the default emojis. Requests are built once per thread, in init.
--   wrk -t2 -c128 -d10s -s ingest/testdata/one.lua http://127.0.0.1:8080
local emojis = {"🔥", "👏", "😂", "😮", "😢", "😡", "❤️", "👍", "👎", "🎉", "⚽", "🏆"}
local reqs, n, i = {}, 1000, 0

function init(args)
  local headers = {["Content-Type"] = "application/json"}
  for k = 1, n do
    local body = string.format('{"user_id":"wrk-%d","match_id":"bench","emoji_type":"%s"}',
      math.random(1, 1000000), emojis[(k % #emojis) + 1])
    reqs[k] = wrk.format("POST", "/v1/emojis", headers, body)
  end
end

function request()
  i = i % n + 1
  return reqs[i]
end
