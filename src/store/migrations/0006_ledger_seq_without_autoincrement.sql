-- 0006: the ledger's seq is a plain INTEGER PRIMARY KEY. AUTOINCREMENT
-- only adds a write of sqlite_sequence to every entry (one more page per
-- transaction); the ledger is append-only (its triggers refuse DELETE),
-- so the largest seq is never freed and new entries still number after
-- every entry before them.
CREATE TABLE ledger_v6 (
    seq           INTEGER PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    kind          TEXT NOT NULL
                  CHECK (kind IN ('grant', 'hold', 'charge', 'release', 'refund', 'adjust')),
    amount        INTEGER NOT NULL,          -- millicredits, signed
    hold_id       TEXT,
    generation_id TEXT,
    reason        TEXT,
    created_at    INTEGER NOT NULL           -- unix milliseconds
);
INSERT INTO ledger_v6 (seq, account_id, kind, amount, hold_id, generation_id, reason, created_at)
    SELECT seq, account_id, kind, amount, hold_id, generation_id, reason, created_at FROM ledger;
DROP TABLE ledger;
ALTER TABLE ledger_v6 RENAME TO ledger;
CREATE INDEX ledger_by_account ON ledger (account_id, seq);
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
