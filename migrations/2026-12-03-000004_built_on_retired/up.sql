-- Whether an image was built on a retired one (ISSUE 17): an image of its
-- chain of parents is gone at the provider, or was retired by its
-- schedule. The seed's "imaging problems going forward", told before they
-- happen: the list's badge and its `lifecycle=retired_root` filter.
--
-- The walk is the image page's (`db::lineage::ancestors`), bounded the same
-- way, so a cycle is harmless.
CREATE FUNCTION built_on_retired(image BIGINT) RETURNS BOOLEAN
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH RECURSIVE chain (id, depth) AS (
        SELECT parent_id, 1 FROM provider_images WHERE id = image AND parent_id IS NOT NULL
        UNION ALL
        SELECT p.parent_id, c.depth + 1 FROM chain c JOIN provider_images p ON p.id = c.id
        WHERE p.parent_id IS NOT NULL AND c.depth < 50
    )
    SELECT EXISTS (
        SELECT FROM chain c JOIN provider_images pi ON pi.id = c.id
        WHERE pi.state = 'DELETED' OR pi.retired_at IS NOT NULL
    )
$$;
