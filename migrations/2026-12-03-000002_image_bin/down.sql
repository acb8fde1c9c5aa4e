ALTER TABLE companies DROP COLUMN image_retention_days;
DROP INDEX provider_images_to_purge;
ALTER TABLE provider_images DROP CONSTRAINT provider_images_bin;
ALTER TABLE provider_images DROP COLUMN purge_after;
ALTER TABLE provider_images DROP COLUMN binned_by;
ALTER TABLE provider_images DROP COLUMN binned_at;
ALTER TABLE provider_images DROP COLUMN protected;
