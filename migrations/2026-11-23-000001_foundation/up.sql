-- Foundation schema: tenancy, people, access rights, budget codes, images,
-- sessions and the audit trail. Every list and search query has its index here.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE companies (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE accounts (
    id BIGSERIAL PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id),
    name TEXT NOT NULL,
    provider TEXT NOT NULL CHECK (provider IN ('ec2')),
    region TEXT NOT NULL,
    provider_account_number TEXT NOT NULL,
    endpoint TEXT,
    credentials_ref TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (company_id, name)
);
CREATE INDEX accounts_company ON accounts (company_id);

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id),
    email TEXT NOT NULL,
    given_name TEXT NOT NULL,
    family_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_ci ON users (lower(email));
CREATE INDEX users_company ON users (company_id, family_name, id);

CREATE TABLE account_memberships (
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (account_id, user_id)
);
CREATE INDEX account_memberships_user ON account_memberships (user_id);

CREATE TABLE groups (
    id BIGSERIAL PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    UNIQUE (company_id, name)
);

CREATE TABLE group_members (
    group_id BIGINT NOT NULL REFERENCES groups (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE roles (
    id BIGSERIAL PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    is_default BOOLEAN NOT NULL DEFAULT false,
    UNIQUE (company_id, name)
);

CREATE TABLE access_rights (
    id BIGSERIAL PRIMARY KEY,
    role_id BIGINT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    resource TEXT NOT NULL CHECK (resource IN ('CONSOLE', 'IMAGE', 'SERVER', 'FIREWALL', 'KEYPAIR',
        'VOLUME', 'BUDGET', 'USER', 'GROUP', 'ROLE', 'ANY')),
    action TEXT NOT NULL,
    qualifier TEXT NOT NULL CHECK (qualifier IN ('ANY', 'GROUP', 'THIS_GROUP', 'BILLING', 'MINE')),
    UNIQUE (role_id, resource, action, qualifier)
);

-- A group has at most one role per account.
CREATE TABLE group_roles (
    group_id BIGINT NOT NULL REFERENCES groups (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    role_id BIGINT NOT NULL REFERENCES roles (id),
    PRIMARY KEY (group_id, account_id)
);
CREATE INDEX group_roles_account ON group_roles (account_id);

CREATE TABLE budget_codes (
    id BIGSERIAL PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id),
    name TEXT NOT NULL,
    finance_code TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    soft_quota NUMERIC(14, 2) NOT NULL CHECK (soft_quota >= 0),
    hard_quota NUMERIC(14, 2) NOT NULL CHECK (hard_quota >= 0),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    UNIQUE (company_id, name)
);

CREATE TABLE user_budget_codes (
    user_id BIGINT NOT NULL REFERENCES users (id),
    budget_code_id BIGINT NOT NULL REFERENCES budget_codes (id),
    PRIMARY KEY (user_id, budget_code_id)
);

-- The image as the provider knows it; one row per provider image, shared by
-- every account that keeps a record of it.
CREATE TABLE provider_images (
    id BIGSERIAL PRIMARY KEY,
    provider TEXT NOT NULL CHECK (provider IN ('ec2')),
    region TEXT NOT NULL,
    provider_image_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    architecture TEXT NOT NULL CHECK (architecture IN ('i386', 'x86_64', 'arm64')),
    state TEXT NOT NULL CHECK (state IN ('PENDING', 'ACTIVE', 'DELETED')),
    owner_account_number TEXT NOT NULL,
    is_public BOOLEAN NOT NULL DEFAULT false,
    root_device TEXT NOT NULL DEFAULT 'ebs',
    min_disk_gb INTEGER NOT NULL DEFAULT 8,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (provider, region, provider_image_id)
);

-- One account's view of an image: its own name, label, owner and so on.
CREATE TABLE image_records (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    provider_image_id BIGINT NOT NULL REFERENCES provider_images (id),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    label TEXT NOT NULL DEFAULT 'none',
    owner_user_id BIGINT REFERENCES users (id),
    owner_group_id BIGINT REFERENCES groups (id),
    budget_code_id BIGINT REFERENCES budget_codes (id),
    deprecated_at TIMESTAMPTZ,
    version INTEGER NOT NULL DEFAULT 1,
    source TEXT NOT NULL CHECK (source IN ('own', 'shared', 'public_launched')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (account_id, provider_image_id)
);
-- Keyset pages per tab and sort order.
CREATE INDEX image_records_by_name ON image_records (account_id, lower(name), id);
CREATE INDEX image_records_by_created ON image_records (account_id, created_at, id);

-- The provider's public catalog of a region, never listed whole: searched by
-- name or id through the trigram index.
CREATE TABLE public_images (
    id BIGSERIAL PRIMARY KEY,
    provider TEXT NOT NULL CHECK (provider IN ('ec2')),
    region TEXT NOT NULL,
    provider_image_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    platform TEXT NOT NULL,
    architecture TEXT NOT NULL CHECK (architecture IN ('i386', 'x86_64', 'arm64')),
    owner_account_number TEXT NOT NULL,
    owner_alias TEXT,
    state TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (state IN ('PENDING', 'ACTIVE', 'DELETED')),
    deprecated_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    search_text TEXT GENERATED ALWAYS AS (lower(name || ' ' || provider_image_id || ' ' || description)) STORED,
    UNIQUE (provider, region, provider_image_id)
);
CREATE INDEX public_images_search ON public_images USING gin (search_text gin_trgm_ops);
CREATE INDEX public_images_by_name ON public_images (region, lower(name), id);
CREATE INDEX public_images_by_created ON public_images (region, created_at, id);

CREATE TABLE sessions (
    -- SHA-256 of the session key: a copy of this table does not hand out sessions.
    key_hash TEXT PRIMARY KEY,
    state JSONB NOT NULL,
    user_id BIGINT REFERENCES users (id),
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE login_attempts (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL,
    ip TEXT NOT NULL,
    succeeded BOOLEAN NOT NULL,
    attempted_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX login_attempts_email ON login_attempts (lower(email), attempted_at);
CREATE INDEX login_attempts_ip ON login_attempts (ip, attempted_at);

CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT REFERENCES accounts (id),
    user_id BIGINT REFERENCES users (id),
    action TEXT NOT NULL,
    resource TEXT NOT NULL,
    resource_id TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    changes JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_account ON audit_events (account_id, created_at DESC, id DESC);
