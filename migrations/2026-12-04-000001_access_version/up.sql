-- A company's access version: it grows with every change to what decides
-- who its users are and what they may do (users, accounts and memberships,
-- groups, roles and their rights, budget codes held). The session lookup
-- reads it with the session, so a process may keep each user's
-- authorization context and still see a change of rights on the next
-- request (auth::current). A company without a row is at version 0.
--
-- The triggers are deferred: the version row is locked at commit, after
-- every other lock the transaction takes, so counting a change can neither
-- hold up nor deadlock other work in the company. No foreign key: a
-- company's deletion also counts, at commit.
CREATE TABLE access_versions (
    company_id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL
);

CREATE FUNCTION note_access_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed RECORD;
    company BIGINT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed := OLD;
    ELSE
        changed := NEW;
    END IF;
    IF TG_TABLE_NAME IN ('users', 'accounts', 'groups', 'roles') THEN
        company := changed.company_id;
    ELSIF TG_TABLE_NAME IN ('account_memberships', 'group_members', 'user_budget_codes') THEN
        SELECT company_id INTO company FROM users WHERE id = changed.user_id;
    ELSIF TG_TABLE_NAME = 'group_roles' THEN
        SELECT company_id INTO company FROM groups WHERE id = changed.group_id;
    ELSIF TG_TABLE_NAME = 'access_rights' THEN
        SELECT company_id INTO company FROM roles WHERE id = changed.role_id;
    END IF;
    -- A row deleted with its parent: the parent's own change counted.
    IF company IS NOT NULL THEN
        INSERT INTO access_versions (company_id, version) VALUES (company, 1)
            ON CONFLICT (company_id) DO UPDATE SET version = access_versions.version + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER users_access AFTER INSERT OR UPDATE OR DELETE ON users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION note_access_change();
CREATE CONSTRAINT TRIGGER accounts_access AFTER INSERT OR UPDATE OR DELETE ON accounts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION note_access_change();
CREATE CONSTRAINT TRIGGER groups_access AFTER INSERT OR UPDATE OR DELETE ON groups
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION note_access_change();
CREATE CONSTRAINT TRIGGER roles_access AFTER INSERT OR UPDATE OR DELETE ON roles
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION note_access_change();
CREATE CONSTRAINT TRIGGER account_memberships_access AFTER INSERT OR UPDATE OR DELETE ON account_memberships
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION note_access_change();
CREATE CONSTRAINT TRIGGER group_members_access AFTER INSERT OR UPDATE OR DELETE ON group_members
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION note_access_change();
CREATE CONSTRAINT TRIGGER user_budget_codes_access AFTER INSERT OR UPDATE OR DELETE ON user_budget_codes
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION note_access_change();
CREATE CONSTRAINT TRIGGER group_roles_access AFTER INSERT OR UPDATE OR DELETE ON group_roles
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION note_access_change();
CREATE CONSTRAINT TRIGGER access_rights_access AFTER INSERT OR UPDATE OR DELETE ON access_rights
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION note_access_change();
