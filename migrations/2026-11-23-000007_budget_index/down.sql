DROP INDEX servers_by_budget_code;
