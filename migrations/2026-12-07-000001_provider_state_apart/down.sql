ALTER TABLE sessions DROP COLUMN account_id;
DROP TRIGGER accounts_access_update ON accounts;
DROP TRIGGER accounts_access ON accounts;
CREATE CONSTRAINT TRIGGER accounts_access AFTER INSERT OR UPDATE OR DELETE ON accounts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION note_access_change();
