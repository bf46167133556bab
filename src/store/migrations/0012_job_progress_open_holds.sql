-- 0012: what the provider says of a running job (its queue position, its
-- percent), as JSON, for GET /v1/images/jobs/{id} and its event stream;
-- and an index of each account's open holds, which jobs keep for as long
-- as they wait (an account's open total is read by GET /v1/credits and
-- on a balance-cache miss).
ALTER TABLE jobs ADD COLUMN progress TEXT;
CREATE INDEX holds_open_by_account ON holds (account_id) WHERE settled_at IS NULL;
