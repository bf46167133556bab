-- bench/generate.lua's request at a fixed offered load: each connection
-- waits a random think time between requests, exponentially distributed
-- with mean IMAGEGATE_BENCH_DELAY_MS (default 20), so 64 connections offer
-- about 3,000 req/s to every server and no server is saturated.
-- A fixed pause would synchronise the connections: answers that leave
-- together come back together as requests, so the load arrives in bursts
-- and the figure measures how long a burst takes to clear, not the
-- latency a request sees under that load (independent clients arrive as a
-- Poisson stream, which exponential think times give).
dofile("bench/generate.lua")
local mean = tonumber(os.getenv("IMAGEGATE_BENCH_DELAY_MS") or "20")
function init(args)
    math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end
function delay()
    return math.floor(-mean * math.log(1 - math.random()) + 0.5)
end
