DELETE FROM image_records WHERE provider_image_id IN (SELECT id FROM provider_images WHERE provider_image_id IS NULL);
DELETE FROM provider_images WHERE provider_image_id IS NULL;
UPDATE provider_images SET state = 'DELETED' WHERE state = 'FAILED';
ALTER TABLE provider_images DROP CONSTRAINT provider_images_id_once_made;
ALTER TABLE provider_images DROP CONSTRAINT provider_images_state_check;
ALTER TABLE provider_images ADD CONSTRAINT provider_images_state_check
    CHECK (state IN ('PENDING', 'ACTIVE', 'DELETED'));
ALTER TABLE provider_images ALTER COLUMN provider_image_id SET NOT NULL;
