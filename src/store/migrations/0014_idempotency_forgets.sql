-- 0014: an Idempotency-Key's answer is forgotten once its 24 hours have
-- passed, in rows as well as in meaning: each new claim deletes up to two
-- expired ones (the oldest first, through idempotency_expiry) in its own
-- statement, so the table holds about a day of claims however long the
-- gateway runs, with no sweeper to schedule and nothing extra to commit.
CREATE TRIGGER idempotency_forgets AFTER INSERT ON idempotency
BEGIN
    DELETE FROM idempotency WHERE (account_id, key) IN
        (SELECT account_id, key FROM idempotency WHERE expires_at <= new.created_at
         ORDER BY expires_at LIMIT 2);
END;
