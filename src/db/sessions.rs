//! Server-side session state, keyed by the SHA-256 of the session key.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{access_versions, sessions, users};

/// A live session as read.
pub struct Loaded {
    pub state: serde_json::Value,
    /// The access version of the signed-in user's company (see the
    /// migration `access_version`); `None` without a user.
    pub access_version: Option<i64>,
}

/// The state of a live (unexpired) session, and in the same statement the
/// access version of its user's company.
pub async fn load(conn: &mut AsyncPgConnection, key_hash: &str) -> QueryResult<Option<Loaded>> {
    let found: Option<(serde_json::Value, Option<i64>, Option<i64>)> = sessions::table
        .left_join(users::table.on(users::id.nullable().eq(sessions::user_id)))
        .left_join(access_versions::table.on(access_versions::company_id.eq(users::company_id)))
        .filter(sessions::key_hash.eq(key_hash))
        .filter(sessions::expires_at.gt(Utc::now()))
        .select((sessions::state, users::company_id.nullable(), access_versions::version.nullable()))
        .first(conn)
        .await
        .optional()?;
    Ok(found.map(|(state, company, version)| Loaded {
        state,
        access_version: company.map(|_| super::access_version_or_first(version)),
    }))
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    key_hash: &str,
    state: &serde_json::Value,
    user_id: Option<i64>,
    expires_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::key_hash.eq(key_hash),
            sessions::state.eq(state),
            sessions::user_id.eq(user_id),
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
    user_id: Option<i64>,
    expires_at: DateTime<Utc>,
) -> QueryResult<bool> {
    let updated = diesel::update(sessions::table.find(key_hash).filter(sessions::expires_at.gt(Utc::now())))
        .set((sessions::state.eq(state), sessions::user_id.eq(user_id), sessions::expires_at.eq(expires_at)))
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
