DROP INDEX provider_images_scheduled;
ALTER TABLE provider_images DROP CONSTRAINT provider_images_schedule;
ALTER TABLE provider_images DROP COLUMN retired_at;
ALTER TABLE provider_images DROP COLUMN retirement_waits;
ALTER TABLE provider_images DROP COLUMN retire_on;
ALTER TABLE provider_images DROP COLUMN deprecate_on;
