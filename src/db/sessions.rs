//! Server-side session state, keyed by the SHA-256 of the session key.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::accounts::ProviderState;
use super::schema::{access_versions, accounts, sessions, users};

/// A live session as read.
pub struct Loaded {
    pub state: serde_json::Value,
    /// The access version of the signed-in user's company (see the
    /// migration `access_version`); `None` without a user.
    pub access_version: Option<i64>,
    /// The session's account, and its provider's state as the job worker
    /// last recorded it; `None` when the session names no account (or one
    /// since removed).
    pub account: Option<(i64, ProviderState)>,
}

/// Who a session is about, copied out of its state into columns of their
/// own: the user, so that ending a user's sessions is one statement, and
/// the current account, so that the lookup can read its provider state.
#[derive(Debug, Clone, Copy, Default)]
pub struct Whose {
    pub user_id: Option<i64>,
    pub account_id: Option<i64>,
}

/// The state of a live (unexpired) session, and in the same statement the
/// access version of its user's company and its account's provider state.
pub async fn load(conn: &mut AsyncPgConnection, key_hash: &str) -> QueryResult<Option<Loaded>> {
    type Stamp = Option<DateTime<Utc>>;
    type Found = (serde_json::Value, Option<i64>, Option<i64>, Option<(i64, Stamp, Stamp)>);
    let found: Option<Found> = sessions::table
        .left_join(users::table.on(users::id.nullable().eq(sessions::user_id)))
        .left_join(access_versions::table.on(access_versions::company_id.eq(users::company_id)))
        .left_join(accounts::table.on(accounts::id.nullable().eq(sessions::account_id)))
        .filter(sessions::key_hash.eq(key_hash))
        .filter(sessions::expires_at.gt(Utc::now()))
        .select((
            sessions::state,
            users::company_id.nullable(),
            access_versions::version.nullable(),
            (accounts::id, accounts::synced_at, accounts::unreachable_since).nullable(),
        ))
        .first(conn)
        .await
        .optional()?;
    Ok(found.map(|(state, company, version, account)| Loaded {
        state,
        access_version: company.map(|_| super::access_version_or_first(version)),
        account: account.map(|(id, synced_at, unreachable_since)| (id, ProviderState { synced_at, unreachable_since })),
    }))
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    key_hash: &str,
    state: &serde_json::Value,
    whose: Whose,
    expires_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::key_hash.eq(key_hash),
            sessions::state.eq(state),
            sessions::user_id.eq(whose.user_id),
            sessions::account_id.eq(whose.account_id),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Replaces the state of a live session; false when it no longer exists.
pub async fn update(
    conn: &mut AsyncPgConnection,
    key_hash: &str,
    state: &serde_json::Value,
    whose: Whose,
    expires_at: DateTime<Utc>,
) -> QueryResult<bool> {
    let updated = diesel::update(sessions::table.find(key_hash).filter(sessions::expires_at.gt(Utc::now())))
        .set((
            sessions::state.eq(state),
            sessions::user_id.eq(whose.user_id),
            sessions::account_id.eq(whose.account_id),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(updated == 1)
}

pub async fn extend(conn: &mut AsyncPgConnection, key_hash: &str, expires_at: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(sessions::table.find(key_hash))
        .set(sessions::expires_at.eq(expires_at))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn delete(conn: &mut AsyncPgConnection, key_hash: &str) -> QueryResult<()> {
    diesel::delete(sessions::table.find(key_hash)).execute(conn).await.map(drop)
}

/// Removes expired sessions; returns how many.
pub async fn purge_expired(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::expires_at.le(Utc::now()))).execute(conn).await
}
