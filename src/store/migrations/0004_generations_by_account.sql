-- 0004: an account's history, newest first (GET /v1/generations): ids are
-- time-ordered, so (account_id, id) walks it in order and a cursor is an id.
CREATE INDEX generations_by_account ON generations (account_id, id);
