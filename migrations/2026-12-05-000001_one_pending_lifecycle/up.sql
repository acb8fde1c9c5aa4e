-- The image lifecycle job is queued each round like a sync, and like one it
-- needs to be queued or running once per account at a time: it was left
-- out of the index and piled up behind a slow queue. Of the pending ones,
-- a running one, else the oldest, stays.
DELETE FROM jobs j
 WHERE j.kind = 'image_lifecycle'
   AND j.state IN ('QUEUED', 'RUNNING')
   AND j.id <> (SELECT o.id FROM jobs o
                 WHERE o.account_id = j.account_id AND o.kind = j.kind AND o.state IN ('QUEUED', 'RUNNING')
                 ORDER BY o.state = 'RUNNING' DESC, o.id
                 LIMIT 1);
DROP INDEX jobs_one_pending_sync;
CREATE UNIQUE INDEX jobs_one_pending_sync ON jobs (account_id, kind)
    WHERE state IN ('QUEUED', 'RUNNING') AND (kind LIKE 'sync_%' OR kind = 'image_lifecycle');
