-- Who may read a job follows from what it is about, as it does for the
-- resource itself: the Jobs page and the API show a user the jobs they
-- asked for, the account's own upkeep (syncs, the lifecycle), and the jobs
-- about images, servers, key pairs and firewalls their role lets them see.
-- A job keeps the owner, group and budget code its image or server had when
-- it was asked: what it says ("Launch server NAME") was true of that owner.
ALTER TABLE jobs
    ADD COLUMN requested_by BIGINT REFERENCES users (id),
    ADD COLUMN subject TEXT NOT NULL DEFAULT 'account'
        CHECK (subject IN ('account', 'image', 'server', 'keypair', 'firewall')),
    ADD COLUMN owner_user_id BIGINT,
    ADD COLUMN owner_group_id BIGINT,
    ADD COLUMN budget_code_id BIGINT;
-- Nothing queued from now on takes the default: the code names each subject.
ALTER TABLE jobs ALTER COLUMN subject DROP DEFAULT;

UPDATE jobs SET subject = CASE
    WHEN kind IN ('deregister_image', 'launch_permission', 'set_deprecation', 'set_image_availability') THEN 'image'
    WHEN kind IN ('run_instance', 'server_action', 'create_image') THEN 'server'
    WHEN kind IN ('import_key_pair', 'delete_key_pair') THEN 'keypair'
    WHEN kind IN ('create_security_group', 'delete_security_group') THEN 'firewall'
    ELSE 'account' END;
UPDATE jobs j SET owner_user_id = s.owner_user_id, owner_group_id = s.owner_group_id, budget_code_id = s.budget_code_id
    FROM servers s
    WHERE j.subject = 'server' AND s.account_id = j.account_id
      AND s.id = CASE WHEN j.payload ->> 'server_id' ~ '^[0-9]{1,18}$' THEN (j.payload ->> 'server_id')::bigint END;
UPDATE jobs j SET owner_user_id = r.owner_user_id, owner_group_id = r.owner_group_id, budget_code_id = r.budget_code_id
    FROM image_records r JOIN provider_images p ON p.id = r.provider_image_id
    WHERE j.subject = 'image' AND r.account_id = j.account_id AND p.provider_image_id = j.payload ->> 'image_id';
