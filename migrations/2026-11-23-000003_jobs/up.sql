-- Every change at a provider runs as a job. Workers in any number of console
-- processes claim jobs with FOR UPDATE SKIP LOCKED.
CREATE TABLE jobs (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT REFERENCES accounts (id),
    kind TEXT NOT NULL,
    payload JSONB NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT 'QUEUED' CHECK (state IN ('QUEUED', 'RUNNING', 'COMPLETE', 'ERROR')),
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 8 CHECK (max_attempts > 0),
    run_after TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error TEXT,
    -- Carried to the provider (EC2 ClientToken) so a retry changes nothing twice.
    idempotency_key TEXT NOT NULL UNIQUE DEFAULT gen_random_uuid()::text,
    worker TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ
);
CREATE INDEX jobs_ready ON jobs (run_after, id) WHERE state = 'QUEUED';
CREATE INDEX jobs_running ON jobs (started_at) WHERE state = 'RUNNING';
CREATE INDEX jobs_account ON jobs (account_id, created_at DESC, id DESC);
-- One queued or running sync of a kind per account is enough.
CREATE UNIQUE INDEX jobs_one_pending_sync ON jobs (account_id, kind)
    WHERE state IN ('QUEUED', 'RUNNING') AND kind LIKE 'sync_%';

-- What the console knows about each account's provider.
ALTER TABLE accounts
    ADD COLUMN synced_at TIMESTAMPTZ,
    ADD COLUMN unreachable_since TIMESTAMPTZ;
