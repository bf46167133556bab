-- POST /v1/images/generations with a pinned seed and a valid key
-- (IMAGEGATE_BENCH_KEY): after the first, every one is a cache hit (auth,
-- validation, limits, the cache, a record of its own, the answer).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("IMAGEGATE_BENCH_KEY") or "")
wrk.body = os.getenv("IMAGEGATE_BENCH_BODY") or
    '{"prompt":"a lighthouse at dusk","size":"256x256","seed":1234}'

function response(status, headers, body)
    if status ~= 200 then
        io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
    end
end
