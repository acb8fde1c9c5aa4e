ALTER TABLE provider_images DROP COLUMN owner_alias;
