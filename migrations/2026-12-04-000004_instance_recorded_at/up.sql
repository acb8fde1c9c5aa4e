-- When the provider's id of a server's instance was recorded (RunInstances
-- answered). EC2's DescribeInstances is eventually consistent: an instance
-- just launched may be missing from its answers for a while, so the servers
-- sync takes a server the provider does not report as terminated only once
-- its instance is older than that window (`jobs::servers::sync`). Rows
-- launched before this column take their launch time.
ALTER TABLE servers ADD COLUMN instance_recorded_at TIMESTAMPTZ;
UPDATE servers SET instance_recorded_at = launched_at WHERE provider_instance_id IS NOT NULL;
