-- A group's deletion leaves the images and servers it owned without an
-- owning group, done by the foreign keys themselves: they act on the rows
-- committed when the delete takes the group's row, so a launch or a made
-- image that wrote its rows while the delete waited is taken in too (an
-- UPDATE before the DELETE did not see them, and the DELETE then failed).
ALTER TABLE servers
    DROP CONSTRAINT servers_owner_group_id_fkey,
    ADD CONSTRAINT servers_owner_group_id_fkey
        FOREIGN KEY (owner_group_id) REFERENCES groups (id) ON DELETE SET NULL;
ALTER TABLE image_records
    DROP CONSTRAINT image_records_owner_group_id_fkey,
    ADD CONSTRAINT image_records_owner_group_id_fkey
        FOREIGN KEY (owner_group_id) REFERENCES groups (id) ON DELETE SET NULL;
