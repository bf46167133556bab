-- 0005: what an operator sets per key and per account (tier, rate limits,
-- budgets), what budgets have spent, BYOK keys, and the audit trail.
--
-- NULL means "not set": a key's tier is then its account's, its rate
-- limits its tier's defaults (rate_limits.* in the config), and a budget
-- is absent. Amounts are millicredits.
ALTER TABLE api_keys ADD COLUMN tier TEXT;
ALTER TABLE api_keys ADD COLUMN requests_per_minute INTEGER;
ALTER TABLE api_keys ADD COLUMN images_per_minute INTEGER;
ALTER TABLE api_keys ADD COLUMN concurrent INTEGER;
ALTER TABLE api_keys ADD COLUMN budget_day INTEGER;
ALTER TABLE api_keys ADD COLUMN budget_month INTEGER;
ALTER TABLE accounts ADD COLUMN budget_day INTEGER;
ALTER TABLE accounts ADD COLUMN budget_month INTEGER;

-- What each budgeted subject ("key:ID", "account:ID") has spent in a
-- period ("2026-12-06", "2026-12"; UTC): open holds plus charges. A hold
-- adds its amount only while the sum stays within the budget (one
-- statement, so concurrent holds cannot pass it); its settlement moves
-- the sum by what was charged minus what was held.
CREATE TABLE budget_spend (
    subject TEXT NOT NULL,
    period  TEXT NOT NULL,
    spent   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (subject, period)
) WITHOUT ROWID;

-- The budgets a hold counted against ("subject|period|limit;…"), so its
-- settlement moves the same sums.
ALTER TABLE holds ADD COLUMN budgets TEXT;

-- One record each time a budget's spend crosses 50, 80 or 100 percent
-- in a period (once per threshold and period).
CREATE TABLE budget_alerts (
    account_id TEXT NOT NULL,
    subject    TEXT NOT NULL,
    period     TEXT NOT NULL,
    threshold  INTEGER NOT NULL,  -- percent
    spent      INTEGER NOT NULL,
    budget     INTEGER NOT NULL,
    created_at INTEGER NOT NULL,  -- unix milliseconds
    PRIMARY KEY (subject, period, threshold)
);
CREATE INDEX budget_alerts_by_account ON budget_alerts (account_id, created_at);

-- An account's own provider keys (bring your own key): AES-256-GCM under
-- a key derived from the instance secret; the nonce and tag beside the
-- ciphertext, the account and provider bound in as associated data.
CREATE TABLE byok_keys (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    provider   TEXT NOT NULL,
    sealed     BLOB NOT NULL,     -- nonce (12) || ciphertext || tag (16)
    last4      TEXT NOT NULL,
    created_at INTEGER NOT NULL,  -- unix seconds
    PRIMARY KEY (account_id, provider)
);

-- Admin actions and safety decisions, append-only.
CREATE TABLE audit (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at INTEGER NOT NULL,  -- unix milliseconds
    actor      TEXT,              -- the key that acted (NULL: the gateway)
    account_id TEXT,              -- whose it concerns
    action     TEXT NOT NULL,     -- "key.create", "moderation.block", …
    target     TEXT,
    detail     TEXT               -- JSON
);
CREATE INDEX audit_by_account ON audit (account_id, seq);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
