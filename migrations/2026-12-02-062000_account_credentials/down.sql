ALTER TABLE accounts DROP CONSTRAINT accounts_role_for_assume_role;
ALTER TABLE accounts DROP COLUMN role_arn;
ALTER TABLE accounts DROP COLUMN auth;
ALTER TABLE accounts ADD COLUMN credentials_ref TEXT;
ALTER TABLE companies DROP COLUMN external_id;
