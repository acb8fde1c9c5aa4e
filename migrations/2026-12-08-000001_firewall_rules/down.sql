ALTER TABLE firewalls DROP COLUMN rules_changed_at;
DROP TABLE firewall_rules;
