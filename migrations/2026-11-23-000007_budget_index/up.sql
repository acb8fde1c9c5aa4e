-- Budget figures read the servers billed to a code that were not terminated
-- before the month began (db::budget::usage). A code's terminated servers
-- only ever grow in number; with terminated_at in the key a month reads the
-- live ones (NULL) and this month's terminations, not the code's history.
-- It also serves moving a deactivated code's servers to its replacement.
CREATE INDEX servers_by_budget_code ON servers (budget_code_id, terminated_at);
