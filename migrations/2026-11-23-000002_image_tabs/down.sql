DROP INDEX image_records_by_name;
DROP INDEX image_records_by_created;
ALTER TABLE image_records DROP COLUMN shared;
CREATE INDEX image_records_by_name ON image_records (account_id, lower(name), id);
CREATE INDEX image_records_by_created ON image_records (account_id, created_at, id);
