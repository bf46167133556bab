-- 0007: Idempotency-Key: the first answer to a (account, key), replayed
-- to every retry of the same request for 24 hours. A claim is 'running'
-- until its answer is recorded; one whose process died is taken over
-- once locked_until has passed.
CREATE TABLE idempotency (
    account_id   TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash BLOB NOT NULL,      -- SHA-256 of the method, path and body
    state        TEXT NOT NULL CHECK (state IN ('running', 'done')),
    status       INTEGER,            -- the answer (done): its HTTP status,
    content_type TEXT,               -- its content type,
    headers      TEXT,               -- the headers it replays ("Name: value\r\n" lines)
    body         BLOB,               -- and its body
    created_at   INTEGER NOT NULL,   -- unix milliseconds
    expires_at   INTEGER NOT NULL,   -- unix milliseconds: forgotten after
    locked_until INTEGER NOT NULL,   -- unix milliseconds: a running claim is abandoned after
    PRIMARY KEY (account_id, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_expiry ON idempotency (expires_at);
