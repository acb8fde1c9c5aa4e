// Diesel table definitions, matching `migrations/`.

diesel::table! {
    companies (id) {
        id -> Int8,
        name -> Text,
        created_at -> Timestamptz,
        external_id -> Text,
        image_retention_days -> Int4,
    }
}

diesel::table! {
    accounts (id) {
        id -> Int8,
        company_id -> Int8,
        name -> Text,
        provider -> Text,
        region -> Text,
        provider_account_number -> Text,
        endpoint -> Nullable<Text>,
        created_at -> Timestamptz,
        synced_at -> Nullable<Timestamptz>,
        unreachable_since -> Nullable<Timestamptz>,
        capabilities -> Nullable<Jsonb>,
        auth -> Text,
        role_arn -> Nullable<Text>,
        access_key_id -> Nullable<Text>,
        secret_sealed -> Nullable<Bytea>,
        credentials_version -> Int4,
        disabled_at -> Nullable<Timestamptz>,
        failure -> Nullable<Text>,
        version -> Int4,
    }
}

diesel::table! {
    jobs (id) {
        id -> Int8,
        account_id -> Nullable<Int8>,
        kind -> Text,
        payload -> Jsonb,
        state -> Text,
        attempts -> Int4,
        max_attempts -> Int4,
        run_after -> Timestamptz,
        last_error -> Nullable<Text>,
        idempotency_key -> Text,
        worker -> Nullable<Text>,
        created_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        result -> Nullable<Jsonb>,
        rerun -> Bool,
        requested_by -> Nullable<Int8>,
        subject -> Text,
        owner_user_id -> Nullable<Int8>,
        owner_group_id -> Nullable<Int8>,
        budget_code_id -> Nullable<Int8>,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        company_id -> Int8,
        email -> Text,
        given_name -> Text,
        family_name -> Text,
        password_hash -> Text,
        status -> Text,
        created_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    account_memberships (account_id, user_id) {
        account_id -> Int8,
        user_id -> Int8,
    }
}

diesel::table! {
    groups (id) {
        id -> Int8,
        company_id -> Int8,
        name -> Text,
        description -> Text,
        version -> Int4,
        role_in_new_accounts -> Nullable<Int8>,
    }
}

diesel::table! {
    group_members (group_id, user_id) {
        group_id -> Int8,
        user_id -> Int8,
    }
}

diesel::table! {
    roles (id) {
        id -> Int8,
        company_id -> Int8,
        name -> Text,
        description -> Text,
        is_default -> Bool,
        version -> Int4,
    }
}

diesel::table! {
    access_rights (id) {
        id -> Int8,
        role_id -> Int8,
        resource -> Text,
        action -> Text,
        qualifier -> Text,
    }
}

diesel::table! {
    group_roles (group_id, account_id) {
        group_id -> Int8,
        account_id -> Int8,
        role_id -> Int8,
    }
}

diesel::table! {
    budget_codes (id) {
        id -> Int8,
        company_id -> Int8,
        name -> Text,
        finance_code -> Text,
        description -> Text,
        soft_quota -> Numeric,
        hard_quota -> Numeric,
        status -> Text,
        version -> Int4,
    }
}

diesel::table! {
    user_budget_codes (user_id, budget_code_id) {
        user_id -> Int8,
        budget_code_id -> Int8,
    }
}

diesel::table! {
    provider_images (id) {
        id -> Int8,
        provider -> Text,
        region -> Text,
        provider_image_id -> Nullable<Text>,
        platform -> Text,
        architecture -> Text,
        state -> Text,
        owner_account_number -> Text,
        is_public -> Bool,
        root_device -> Text,
        min_disk_gb -> Int4,
        created_at -> Timestamptz,
        parent_id -> Nullable<Int8>,
        name -> Text,
        protected -> Bool,
        binned_at -> Nullable<Timestamptz>,
        binned_by -> Nullable<Int8>,
        purge_after -> Nullable<Timestamptz>,
        deprecate_on -> Nullable<Date>,
        retire_on -> Nullable<Date>,
        retirement_waits -> Nullable<Text>,
        retired_at -> Nullable<Timestamptz>,
        owner_alias -> Nullable<Text>,
        id_recorded_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    image_records (id) {
        id -> Int8,
        account_id -> Int8,
        provider_image_id -> Int8,
        name -> Text,
        description -> Text,
        label -> Text,
        owner_user_id -> Nullable<Int8>,
        owner_group_id -> Nullable<Int8>,
        budget_code_id -> Nullable<Int8>,
        deprecated_at -> Nullable<Timestamptz>,
        version -> Int4,
        source -> Text,
        created_at -> Timestamptz,
        shared -> Bool,
    }
}

diesel::table! {
    public_images (id) {
        id -> Int8,
        provider -> Text,
        region -> Text,
        provider_image_id -> Text,
        name -> Text,
        description -> Text,
        platform -> Text,
        architecture -> Text,
        owner_account_number -> Text,
        owner_alias -> Nullable<Text>,
        state -> Text,
        deprecated_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        search_text -> Text,
        deprecated_in_console -> Bool,
    }
}

diesel::table! {
    access_versions (company_id) {
        company_id -> Int8,
        version -> Int8,
    }
}

diesel::table! {
    sessions (key_hash) {
        key_hash -> Text,
        state -> Jsonb,
        user_id -> Nullable<Int8>,
        expires_at -> Timestamptz,
        account_id -> Nullable<Int8>,
    }
}

diesel::table! {
    login_attempts (id) {
        id -> Int8,
        email -> Text,
        ip -> Text,
        succeeded -> Bool,
        attempted_at -> Timestamptz,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Int8,
        account_id -> Nullable<Int8>,
        user_id -> Nullable<Int8>,
        action -> Text,
        resource -> Text,
        resource_id -> Nullable<Text>,
        outcome -> Text,
        changes -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    prices (provider, region, product_id) {
        provider -> Text,
        region -> Text,
        product_id -> Text,
        hourly_rate -> Numeric,
    }
}

diesel::table! {
    products (id) {
        id -> Int8,
        account_id -> Int8,
        product_id -> Text,
        cpus -> Int4,
        ram_mb -> Int8,
        architectures -> Array<Text>,
        active -> Bool,
    }
}

diesel::table! {
    zones (account_id, name) {
        account_id -> Int8,
        name -> Text,
        active -> Bool,
    }
}

diesel::table! {
    firewalls (id) {
        id -> Int8,
        account_id -> Int8,
        provider_id -> Nullable<Text>,
        name -> Text,
        description -> Text,
        active -> Bool,
        state -> Text,
        last_error -> Nullable<Text>,
        rules_changed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    firewall_rules (id) {
        id -> Int8,
        firewall_id -> Int8,
        protocol -> Text,
        from_port -> Nullable<Int4>,
        to_port -> Nullable<Int4>,
        source -> Text,
        state -> Text,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    key_pairs (id) {
        id -> Int8,
        account_id -> Int8,
        name -> Text,
        fingerprint -> Text,
        provider_id -> Nullable<Text>,
        active -> Bool,
        state -> Text,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    servers (id) {
        id -> Int8,
        account_id -> Int8,
        image_record_id -> Nullable<Int8>,
        provider_image_id -> Int8,
        name -> Text,
        description -> Text,
        label -> Text,
        product_id -> Text,
        zone -> Nullable<Text>,
        firewall_ids -> Array<Int8>,
        key_pair_name -> Nullable<Text>,
        owner_user_id -> Nullable<Int8>,
        owner_group_id -> Nullable<Int8>,
        budget_code_id -> Int8,
        hourly_rate -> Numeric,
        volume_config -> Nullable<Jsonb>,
        config_management -> Nullable<Jsonb>,
        provider_instance_id -> Nullable<Text>,
        private_ip -> Nullable<Text>,
        public_ip -> Nullable<Text>,
        state -> Text,
        last_error -> Nullable<Text>,
        version -> Int4,
        launched_at -> Timestamptz,
        ready_at -> Nullable<Timestamptz>,
        terminated_at -> Nullable<Timestamptz>,
        instance_recorded_at -> Nullable<Timestamptz>,
        state_since -> Timestamptz,
    }
}

diesel::table! {
    launch_keys (launch_key) {
        launch_key -> Uuid,
        token_id -> Int8,
        request_digest -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Int8,
        user_id -> Int8,
        account_id -> Int8,
        name -> Text,
        token_hash -> Bytea,
        access -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(launch_keys -> api_tokens (token_id));
diesel::joinable!(api_tokens -> accounts (account_id));
diesel::joinable!(accounts -> companies (company_id));
diesel::joinable!(servers -> accounts (account_id));
diesel::joinable!(servers -> image_records (image_record_id));
diesel::joinable!(servers -> provider_images (provider_image_id));
diesel::joinable!(servers -> budget_codes (budget_code_id));
diesel::joinable!(jobs -> accounts (account_id));
diesel::joinable!(jobs -> users (requested_by));
diesel::joinable!(users -> companies (company_id));
diesel::joinable!(account_memberships -> accounts (account_id));
diesel::joinable!(account_memberships -> users (user_id));
diesel::joinable!(group_members -> groups (group_id));
diesel::joinable!(group_members -> users (user_id));
diesel::joinable!(access_rights -> roles (role_id));
diesel::joinable!(group_roles -> groups (group_id));
diesel::joinable!(group_roles -> roles (role_id));
diesel::joinable!(group_roles -> accounts (account_id));
diesel::joinable!(user_budget_codes -> budget_codes (budget_code_id));
diesel::joinable!(image_records -> provider_images (provider_image_id));
diesel::joinable!(image_records -> accounts (account_id));
diesel::joinable!(image_records -> users (owner_user_id));
diesel::joinable!(image_records -> groups (owner_group_id));
diesel::joinable!(image_records -> budget_codes (budget_code_id));
diesel::joinable!(firewall_rules -> firewalls (firewall_id));

diesel::allow_tables_to_appear_in_same_query!(
    access_versions,
    companies,
    accounts,
    users,
    account_memberships,
    groups,
    group_members,
    roles,
    access_rights,
    group_roles,
    budget_codes,
    user_budget_codes,
    provider_images,
    image_records,
    public_images,
    sessions,
    login_attempts,
    audit_events,
    jobs,
    prices,
    products,
    firewall_rules,
    zones,
    firewalls,
    key_pairs,
    servers,
    api_tokens,
    launch_keys,
);
