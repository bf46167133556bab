-- 0003: accounts (tenants) own keys; credits move only through the ledger.
--
-- Amounts are integers in millicredits (1 credit = 1000). The ledger is
-- append-only (triggers refuse UPDATE and DELETE); an account's balance is
-- kept beside it, changed in the same transaction as every entry, and
-- always equals the sum of its entries. A hold takes credits before a
-- generation is dispatched; its settlement releases it and charges what
-- was delivered, in the transaction that records the generation.
CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    tier        TEXT NOT NULL,
    balance     INTEGER NOT NULL DEFAULT 0,  -- millicredits; = SUM(ledger.amount)
    metered     INTEGER NOT NULL DEFAULT 1,  -- 0: the operator's own, charged but never refused
    created_at  INTEGER NOT NULL             -- unix seconds
);

CREATE TABLE ledger (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    kind          TEXT NOT NULL
                  CHECK (kind IN ('grant', 'hold', 'charge', 'release', 'refund', 'adjust')),
    amount        INTEGER NOT NULL,          -- millicredits, signed
    hold_id       TEXT,
    generation_id TEXT,
    reason        TEXT,
    created_at    INTEGER NOT NULL           -- unix milliseconds
);
CREATE INDEX ledger_by_account ON ledger (account_id, seq);
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;

CREATE TABLE holds (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    generation_id TEXT,
    amount        INTEGER NOT NULL,          -- millicredits held
    created_at    INTEGER NOT NULL,          -- unix milliseconds
    settled_at    INTEGER                    -- NULL while open
);
CREATE INDEX holds_open ON holds (created_at) WHERE settled_at IS NULL;

-- Keys made before accounts belong to the operator's own account.
INSERT INTO accounts (id, name, tier, metered, created_at)
    SELECT 'acct_operator', 'operator', 'operator', 0, CAST(strftime('%s', 'now') AS INTEGER);
ALTER TABLE api_keys ADD COLUMN account_id TEXT REFERENCES accounts (id);
UPDATE api_keys SET account_id = 'acct_operator';

ALTER TABLE generations ADD COLUMN account_id TEXT;
ALTER TABLE generations ADD COLUMN cost INTEGER NOT NULL DEFAULT 0;  -- millicredits charged
