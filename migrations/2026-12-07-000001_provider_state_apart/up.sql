-- What the job worker records of an account's provider (when it last
-- synced, since when it has not answered and why, what it can do) decides
-- nobody's rights, and a sync writes it every time. Counted as a change of
-- access (migration `access_version`), every sync made every user of the
-- company read their rights again. An update of an account now counts
-- only when a column other than those changed; insert and delete count
-- as before. Comparing the rows as JSON without those keys counts any
-- column added later, so a new column is on the safe side by default.
DROP TRIGGER accounts_access ON accounts;
CREATE CONSTRAINT TRIGGER accounts_access AFTER INSERT OR DELETE ON accounts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION note_access_change();
CREATE CONSTRAINT TRIGGER accounts_access_update AFTER UPDATE ON accounts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (to_jsonb(OLD) - '{synced_at, unreachable_since, failure, capabilities}'::text[]
          IS DISTINCT FROM to_jsonb(NEW) - '{synced_at, unreachable_since, failure, capabilities}'::text[])
    EXECUTE FUNCTION note_access_change();

-- The frame shows the current account's provider state on every page, so
-- the session lookup reads it, fresh, in the statement it already sends:
-- the session's account is copied out of its state, as its user is. Not a
-- foreign key: the state may still name an account since removed, and the
-- lookup then finds none.
ALTER TABLE sessions ADD COLUMN account_id BIGINT;
UPDATE sessions SET account_id = (state ->> 'account_id')::bigint WHERE state ->> 'account_id' ~ '^[0-9]{1,18}$';
