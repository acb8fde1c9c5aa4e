DROP TABLE audit_events, login_attempts, sessions, public_images, image_records, provider_images,
    user_budget_codes, budget_codes, group_roles, access_rights, roles, group_members, groups,
    account_memberships, users, accounts, companies;
