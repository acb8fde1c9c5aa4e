DROP TABLE firewall_rules;
