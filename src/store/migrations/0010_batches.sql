-- 0010: batches (POST /v1/images/batch): a group of jobs, at most
-- max_concurrency of them running at once; requests that were refused
-- when the batch was submitted are kept in it (rejected: a JSON array of
-- {index, error}), since they never became jobs.
CREATE TABLE batches (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL,
    max_concurrency INTEGER NOT NULL,
    total           INTEGER NOT NULL,
    rejected        TEXT NOT NULL DEFAULT '[]',
    created_ms      INTEGER NOT NULL
);
ALTER TABLE jobs ADD COLUMN batch_index INTEGER;
