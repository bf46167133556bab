-- 0013: a batch counts its queued and running jobs (triggers on jobs keep
-- the counts, whatever changes a job's status), so a claim looks only at
-- the batches with room and at the first queued jobs of each, instead of
-- numbering every queued job of every batch and counting each one's
-- running siblings (a claim went quadratic in a batch backlog: 2 s with
-- 1,000 batches of 100 queued, the write lock held throughout). Queued
-- jobs outside batches are indexed apart, so the claim does not step over
-- queued batch jobs to find them.
ALTER TABLE batches ADD COLUMN queued INTEGER NOT NULL DEFAULT 0;
ALTER TABLE batches ADD COLUMN running INTEGER NOT NULL DEFAULT 0;
UPDATE batches SET
    queued = (SELECT count(*) FROM jobs WHERE batch_id = batches.id AND status = 'queued'),
    running = (SELECT count(*) FROM jobs WHERE batch_id = batches.id AND status = 'running');
CREATE INDEX batches_with_room ON batches (created_ms)
    WHERE queued > 0 AND running < max_concurrency;
DROP INDEX jobs_queued;
CREATE INDEX jobs_queued ON jobs (created_ms) WHERE status = 'queued' AND batch_id IS NULL;
CREATE INDEX jobs_queued_in_batch ON jobs (batch_id, batch_index)
    WHERE status = 'queued' AND batch_id IS NOT NULL;
CREATE TRIGGER jobs_batch_insert AFTER INSERT ON jobs WHEN new.batch_id IS NOT NULL
BEGIN
    UPDATE batches SET queued = queued + (new.status = 'queued'),
                       running = running + (new.status = 'running')
    WHERE id = new.batch_id;
END;
CREATE TRIGGER jobs_batch_status AFTER UPDATE OF status ON jobs
WHEN new.batch_id IS NOT NULL AND old.status <> new.status
BEGIN
    UPDATE batches SET queued = queued + (new.status = 'queued') - (old.status = 'queued'),
                       running = running + (new.status = 'running') - (old.status = 'running')
    WHERE id = new.batch_id;
END;
CREATE TRIGGER jobs_batch_delete AFTER DELETE ON jobs WHEN old.batch_id IS NOT NULL
BEGIN
    UPDATE batches SET queued = queued - (old.status = 'queued'),
                       running = running - (old.status = 'running')
    WHERE id = old.batch_id;
END;
