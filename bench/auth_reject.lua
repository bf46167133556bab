-- POST /v1/images/generations with a key that does not exist: the
-- auth-rejection path (hash, key-cache lookup, 401 in the OpenAI shape).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer ig_NotARealKeyNotARealKeyNotARealKeyNotARealK"
wrk.body = '{"prompt":"a lighthouse at dusk","size":"1024x1024"}'
