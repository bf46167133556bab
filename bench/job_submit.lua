-- POST /v1/images/jobs with a valid key (IMAGEGATE_BENCH_KEY): a durable
-- job's submission (auth, validation, limits, reservation, the job and
-- its hold committed) answered 202; the instance runs no jobs
-- (jobs.runners: 0), so only submissions are measured.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("IMAGEGATE_BENCH_KEY") or "")
wrk.body = '{"prompt":"a lighthouse at dusk","model":"dall-e-2","size":"256x256"}'

function response(status, headers, body)
    if status ~= 202 then
        io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
    end
end
