DROP INDEX audit_events_account_action;
DROP INDEX audit_events_account_resource;
DROP INDEX audit_events_account_user;
DROP INDEX user_budget_codes_by_code;
DROP INDEX image_records_by_budget_code;
DROP INDEX budget_codes_name_ci;
ALTER TABLE budget_codes DROP COLUMN version;
