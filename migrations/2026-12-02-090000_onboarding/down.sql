DELETE FROM access_rights WHERE resource = 'ACCOUNT';
ALTER TABLE access_rights DROP CONSTRAINT access_rights_resource_check;
ALTER TABLE access_rights ADD CONSTRAINT access_rights_resource_check
    CHECK (resource IN ('CONSOLE', 'IMAGE', 'SERVER', 'FIREWALL', 'KEYPAIR', 'VOLUME', 'BUDGET', 'USER',
        'GROUP', 'ROLE', 'ANY'));
ALTER TABLE accounts DROP COLUMN version, DROP COLUMN failure, DROP COLUMN disabled_at,
    DROP COLUMN credentials_version;
DELETE FROM accounts WHERE auth = 'access_key';
ALTER TABLE accounts DROP CONSTRAINT accounts_key_for_access_key;
ALTER TABLE accounts DROP COLUMN secret_sealed, DROP COLUMN access_key_id;
ALTER TABLE accounts DROP CONSTRAINT accounts_auth_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_auth_check CHECK (auth IN ('assume_role', 'ambient'));
ALTER TABLE groups DROP COLUMN role_in_new_accounts;
