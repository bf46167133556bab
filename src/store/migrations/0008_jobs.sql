-- 0008: durable jobs (POST /v1/images/jobs). A job is committed with its
-- hold before its 202 is sent; a runner claims it with a lease
-- (lease_owner, lease_expires_ms) and renews the lease while it runs; a
-- job whose lease has passed is taken over by the next runner. The
-- upstream job (a provider's prediction id, as the URL that polls it) is
-- kept so a taken-over job follows it instead of paying for a new one.
-- It ends once: succeeded, failed or canceled, with its hold settled in
-- the same transaction.
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL,
    key_id           TEXT NOT NULL,
    status           TEXT NOT NULL
                     CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    request          TEXT NOT NULL,      -- the generation body as submitted
    base_url         TEXT NOT NULL,      -- where its image links point
    request_id       TEXT NOT NULL,      -- of the submission
    webhook_url      TEXT,
    hold_id          TEXT,               -- the credits set aside (NULL: nothing held)
    held             INTEGER NOT NULL DEFAULT 0,
    created_ms       INTEGER NOT NULL,
    started_ms       INTEGER,
    finished_ms      INTEGER,
    lease_owner      TEXT,               -- the runner that has it (running)
    lease_expires_ms INTEGER,
    attempts         INTEGER NOT NULL DEFAULT 0,
    upstream         TEXT,               -- {"deployment","poll_url"}: the provider's job
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    generation_id    TEXT,               -- its record in generations, once ended
    error            TEXT,               -- the OpenAI error object (failed, canceled)
    batch_id         TEXT
);
CREATE INDEX jobs_queued ON jobs (created_ms) WHERE status = 'queued';
CREATE INDEX jobs_leased ON jobs (lease_expires_ms) WHERE status = 'running';
CREATE INDEX jobs_by_account ON jobs (account_id, created_ms, id);
CREATE INDEX jobs_by_batch ON jobs (batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX jobs_by_hold ON jobs (hold_id) WHERE hold_id IS NOT NULL;
