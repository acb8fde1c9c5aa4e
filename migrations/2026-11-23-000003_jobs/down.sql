ALTER TABLE accounts DROP COLUMN synced_at, DROP COLUMN unreachable_since;
DROP TABLE jobs;
