//! Who the signed-in user is, where they may work and what they may do, in
//! one query (the rules are in `domain::access`).
//!
//! Every request needs this, so it is one round trip rather than five: the
//! accounts and grants come back aggregated as JSON, which diesel's DSL cannot
//! express, hence SQL with a bind parameter. It is a query type of its own
//! (not `sql_query`) so that each connection prepares it once: planning it
//! costs more than running it.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Json, Text, Untyped};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;

use super::accounts::Account;
use super::users::User;
use crate::domain::access::{AccessRight, Action, Grant, Resource, Rights};

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    company_id: i64,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    given_name: String,
    #[diesel(sql_type = Text)]
    family_name: String,
    #[diesel(sql_type = Text)]
    password_hash: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Json)]
    accounts: serde_json::Value,
    #[diesel(sql_type = Array<BigInt>)]
    groups: Vec<i64>,
    #[diesel(sql_type = Array<BigInt>)]
    budget_codes: Vec<i64>,
    #[diesel(sql_type = Json)]
    grants: serde_json::Value,
    #[diesel(sql_type = Json)]
    new_account_grants: serde_json::Value,
}

/// A right as stored: `(account, resource, action, qualifier, via group)`.
#[derive(Deserialize)]
struct StoredGrant(i64, String, String, String, i64);

pub struct AuthContext {
    pub user: User,
    /// The accounts the user is a member of, by name.
    pub accounts: Vec<Account>,
    groups: Vec<i64>,
    budget_codes: Vec<i64>,
    grants: Vec<StoredGrant>,
    /// What the user's groups receive in an account connected from now on
    /// (account 0).
    new_account_grants: Vec<StoredGrant>,
    /// The accounts among `accounts` whose rights open the console
    /// (`CONSOLE Access`): those the user can work in.
    workable: Vec<i64>,
}

impl AuthContext {
    /// The sum of the rights of the roles the user's groups hold in the
    /// account. Stored names this build does not know are skipped, never
    /// widened.
    pub fn rights_in(&self, account_id: i64) -> Rights {
        self.rights_of(self.grants.iter().filter(|g| g.0 == account_id))
    }

    /// The accounts the user can work in (their rights there open the
    /// console), by name: where they sign in, what the account switcher
    /// offers, what they may share with and make tokens for.
    pub fn workable_accounts(&self) -> Vec<Account> {
        self.accounts.iter().filter(|a| self.workable.contains(&a.id)).cloned().collect()
    }

    /// The rights the user would hold in an account connected now: those of
    /// the roles their groups receive in new accounts. What a user with no
    /// account yet may do (connect the first one).
    pub fn rights_in_new_account(&self) -> Rights {
        self.rights_of(self.new_account_grants.iter())
    }

    fn rights_of<'a>(&self, grants: impl Iterator<Item = &'a StoredGrant>) -> Rights {
        let grants = grants
            .filter_map(|StoredGrant(_, resource, action, qualifier, via_group)| {
                let right = AccessRight::new(resource.parse().ok()?, action.parse().ok()?, qualifier.parse().ok()?);
                Some(Grant { right, via_group: *via_group })
            })
            .collect();
        Rights::new(self.user.id, self.groups.iter().copied(), self.budget_codes.iter().copied(), grants)
    }
}

/// The query, with a static `QueryId` so diesel keeps it prepared.
#[derive(Debug, Clone, Copy, QueryId)]
struct AuthContextQuery {
    user_id: i64,
}

impl QueryFragment<Pg> for AuthContextQuery {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(QUERY);
        out.push_bind_param::<BigInt, _>(&self.user_id)
    }
}

impl Query for AuthContextQuery {
    type SqlType = Untyped;
}

const QUERY: &str = "
SELECT u.id, u.company_id, u.email, u.given_name, u.family_name, u.password_hash, u.status,
    coalesce((SELECT json_agg(json_build_object(
                'id', a.id, 'company_id', a.company_id, 'name', a.name, 'provider', a.provider,
                'region', a.region, 'provider_account_number', a.provider_account_number,
                'endpoint', a.endpoint, 'credentials_version', a.credentials_version) ORDER BY a.name, a.id)
              FROM accounts a JOIN account_memberships m ON m.account_id = a.id
              WHERE m.user_id = u.id AND a.disabled_at IS NULL), '[]') AS accounts,
    ARRAY(SELECT group_id FROM group_members WHERE user_id = u.id) AS groups,
    ARRAY(SELECT budget_code_id FROM user_budget_codes WHERE user_id = u.id) AS budget_codes,
    coalesce((SELECT json_agg(json_build_array(gr.account_id, ar.resource, ar.action, ar.qualifier, gr.group_id))
              FROM group_members gm
              JOIN group_roles gr ON gr.group_id = gm.group_id
              JOIN account_memberships m ON m.account_id = gr.account_id AND m.user_id = gm.user_id
              JOIN access_rights ar ON ar.role_id = gr.role_id
              WHERE gm.user_id = u.id), '[]') AS grants,
    coalesce((SELECT json_agg(json_build_array(0, ar.resource, ar.action, ar.qualifier, g.id))
              FROM group_members gm
              JOIN groups g ON g.id = gm.group_id
              JOIN access_rights ar ON ar.role_id = g.role_in_new_accounts
              WHERE gm.user_id = u.id), '[]') AS new_account_grants
FROM users u
WHERE u.id = ";

/// Everything about a user that authorizing a request needs; `None` when the
/// user no longer exists.
pub async fn auth_context(conn: &mut AsyncPgConnection, user_id: i64) -> QueryResult<Option<AuthContext>> {
    let Some(row) = AuthContextQuery { user_id }.get_result::<Row>(conn).await.optional()? else {
        return Ok(None);
    };
    let corrupt = |e: serde_json::Error| diesel::result::Error::DeserializationError(Box::new(e));
    let mut context = AuthContext {
        user: User {
            id: row.id,
            company_id: row.company_id,
            email: row.email,
            given_name: row.given_name,
            family_name: row.family_name,
            password_hash: row.password_hash,
            status: row.status.try_into().map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?,
        },
        accounts: serde_json::from_value(row.accounts).map_err(corrupt)?,
        groups: row.groups,
        budget_codes: row.budget_codes,
        grants: serde_json::from_value(row.grants).map_err(corrupt)?,
        new_account_grants: serde_json::from_value(row.new_account_grants).map_err(corrupt)?,
        workable: Vec::new(),
    };
    context.workable = context
        .accounts
        .iter()
        .map(|a| a.id)
        .filter(|&id| context.rights_in(id).allows_some(Resource::Console, Action::Access))
        .collect();
    Ok(Some(context))
}
