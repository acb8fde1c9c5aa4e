-- Protection and the recycle bin (ISSUE 17), both on the provider image:
-- they are about the image itself, which every account's record shares.
--
-- A protected image cannot be deleted, retired or purged from the bin.
ALTER TABLE provider_images ADD COLUMN protected BOOLEAN NOT NULL DEFAULT false;
-- An own image deleted goes to its account's bin: every record of it (the
-- owner's and those it is shared with) leaves the lists and cannot be
-- launched, and nothing is lost, so a restore brings back its name, label,
-- shares and lineage as they were. The provider deregisters it only when
-- the retention ends (`purge_after`) and the lifecycle job purges it.
ALTER TABLE provider_images ADD COLUMN binned_at TIMESTAMPTZ;
ALTER TABLE provider_images ADD COLUMN binned_by BIGINT REFERENCES users (id);
ALTER TABLE provider_images ADD COLUMN purge_after TIMESTAMPTZ;
ALTER TABLE provider_images ADD CONSTRAINT provider_images_bin
    CHECK ((binned_at IS NULL) = (purge_after IS NULL) AND purge_after >= binned_at);
CREATE INDEX provider_images_to_purge ON provider_images (purge_after) WHERE binned_at IS NOT NULL;

-- How long a company's deleted images wait in the bin; 0 deletes at once.
ALTER TABLE companies ADD COLUMN image_retention_days INTEGER NOT NULL DEFAULT 7
    CHECK (image_retention_days BETWEEN 0 AND 365);
