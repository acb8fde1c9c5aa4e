//! Key pairs of an account, as syncs and the Key Pairs page write them.
//!
//! Rows with `active = false` are gone at the provider (a sync found them
//! missing) and rows in `DELETING` wait for their delete job: neither is
//! listed. Names are unique per account (`UNIQUE (account_id, name)`), so a
//! second key pair of the same name is refused by the database too. A
//! private key is never written anywhere.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{key_pairs, servers};
use super::servers::alive;
use crate::domain::resource::ResourceState;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = key_pairs)]
pub struct KeyPairRow {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    /// As the provider reports it; empty until an import is done.
    pub fingerprint: String,
    pub provider_id: Option<String>,
    /// `PENDING`, `ACTIVE`, `DELETING` or `ERROR` (see migration 000008).
    #[diesel(deserialize_as = String)]
    pub state: ResourceState,
    pub last_error: Option<String>,
}

impl KeyPairRow {
    /// The provider has it: a server can be launched with it.
    pub fn is_ready(&self) -> bool {
        self.state == ResourceState::Active
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = key_pairs)]
pub struct NewKeyPair<'a> {
    pub account_id: i64,
    pub name: &'a str,
    pub fingerprint: &'a str,
    pub provider_id: Option<&'a str>,
    pub state: &'a str,
}

fn visible(account_id: i64) -> key_pairs::BoxedQuery<'static, diesel::pg::Pg> {
    key_pairs::table
        .filter(key_pairs::account_id.eq(account_id))
        .filter(key_pairs::active.eq(true))
        .filter(key_pairs::state.ne(ResourceState::Deleting.as_str()))
        .into_boxed()
}

/// The account's key pairs as the page lists them, by name: ready ones and
/// those being imported or whose import failed (see [`KeyPairRow::is_ready`]).
/// An account holds a few dozen; EC2 caps them at 5,000 a region.
pub async fn list(conn: &mut AsyncPgConnection, account_id: i64) -> QueryResult<Vec<KeyPairRow>> {
    visible(account_id).order((key_pairs::name, key_pairs::id)).select(KeyPairRow::as_select()).load(conn).await
}

/// A listed key pair of the account; `NotFound` for any other id.
pub async fn find(conn: &mut AsyncPgConnection, account_id: i64, id: i64) -> QueryResult<KeyPairRow> {
    visible(account_id).filter(key_pairs::id.eq(id)).select(KeyPairRow::as_select()).first(conn).await
}

/// Holds the account's ready key pair `name` against a delete for the rest
/// of the transaction (a launch that names it); false when it is no longer
/// ready. A delete locks it first ([`find_for_delete`]).
pub async fn hold_ready(conn: &mut AsyncPgConnection, account_id: i64, name: &str) -> QueryResult<bool> {
    let held: Option<i64> = key_pairs::table
        .filter(key_pairs::account_id.eq(account_id))
        .filter(key_pairs::active.eq(true))
        .filter(key_pairs::name.eq(name))
        .filter(key_pairs::state.eq(ResourceState::Active.as_str()))
        .select(key_pairs::id)
        .for_share()
        .first(conn)
        .await
        .optional()?;
    Ok(held.is_some())
}

/// [`find`], locked for a delete, which counts the servers using it next:
/// a launch holding it ([`hold_ready`]) is waited for, and its servers
/// counted.
pub async fn find_for_delete(conn: &mut AsyncPgConnection, account_id: i64, id: i64) -> QueryResult<KeyPairRow> {
    // `visible`, unboxed: a boxed query cannot lock.
    key_pairs::table
        .filter(key_pairs::account_id.eq(account_id))
        .filter(key_pairs::active.eq(true))
        .filter(key_pairs::state.ne(ResourceState::Deleting.as_str()))
        .filter(key_pairs::id.eq(id))
        .select(KeyPairRow::as_select())
        .for_update()
        .first(conn)
        .await
}

/// The state of the account's key pair called `name` that still counts
/// (listed, or being deleted), if there is one.
pub async fn name_taken(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    name: &str,
) -> QueryResult<Option<ResourceState>> {
    key_pairs::table
        .filter(key_pairs::account_id.eq(account_id))
        .filter(key_pairs::name.eq(name))
        .filter(key_pairs::active.eq(true))
        .select(key_pairs::state)
        .first::<String>(conn)
        .await
        .optional()
        .map(|state| state.map(ResourceState::from))
}

/// Writes a key pair; the row of a key pair of the same name that is gone at
/// the provider makes way first. Returns the new row's id, or `None` when
/// the account already has a key pair of that name (one written meanwhile is
/// waited for, not failed on: see [`synced`]).
pub async fn insert(conn: &mut AsyncPgConnection, row: &NewKeyPair<'_>) -> QueryResult<Option<i64>> {
    diesel::delete(
        key_pairs::table
            .filter(key_pairs::account_id.eq(row.account_id))
            .filter(key_pairs::name.eq(row.name))
            .filter(key_pairs::active.eq(false)),
    )
    .execute(conn)
    .await?;
    diesel::insert_into(key_pairs::table)
        .values(row)
        .on_conflict((key_pairs::account_id, key_pairs::name))
        .do_nothing()
        .returning(key_pairs::id)
        .get_result(conn)
        .await
        .optional()
}

/// The id of the account's ready key pair `name` holding the key of
/// `fingerprint`: the row a key-pair sync wrote for a key pair the provider
/// had just made, while the change that made it had not written it yet.
pub async fn synced(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    name: &str,
    fingerprint: &str,
) -> QueryResult<Option<i64>> {
    key_pairs::table
        .filter(key_pairs::account_id.eq(account_id))
        .filter(key_pairs::name.eq(name))
        .filter(key_pairs::active.eq(true))
        .filter(key_pairs::state.eq(ResourceState::Active.as_str()))
        .filter(key_pairs::fingerprint.eq(fingerprint))
        .select(key_pairs::id)
        .first(conn)
        .await
        .optional()
}

// `made(fingerprint, provider_id)`, `mark_deleting`, `remove` and
// `failed`, as firewalls have them.
resource_state_writes!(key_pairs; made(fingerprint: &str => fingerprint, provider_id: Option<&str> => provider_id));

/// Live servers of the account by the key pair they were launched with.
pub async fn live_servers(conn: &mut AsyncPgConnection, account_id: i64) -> QueryResult<HashMap<String, i64>> {
    let counts: Vec<(Option<String>, i64)> = servers::table
        .filter(servers::account_id.eq(account_id))
        .filter(servers::state.eq_any(alive()))
        .filter(servers::key_pair_name.is_not_null())
        .group_by(servers::key_pair_name)
        .select((servers::key_pair_name, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    Ok(counts.into_iter().filter_map(|(name, n)| Some((name?, n))).collect())
}

/// Live servers of the account launched with the key pair `name`.
pub async fn live_servers_using(conn: &mut AsyncPgConnection, account_id: i64, name: &str) -> QueryResult<i64> {
    servers::table
        .filter(servers::account_id.eq(account_id))
        .filter(servers::state.eq_any(alive()))
        .filter(servers::key_pair_name.eq(name))
        .count()
        .get_result(conn)
        .await
}
