-- Public search hides images their owner deprecated in the console (the
-- provider may not support deprecation). The catalog row carries that fact,
-- kept by the database on every write to either side, so a search filters
-- on a column instead of planning a correlated subquery on every call.
ALTER TABLE public_images ADD COLUMN deprecated_in_console BOOLEAN NOT NULL DEFAULT false;

-- Whether the owning account deprecated this provider image in the console.
CREATE FUNCTION console_deprecates(p_provider TEXT, p_region TEXT, p_image TEXT) RETURNS BOOLEAN
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT FROM image_records ir JOIN provider_images pi ON pi.id = ir.provider_image_id
        WHERE ir.source = 'own' AND ir.deprecated_at IS NOT NULL
          AND pi.provider = p_provider AND pi.region = p_region AND pi.provider_image_id = p_image)
$$;

UPDATE public_images p SET deprecated_in_console = true
FROM image_records ir JOIN provider_images pi ON pi.id = ir.provider_image_id
WHERE ir.source = 'own' AND ir.deprecated_at IS NOT NULL
  AND p.provider = pi.provider AND p.region = pi.region AND p.provider_image_id = pi.provider_image_id;

-- A catalog row that arrives (the sync, sharing publicly) takes the flag.
CREATE FUNCTION public_images_take_console_deprecation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.deprecated_in_console := console_deprecates(NEW.provider, NEW.region, NEW.provider_image_id);
    RETURN NEW;
END
$$;
CREATE TRIGGER take_console_deprecation BEFORE INSERT ON public_images
    FOR EACH ROW EXECUTE FUNCTION public_images_take_console_deprecation();

-- An own record deprecated, undeprecated, added or removed sets the flag of
-- its image's catalog row.
CREATE FUNCTION image_records_pass_console_deprecation() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    image BIGINT := CASE WHEN TG_OP = 'DELETE' THEN OLD.provider_image_id ELSE NEW.provider_image_id END;
BEGIN
    UPDATE public_images p
    SET deprecated_in_console = console_deprecates(pi.provider, pi.region, pi.provider_image_id)
    FROM provider_images pi
    WHERE pi.id = image AND p.provider = pi.provider AND p.region = pi.region
      AND p.provider_image_id = pi.provider_image_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER pass_console_deprecation_on_insert AFTER INSERT ON image_records
    FOR EACH ROW WHEN (NEW.source = 'own' AND NEW.deprecated_at IS NOT NULL)
    EXECUTE FUNCTION image_records_pass_console_deprecation();
CREATE TRIGGER pass_console_deprecation_on_update AFTER UPDATE OF deprecated_at, source ON image_records
    FOR EACH ROW WHEN ((OLD.source = 'own' OR NEW.source = 'own')
                       AND (OLD.deprecated_at IS NOT NULL OR NEW.deprecated_at IS NOT NULL))
    EXECUTE FUNCTION image_records_pass_console_deprecation();
CREATE TRIGGER pass_console_deprecation_on_delete AFTER DELETE ON image_records
    FOR EACH ROW WHEN (OLD.source = 'own' AND OLD.deprecated_at IS NOT NULL)
    EXECUTE FUNCTION image_records_pass_console_deprecation();
