-- How the console authenticates to each cloud account, the same way for
-- every endpoint (AWS or an EC2-compatible one): by assuming an IAM role in
-- the account with the company's external ID (recommended), or with the
-- console's own credentials from its environment ("ambient"). The profile
-- name nobody could set is gone.
ALTER TABLE companies ADD COLUMN external_id TEXT NOT NULL
    DEFAULT ('stratus-' || replace(gen_random_uuid()::text, '-', ''));
ALTER TABLE companies ADD CONSTRAINT companies_external_id_key UNIQUE (external_id);
ALTER TABLE accounts DROP COLUMN credentials_ref;
ALTER TABLE accounts ADD COLUMN auth TEXT NOT NULL DEFAULT 'ambient'
    CHECK (auth IN ('assume_role', 'ambient'));
ALTER TABLE accounts ADD COLUMN role_arn TEXT;
ALTER TABLE accounts ADD CONSTRAINT accounts_role_for_assume_role
    CHECK ((auth = 'assume_role') = (role_arn IS NOT NULL));
ALTER TABLE accounts ALTER COLUMN auth DROP DEFAULT;
