ALTER TABLE servers
    DROP CONSTRAINT servers_owner_group_id_fkey,
    ADD CONSTRAINT servers_owner_group_id_fkey FOREIGN KEY (owner_group_id) REFERENCES groups (id);
ALTER TABLE image_records
    DROP CONSTRAINT image_records_owner_group_id_fkey,
    ADD CONSTRAINT image_records_owner_group_id_fkey FOREIGN KEY (owner_group_id) REFERENCES groups (id);
