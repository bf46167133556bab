-- POST /v1/images/generations with a valid key (IMAGEGATE_BENCH_KEY): the
-- whole pipeline through a network provider (auth, validation, dispatch,
-- upstream call, parse, blob store, history, response).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("IMAGEGATE_BENCH_KEY") or "")
wrk.body = '{"prompt":"a lighthouse at dusk","model":"dall-e-2","size":"256x256","response_format":"b64_json"}'
