-- Scheduled deprecation and retirement of own images (ISSUE 17), on the
-- provider image. The lifecycle job acts on each date (00:00 UTC): it
-- deprecates, and it retires (disables the image and moves it to the
-- recycle bin). A retirement that cannot run yet (the image is protected,
-- or live servers use it) waits, `retirement_waits` says why, and the next
-- run tries again.
ALTER TABLE provider_images ADD COLUMN deprecate_on DATE;
ALTER TABLE provider_images ADD COLUMN retire_on DATE;
ALTER TABLE provider_images ADD COLUMN retirement_waits TEXT;
-- Retired (by its schedule) at: restored, it is enabled again.
ALTER TABLE provider_images ADD COLUMN retired_at TIMESTAMPTZ;
ALTER TABLE provider_images ADD CONSTRAINT provider_images_schedule CHECK (retire_on >= deprecate_on);
CREATE INDEX provider_images_scheduled ON provider_images (LEAST(deprecate_on, retire_on))
    WHERE deprecate_on IS NOT NULL OR retire_on IS NOT NULL;
