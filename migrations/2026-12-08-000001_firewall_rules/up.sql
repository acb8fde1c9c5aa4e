-- What each firewall lets in: its inbound rules (EC2's IpPermissions, one row
-- per protocol, port range and source). Synced from the provider, and added
-- or removed on the firewall's page, ahead of the provider as firewalls are:
--   PENDING   added here, its `authorize_ingress` job has not run yet
--   ACTIVE    the provider has it
--   DELETING  removed here, its `revoke_ingress` job has not run yet
--   ERROR     the provider refused to add it (`last_error` says why)
-- `protocol` is EC2's: 'tcp', 'udp', 'icmp', '-1' (all traffic) or a protocol
-- number; the ports are NULL where the protocol has none ('-1'), and -1 for
-- "every ICMP type". `source` is a CIDR block, or the id of a security group
-- (sg-…) or prefix list (pl-…) a rule synced from the provider names.
CREATE TABLE firewall_rules (
    id BIGSERIAL PRIMARY KEY,
    firewall_id BIGINT NOT NULL REFERENCES firewalls (id) ON DELETE CASCADE,
    protocol TEXT NOT NULL,
    from_port INTEGER,
    to_port INTEGER,
    source TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('PENDING', 'ACTIVE', 'DELETING', 'ERROR')),
    last_error TEXT,
    CONSTRAINT firewall_rules_ports CHECK ((from_port IS NULL) = (to_port IS NULL))
);
-- A firewall holds a rule once (the provider refuses a duplicate).
CREATE UNIQUE INDEX firewall_rules_once
    ON firewall_rules (firewall_id, protocol, COALESCE(from_port, -2), COALESCE(to_port, -2), source);
-- When a job last changed a firewall's rules here: a sync whose listing was
-- taken before then is stale for that firewall, and leaves its rules alone.
ALTER TABLE firewalls ADD COLUMN rules_changed_at TIMESTAMPTZ;
