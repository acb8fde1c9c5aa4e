DROP INDEX jobs_pending_by_image;
