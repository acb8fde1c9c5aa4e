//! Firewalls (security groups) of an account, as syncs and the Firewalls
//! page write them.
//!
//! A firewall made on the page is written before the provider has it, so
//! its `provider_id` is NULL until its job stores the group id. Rows with
//! `active = false` are gone at the provider and rows in `DELETING` wait for
//! their delete job: neither is listed. EC2 keeps names unique per network
//! only, and a synced account may hold several `default` groups, so the
//! database has no unique index on names: the page checks a new name under
//! a lock on the account's row ([`lock_names`]), and the provider has the
//! last word.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::lower;
use super::schema::{accounts, firewalls, servers};
use super::servers::alive;
use crate::domain::resource::ResourceState;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = firewalls)]
pub struct FirewallRow {
    pub id: i64,
    pub account_id: i64,
    /// The group id (`sg-…`); `None` until the provider has made it.
    pub provider_id: Option<String>,
    pub name: String,
    pub description: String,
    /// `PENDING`, `ACTIVE`, `DELETING` or `ERROR` (see migration 000008).
    #[diesel(deserialize_as = String)]
    pub state: ResourceState,
    pub last_error: Option<String>,
}

impl FirewallRow {
    /// The provider has it: a server can be launched with it.
    pub fn is_ready(&self) -> bool {
        self.state == ResourceState::Active && self.provider_id.is_some()
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = firewalls)]
pub struct NewFirewall<'a> {
    pub account_id: i64,
    pub name: &'a str,
    pub description: &'a str,
    pub state: &'a str,
}

fn visible(account_id: i64) -> firewalls::BoxedQuery<'static, diesel::pg::Pg> {
    firewalls::table
        .filter(firewalls::account_id.eq(account_id))
        .filter(firewalls::active.eq(true))
        .filter(firewalls::state.ne(ResourceState::Deleting.as_str()))
        .into_boxed()
}

/// The names, in order, of the firewalls `ids` of the account that still
/// exist (neither gone at the provider nor being deleted).
pub async fn names(conn: &mut AsyncPgConnection, account_id: i64, ids: &[i64]) -> QueryResult<Vec<String>> {
    visible(account_id)
        .filter(firewalls::id.eq_any(ids))
        .order(firewalls::name)
        .select(firewalls::name)
        .load(conn)
        .await
}

/// The account's firewalls as the page lists them, by name: ready ones and
/// those being made or whose making failed (see [`FirewallRow::is_ready`]).
/// EC2 caps security groups at a few thousand a region; an account holds
/// far fewer.
pub async fn list(conn: &mut AsyncPgConnection, account_id: i64) -> QueryResult<Vec<FirewallRow>> {
    visible(account_id).order((firewalls::name, firewalls::id)).select(FirewallRow::as_select()).load(conn).await
}

/// A listed firewall of the account; `NotFound` for any other id.
pub async fn find(conn: &mut AsyncPgConnection, account_id: i64, id: i64) -> QueryResult<FirewallRow> {
    visible(account_id).filter(firewalls::id.eq(id)).select(FirewallRow::as_select()).first(conn).await
}

/// Holds the account's ready firewalls `ids` against a delete for the rest
/// of the transaction (a launch that uses them); false when one is no
/// longer ready. A delete locks it first ([`find_for_delete`]).
pub async fn hold_ready(conn: &mut AsyncPgConnection, account_id: i64, ids: &[i64]) -> QueryResult<bool> {
    let held: Vec<i64> = firewalls::table
        .filter(firewalls::account_id.eq(account_id))
        .filter(firewalls::active.eq(true))
        .filter(firewalls::id.eq_any(ids))
        .filter(firewalls::state.eq(ResourceState::Active.as_str()))
        .filter(firewalls::provider_id.is_not_null())
        .order(firewalls::id)
        .select(firewalls::id)
        .for_share()
        .load(conn)
        .await?;
    Ok(ids.iter().all(|id| held.contains(id)))
}

/// [`find`], locked until the transaction ends: for a delete, which counts
/// the servers using it next (a launch holding it, [`hold_ready`], is
/// waited for, and its servers counted), and for a change of its rules,
/// which must not meet a delete halfway.
pub async fn find_for_delete(conn: &mut AsyncPgConnection, account_id: i64, id: i64) -> QueryResult<FirewallRow> {
    // `visible`, unboxed: a boxed query cannot lock.
    firewalls::table
        .filter(firewalls::account_id.eq(account_id))
        .filter(firewalls::active.eq(true))
        .filter(firewalls::state.ne(ResourceState::Deleting.as_str()))
        .filter(firewalls::id.eq(id))
        .select(FirewallRow::as_select())
        .for_update()
        .first(conn)
        .await
}

/// Locks the account's row until the transaction ends, so two new firewalls
/// of one name cannot both pass [`name_taken`]. (It does not hold up reads,
/// nor rows that merely refer to the account.)
pub async fn lock_names(conn: &mut AsyncPgConnection, account_id: i64) -> QueryResult<()> {
    accounts::table.find(account_id).select(accounts::id).for_no_key_update().first::<i64>(conn).await.map(drop)
}

/// The name and state of a firewall that still counts (listed, or being
/// deleted) and is called `name`, in any case: EC2's security group names
/// are unique regardless of case ("web" takes "Web").
pub async fn name_taken(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    name: &str,
) -> QueryResult<Option<(String, ResourceState)>> {
    firewalls::table
        .filter(firewalls::account_id.eq(account_id))
        .filter(lower(firewalls::name).eq(lower(name)))
        .filter(firewalls::active.eq(true))
        .select((firewalls::name, firewalls::state))
        .first::<(String, String)>(conn)
        .await
        .optional()
        .map(|taken| taken.map(|(name, state)| (name, ResourceState::from(state))))
}

pub async fn insert(conn: &mut AsyncPgConnection, row: &NewFirewall<'_>) -> QueryResult<i64> {
    diesel::insert_into(firewalls::table).values(row).returning(firewalls::id).get_result(conn).await
}

// `made(provider_id)`, `mark_deleting` (an active firewall with its group
// id), `remove` and `failed`, as key pairs have them.
resource_state_writes!(firewalls, ready: firewalls::provider_id.is_not_null(); made(provider_id: &str => provider_id));

/// Live servers of the account by firewall (`servers.firewall_ids` holds
/// `firewalls.id`). Counted here from the live servers' arrays: an account
/// has few live servers, each with a handful of firewalls.
pub async fn live_servers(conn: &mut AsyncPgConnection, account_id: i64) -> QueryResult<HashMap<i64, i64>> {
    let arrays: Vec<Vec<i64>> = servers::table
        .filter(servers::account_id.eq(account_id))
        .filter(servers::state.eq_any(alive()))
        .select(servers::firewall_ids)
        .load(conn)
        .await?;
    let mut counts = HashMap::new();
    for mut ids in arrays {
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            *counts.entry(id).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

/// Live servers of the account that use the firewall `id`.
pub async fn live_servers_using(conn: &mut AsyncPgConnection, account_id: i64, id: i64) -> QueryResult<i64> {
    use diesel::PgArrayExpressionMethods as _;
    servers::table
        .filter(servers::account_id.eq(account_id))
        .filter(servers::state.eq_any(alive()))
        .filter(servers::firewall_ids.contains(vec![id]))
        .count()
        .get_result(conn)
        .await
}
