-- What the provider offers an account, kept by sync jobs: hardware sizes
-- (with hourly rates from the shipped price table, editable by
-- administrators), zones, firewalls and key pairs.
CREATE TABLE prices (
    provider TEXT NOT NULL,
    region TEXT NOT NULL,
    product_id TEXT NOT NULL,
    hourly_rate NUMERIC(10, 4) NOT NULL CHECK (hourly_rate >= 0),
    PRIMARY KEY (provider, region, product_id)
);

CREATE TABLE products (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    product_id TEXT NOT NULL,
    cpus INTEGER NOT NULL,
    ram_mb BIGINT NOT NULL,
    architectures TEXT[] NOT NULL,
    active BOOLEAN NOT NULL DEFAULT true,
    UNIQUE (account_id, product_id)
);

CREATE TABLE zones (
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT true,
    PRIMARY KEY (account_id, name)
);

CREATE TABLE firewalls (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    provider_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    active BOOLEAN NOT NULL DEFAULT true,
    UNIQUE (account_id, provider_id)
);

CREATE TABLE key_pairs (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    provider_id TEXT,
    active BOOLEAN NOT NULL DEFAULT true,
    UNIQUE (account_id, name)
);
