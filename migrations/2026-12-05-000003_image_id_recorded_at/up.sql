-- When the console recorded the provider's id of an image it made (CreateImage
-- answered). An own-images sync whose listing was read before that moment,
-- or one that EC2's eventually consistent DescribeImages answered without the
-- new image, must not take it as deregistered: the sync retires an image the
-- provider does not list only once its id is older than that window
-- (`cloud::LISTING_LAG`). Images first seen in a listing have none.
ALTER TABLE provider_images ADD COLUMN id_recorded_at TIMESTAMPTZ;
