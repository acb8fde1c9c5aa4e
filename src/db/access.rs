//! Loading a user's rights in an account (the rules are in `domain::access`).

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{access_rights, group_members, group_roles, user_budget_codes};
use crate::domain::access::{AccessRight, Grant, Rights};

/// The sum of the rights of the roles the user's groups hold in the account.
/// Stored names that this build does not know are skipped, never widened.
pub async fn rights_in_account(conn: &mut AsyncPgConnection, user_id: i64, account_id: i64) -> QueryResult<Rights> {
    let groups: Vec<i64> = group_members::table
        .filter(group_members::user_id.eq(user_id))
        .select(group_members::group_id)
        .load(conn)
        .await?;
    let codes: Vec<i64> = user_budget_codes::table
        .filter(user_budget_codes::user_id.eq(user_id))
        .select(user_budget_codes::budget_code_id)
        .load(conn)
        .await?;
    let rows: Vec<(String, String, String, i64)> = group_roles::table
        .inner_join(access_rights::table.on(access_rights::role_id.eq(group_roles::role_id)))
        .filter(group_roles::account_id.eq(account_id))
        .filter(group_roles::group_id.eq_any(&groups))
        .select((access_rights::resource, access_rights::action, access_rights::qualifier, group_roles::group_id))
        .load(conn)
        .await?;
    let grants = rows
        .into_iter()
        .filter_map(|(resource, action, qualifier, via_group)| {
            let right = AccessRight::new(resource.parse().ok()?, action.parse().ok()?, qualifier.parse().ok()?);
            Some(Grant { right, via_group })
        })
        .collect();
    Ok(Rights::new(user_id, groups, codes, grants))
}
