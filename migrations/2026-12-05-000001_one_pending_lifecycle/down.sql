DROP INDEX jobs_one_pending_sync;
CREATE UNIQUE INDEX jobs_one_pending_sync ON jobs (account_id, kind)
    WHERE state IN ('QUEUED', 'RUNNING') AND kind LIKE 'sync_%';
