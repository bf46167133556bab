-- 0009: webhooks. A delivery is written in the transaction of the event
-- it tells of (a job's end), so none is lost; a deliverer claims due
-- ones with a lease, as runners claim jobs, and records each attempt.
-- An account's signing secret is derived from the instance secret and its
-- version (nothing secret is stored); a rotation keeps the previous
-- version valid until previous_until_ms, and deliveries meanwhile carry
-- both signatures. An endpoint that answered 410 is disabled.
CREATE TABLE webhook_secrets (
    account_id        TEXT PRIMARY KEY,
    version           INTEGER NOT NULL,
    previous_until_ms INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,   -- msg_…: the webhook-id header, the same on every attempt
    account_id       TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    url              TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'disabled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms  INTEGER NOT NULL,
    last_status      INTEGER,            -- the endpoint's last HTTP status (NULL: no answer)
    last_error       TEXT,
    created_ms       INTEGER NOT NULL,
    finished_ms      INTEGER,
    lease_owner      TEXT,
    lease_expires_ms INTEGER,
    job_id           TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_ms) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_account ON webhook_deliveries (account_id, id);
CREATE TABLE webhook_endpoints_disabled (
    account_id  TEXT NOT NULL,
    url         TEXT NOT NULL,
    disabled_ms INTEGER NOT NULL,
    PRIMARY KEY (account_id, url)
) WITHOUT ROWID;
