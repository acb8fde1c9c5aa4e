-- Key pairs and firewalls made on their pages. A change is written with its
-- job in one transaction, so a row can be ahead of the provider:
--   PENDING   written, the provider does not have it yet (an import, a new firewall)
--   ACTIVE    the provider has it
--   DELETING  deleted in the console, the provider not yet: hidden, and syncs
--             must not bring it back
--   ERROR     the provider refused to make it; `last_error` says why
-- Syncs write what the provider reports and never change `state`, except
-- that they may find a PENDING row's object at the provider first.
ALTER TABLE firewalls ALTER COLUMN provider_id DROP NOT NULL;
ALTER TABLE firewalls
    ADD COLUMN state TEXT NOT NULL DEFAULT 'ACTIVE'
        CHECK (state IN ('PENDING', 'ACTIVE', 'DELETING', 'ERROR')),
    ADD COLUMN last_error TEXT,
    -- Only a firewall the provider has not made yet lacks its id.
    ADD CONSTRAINT firewalls_known_at_provider CHECK (provider_id IS NOT NULL OR state IN ('PENDING', 'ERROR'));
-- The page lists an account's firewalls by name.
CREATE INDEX firewalls_by_name ON firewalls (account_id, name);

ALTER TABLE key_pairs
    ADD COLUMN state TEXT NOT NULL DEFAULT 'ACTIVE'
        CHECK (state IN ('PENDING', 'ACTIVE', 'DELETING', 'ERROR')),
    ADD COLUMN last_error TEXT;

-- A key pair cannot be deleted while a live server uses it; the page counts
-- them per key pair. (Not partial: the live states are a bound parameter,
-- from which the planner cannot prove a partial index's predicate.)
CREATE INDEX servers_by_key_pair ON servers (account_id, key_pair_name);
