-- Provided images (public images of the owners the operator names) are
-- searched apart, by owner, newest first.
CREATE INDEX public_images_by_owner ON public_images (region, owner_account_number, created_at DESC, id DESC);
