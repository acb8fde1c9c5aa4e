-- The "Shared with me" tab must not walk the account's own images to find
-- its few rows: index the tab itself. `shared` is derived from `source`.
ALTER TABLE image_records ADD COLUMN shared BOOLEAN GENERATED ALWAYS AS (source = 'shared') STORED;
DROP INDEX image_records_by_name;
DROP INDEX image_records_by_created;
CREATE INDEX image_records_by_name ON image_records (account_id, shared, lower(name), id);
CREATE INDEX image_records_by_created ON image_records (account_id, shared, created_at, id);
