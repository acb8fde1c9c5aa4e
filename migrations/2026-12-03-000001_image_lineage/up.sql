-- An image's lineage: the image it was made from (the image of the server
-- Make Image was given), kept on the provider image so that every account's
-- record of it shares one chain. A chain outlives its records: the name
-- the image was made or listed with stays here when every record is gone.
ALTER TABLE provider_images ADD COLUMN parent_id BIGINT REFERENCES provider_images (id) ON DELETE SET NULL;
ALTER TABLE provider_images ADD COLUMN name TEXT NOT NULL DEFAULT '';
CREATE INDEX provider_images_children ON provider_images (parent_id) WHERE parent_id IS NOT NULL;

UPDATE provider_images pi SET name = r.name
FROM image_records r
WHERE r.provider_image_id = pi.id AND r.source IN ('own', 'public_launched');

-- Where an image is used: every server launched from it, newest first.
CREATE INDEX servers_by_image ON servers (provider_image_id, launched_at DESC);
