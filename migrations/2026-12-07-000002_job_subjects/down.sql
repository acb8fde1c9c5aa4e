ALTER TABLE jobs
    DROP COLUMN requested_by,
    DROP COLUMN subject,
    DROP COLUMN owner_user_id,
    DROP COLUMN owner_group_id,
    DROP COLUMN budget_code_id;
