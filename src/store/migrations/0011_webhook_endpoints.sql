-- 0011: an account's webhook endpoint, for the events that are the
-- account's rather than a job's (budget.threshold): a delivery is written
-- in the transaction that records the alert, when the account has one.
CREATE TABLE webhook_endpoints (
    account_id TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;
