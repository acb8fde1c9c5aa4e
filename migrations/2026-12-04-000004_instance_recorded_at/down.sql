ALTER TABLE servers DROP COLUMN instance_recorded_at;
