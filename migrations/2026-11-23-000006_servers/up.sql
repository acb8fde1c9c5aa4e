-- Servers launched from image records. An image cannot be deleted while a
-- server launched from it is alive, so both ways in are indexed: by the
-- record (a shared or public-launched record) and by the provider image
-- (an own image, whichever account launched it).
CREATE TABLE servers (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    -- The record it was launched from; the server outlives a removed record.
    image_record_id BIGINT REFERENCES image_records (id) ON DELETE SET NULL,
    provider_image_id BIGINT NOT NULL REFERENCES provider_images (id),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    label TEXT NOT NULL DEFAULT 'none',
    product_id TEXT NOT NULL,
    zone TEXT,
    firewall_ids BIGINT[] NOT NULL DEFAULT '{}',
    key_pair_name TEXT,
    owner_user_id BIGINT REFERENCES users (id),
    owner_group_id BIGINT REFERENCES groups (id),
    budget_code_id BIGINT NOT NULL REFERENCES budget_codes (id),
    -- The product's hourly rate when it was launched (budget arithmetic).
    hourly_rate NUMERIC(10, 4) NOT NULL DEFAULT 0 CHECK (hourly_rate >= 0),
    volume_config JSONB,
    config_management JSONB,
    provider_instance_id TEXT,
    private_ip TEXT,
    public_ip TEXT,
    state TEXT NOT NULL DEFAULT 'PENDING'
        CHECK (state IN ('PENDING', 'RUNNING', 'PAUSING', 'PAUSED', 'REBOOTING', 'STOPPING', 'TERMINATED', 'ERROR')),
    last_error TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    launched_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ready_at TIMESTAMPTZ,
    terminated_at TIMESTAMPTZ
);
CREATE INDEX servers_by_account ON servers (account_id, id);
CREATE INDEX servers_alive_by_record ON servers (image_record_id) WHERE state NOT IN ('TERMINATED', 'ERROR');
CREATE INDEX servers_alive_by_image ON servers (provider_image_id) WHERE state NOT IN ('TERMINATED', 'ERROR');

-- What the account's provider can do, as detected when a worker connects
-- (NULL until then). Pages read it; they never ask the provider.
ALTER TABLE accounts ADD COLUMN capabilities JSONB;

-- Public search skips images their owner deprecated in the console.
CREATE INDEX image_records_deprecated_own ON image_records (provider_image_id)
    WHERE source = 'own' AND deprecated_at IS NOT NULL;
