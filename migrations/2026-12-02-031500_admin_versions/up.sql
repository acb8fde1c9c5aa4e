-- Edits of users, groups and roles are optimistic (issue 15), as those of
-- budget codes are: the edit form carries the version it was read at, every
-- write of the row adds one, and a save over an older version changes
-- nothing (409, the current values shown), so two administrators editing at
-- once no longer overwrite each other unseen.
ALTER TABLE users ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE groups ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE roles ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
