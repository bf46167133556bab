-- bench/generate.lua's request at a fixed pace: each connection waits
-- IMAGEGATE_BENCH_DELAY_MS (default 20) between requests, so every server
-- gets the same offered load (64 connections: about 3,000 req/s) and the
-- latency figures compare servers that are not saturated.
dofile("bench/generate.lua")
local pause = tonumber(os.getenv("IMAGEGATE_BENCH_DELAY_MS") or "20")
function delay()
    return pause
end
