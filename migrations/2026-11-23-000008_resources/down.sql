DROP INDEX servers_by_key_pair;
ALTER TABLE key_pairs DROP COLUMN last_error, DROP COLUMN state;
DROP INDEX firewalls_by_name;
DELETE FROM firewalls WHERE provider_id IS NULL;
ALTER TABLE firewalls DROP CONSTRAINT firewalls_known_at_provider, DROP COLUMN last_error, DROP COLUMN state;
ALTER TABLE firewalls ALTER COLUMN provider_id SET NOT NULL;
