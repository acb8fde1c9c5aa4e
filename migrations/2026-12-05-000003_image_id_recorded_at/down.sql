ALTER TABLE provider_images DROP COLUMN id_recorded_at;
