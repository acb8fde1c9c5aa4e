-- A sync asked for while one of its kind and account runs: that run may have
-- read the provider before the change it is asked to see, so it runs again
-- once it is done (see db::jobs::enqueue_sync).
ALTER TABLE jobs ADD COLUMN rerun BOOLEAN NOT NULL DEFAULT false;
