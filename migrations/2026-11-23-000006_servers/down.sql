DROP INDEX image_records_deprecated_own;
ALTER TABLE accounts DROP COLUMN capabilities;
DROP TABLE servers;
