-- Onboarding: a company starts from an empty console and connects its own
-- cloud accounts.

-- The role each group receives in every account connected from now on: at
-- set-up the group Admin receives Admin, so whoever connects the company's
-- first account administers it.
ALTER TABLE groups ADD COLUMN role_in_new_accounts BIGINT REFERENCES roles (id) ON DELETE SET NULL;

-- Accounts are also reached with an IAM user's access key; its secret is
-- kept sealed (AES-256-GCM under SECRETS_KEY, nonce first), never in clear.
ALTER TABLE accounts DROP CONSTRAINT accounts_auth_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_auth_check
    CHECK (auth IN ('assume_role', 'access_key', 'ambient'));
ALTER TABLE accounts ADD COLUMN access_key_id TEXT;
ALTER TABLE accounts ADD COLUMN secret_sealed BYTEA;
ALTER TABLE accounts ADD CONSTRAINT accounts_key_for_access_key
    CHECK ((auth = 'access_key') = (access_key_id IS NOT NULL AND secret_sealed IS NOT NULL));
-- Raised whenever the credentials change, so that a connected provider
-- made with the old ones is not used again.
ALTER TABLE accounts ADD COLUMN credentials_version INT NOT NULL DEFAULT 1;
-- A disabled account runs no jobs and leaves its members' switcher.
ALTER TABLE accounts ADD COLUMN disabled_at TIMESTAMPTZ;
-- Why the provider last failed, in words, while it fails.
ALTER TABLE accounts ADD COLUMN failure TEXT;
ALTER TABLE accounts ADD COLUMN version INT NOT NULL DEFAULT 1;

ALTER TABLE access_rights DROP CONSTRAINT access_rights_resource_check;
ALTER TABLE access_rights ADD CONSTRAINT access_rights_resource_check
    CHECK (resource IN ('CONSOLE', 'IMAGE', 'SERVER', 'FIREWALL', 'KEYPAIR', 'VOLUME', 'BUDGET', 'USER',
        'GROUP', 'ROLE', 'ACCOUNT', 'ANY'));
