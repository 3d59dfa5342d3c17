-- wrk script: arrays of 100 events per POST /v1/emojis (distinct users),
-- built once per thread, in init. Events/s = requests/s × 100.
--   wrk -t2 -c64 -d10s -s ingest/testdata/batch100.lua http://127.0.0.1:8080
local emojis = {"🔥", "👏", "😂", "😮", "😢", "😡", "❤️", "👍", "👎", "🎉", "⚽", "🏆"}
local reqs, n, i = {}, 100, 0

function init(args)
  local headers = {["Content-Type"] = "application/json"}
  for k = 1, n do
    local evs = {}
    for e = 1, 100 do
      evs[e] = string.format('{"user_id":"wrk-%d","match_id":"bench","emoji_type":"%s"}',
        math.random(1, 1000000), emojis[((k + e) % #emojis) + 1])
    end
    reqs[k] = wrk.format("POST", "/v1/emojis", headers, "[" .. table.concat(evs, ",") .. "]")
  end
end

function request()
  i = i % n + 1
  return reqs[i]
end

function done(summary, latency, requests)
  io.write(string.format("events/s: %.0f\n", summary.requests / (summary.duration / 1e6) * 100))
end
