-- A job that changes an image at the provider waits while an earlier change
-- to the same image is pending (see db::jobs::claim); this finds the
-- earlier ones among the few pending rows.
CREATE INDEX jobs_pending_by_image ON jobs (account_id, (payload->>'image_id'), id)
    WHERE state IN ('QUEUED', 'RUNNING');
