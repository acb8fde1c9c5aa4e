-- What a job produced at the provider (e.g. the instance a launch started).
ALTER TABLE jobs ADD COLUMN result JSONB;
