-- What an API launch's Idempotency-Key was first used for: a digest of the
-- request (the image, its catalog and the body as read). A retry with the
-- same key and request answers with the first launch's servers; the same
-- key with another request is refused (422), never answered as if it had
-- launched what it asked. Kept while the token is.
CREATE TABLE launch_keys (
    launch_key UUID PRIMARY KEY,
    token_id BIGINT NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    request_digest BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX launch_keys_token ON launch_keys (token_id);
