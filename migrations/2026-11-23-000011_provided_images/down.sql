DROP INDEX public_images_by_owner;
