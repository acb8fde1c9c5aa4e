-- When the console saw a server enter its current state. The servers sync
-- follows a running server until its status checks pass, every two seconds;
-- one that has been running for `jobs::servers::READINESS_PATIENCE` without
-- passing them is impaired, and is left to the periodic sync rather than
-- followed for ever. Rows from before take their launch time.
ALTER TABLE servers ADD COLUMN state_since TIMESTAMPTZ NOT NULL DEFAULT now();
UPDATE servers SET state_since = launched_at;
