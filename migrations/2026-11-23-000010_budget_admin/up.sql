-- Budget code administration (issue 7).
--
-- Edits are optimistic: the form carries the version it was read at, and an
-- update of an older version changes nothing (409, the current values shown).
ALTER TABLE budget_codes ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
-- Names are unique in a company regardless of case ("Default" and "default"
-- would be indistinguishable in a picker); the index makes the check race-free.
CREATE UNIQUE INDEX budget_codes_name_ci ON budget_codes (company_id, lower(name));
-- Deactivating a code moves its image records and its holders to the
-- replacement (servers use servers_by_budget_code).
CREATE INDEX image_records_by_budget_code ON image_records (budget_code_id);
CREATE INDEX user_budget_codes_by_code ON user_budget_codes (budget_code_id);

-- The audit log pages newest first through one account's events with
-- `audit_events_account`; a filter by user, resource or action walks its own
-- index in the same order, so a rare value does not scan the whole log.
CREATE INDEX audit_events_account_user ON audit_events (account_id, user_id, created_at DESC, id DESC);
CREATE INDEX audit_events_account_resource ON audit_events (account_id, resource, created_at DESC, id DESC);
CREATE INDEX audit_events_account_action ON audit_events (account_id, action, created_at DESC, id DESC);
