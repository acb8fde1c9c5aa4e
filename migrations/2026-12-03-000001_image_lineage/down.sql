DROP INDEX servers_by_image;
DROP INDEX provider_images_children;
ALTER TABLE provider_images DROP COLUMN name;
ALTER TABLE provider_images DROP COLUMN parent_id;
