-- The public images of a bench database as a catalog for the local EC2
-- endpoint (a JSON list in the format of moto's MOTO_AMIS_PATH), so that
-- the provider's side of the public search holds the very rows the
-- console searches:
--   psql -tA -f catalog.sql DB > catalog.json
SELECT json_agg(json_build_object(
         'ami_id', provider_image_id,
         'state', 'available',
         'public', true,
         'owner_id', owner_account_number,
         'image_location', coalesce(owner_alias, owner_account_number) || '/' || name,
         'name', name,
         'description', description,
         'platform', CASE WHEN platform = 'WINDOWS' THEN 'windows' END,
         'architecture', architecture,
         'image_type', 'machine',
         'root_device_type', 'ebs',
         'root_device_name', '/dev/xvda',
         'virtualization_type', 'hvm',
         'hypervisor', 'xen',
         'creation_date', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.000"Z"')))
FROM public_images
WHERE region = 'us-east-1' AND state = 'ACTIVE';
