-- Make Image writes the image and its record in the request's transaction,
-- before the provider has made it: the provider id is NULL until the job
-- fills it in, and a making that failed for good is FAILED (its record says
-- why). Only those two states may lack the id. UNIQUE lets NULLs repeat.
ALTER TABLE provider_images ALTER COLUMN provider_image_id DROP NOT NULL;
ALTER TABLE provider_images DROP CONSTRAINT provider_images_state_check;
ALTER TABLE provider_images ADD CONSTRAINT provider_images_state_check
    CHECK (state IN ('PENDING', 'ACTIVE', 'DELETED', 'FAILED'));
ALTER TABLE provider_images ADD CONSTRAINT provider_images_id_once_made
    CHECK (provider_image_id IS NOT NULL OR state IN ('PENDING', 'FAILED'));
