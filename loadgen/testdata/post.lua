-- wrk script: POST one emoji event per request, like
-- "emostream loadgen --batch 1". Used to check whether loadgen itself is the
-- bottleneck when measuring the ceiling:
--   wrk -t2 -c64 -d10s -s loadgen/testdata/post.lua http://127.0.0.1:PORT/v1/emojis
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"user_id":"u-42","match_id":"match-0","emoji_type":"🔥"}'
