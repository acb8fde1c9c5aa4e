-- The alias the provider gives an image's owner ("amazon"), for a public
-- image an account launched: My images names its owner as the public
-- catalog does.
ALTER TABLE provider_images ADD COLUMN owner_alias TEXT;

UPDATE provider_images p
   SET owner_alias = pub.owner_alias
  FROM public_images pub
 WHERE p.is_public
   AND pub.provider = p.provider AND pub.region = p.region AND pub.provider_image_id = p.provider_image_id
   AND pub.owner_alias IS NOT NULL;
