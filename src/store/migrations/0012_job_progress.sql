-- 0012: what the provider says of a running job (its queue position, its
-- percent), as JSON, for GET /v1/images/jobs/{id} and its event stream.
ALTER TABLE jobs ADD COLUMN progress TEXT;
