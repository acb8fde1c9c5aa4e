//! Sign-in attempts, for throttling guessing.

use chrono::{DateTime, Utc};
use diesel::dsl::{count_star, min};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::lower;
use super::schema::login_attempts;

/// Failed attempts since `since` and when the oldest of them happened.
#[derive(Debug, Clone, Copy)]
pub struct Failures {
    pub count: i64,
    pub oldest: Option<DateTime<Utc>>,
}

pub async fn failures_for_email(
    conn: &mut AsyncPgConnection,
    email: &str,
    since: DateTime<Utc>,
) -> QueryResult<Failures> {
    let (count, oldest) = login_attempts::table
        .filter(lower(login_attempts::email).eq(lower(email)))
        .filter(login_attempts::attempted_at.gt(since))
        .filter(login_attempts::succeeded.eq(false))
        .select((count_star(), min(login_attempts::attempted_at)))
        .first(conn)
        .await?;
    Ok(Failures { count, oldest })
}

pub async fn failures_for_ip(conn: &mut AsyncPgConnection, ip: &str, since: DateTime<Utc>) -> QueryResult<Failures> {
    let (count, oldest) = login_attempts::table
        .filter(login_attempts::ip.eq(ip))
        .filter(login_attempts::attempted_at.gt(since))
        .filter(login_attempts::succeeded.eq(false))
        .select((count_star(), min(login_attempts::attempted_at)))
        .first(conn)
        .await?;
    Ok(Failures { count, oldest })
}

/// Writes an attempt, a failure until it [`succeeded`]; its id.
pub async fn record(conn: &mut AsyncPgConnection, email: &str, ip: &str) -> QueryResult<i64> {
    diesel::insert_into(login_attempts::table)
        .values((login_attempts::email.eq(email), login_attempts::ip.eq(ip), login_attempts::succeeded.eq(false)))
        .returning(login_attempts::id)
        .get_result(conn)
        .await
}

/// Attempt `id` signed in.
pub async fn succeeded(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
    diesel::update(login_attempts::table.find(id)).set(login_attempts::succeeded.eq(true)).execute(conn).await.map(drop)
}

/// Attempt `id` was refused before its password was checked: it counts for
/// nothing.
pub async fn forget(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
    diesel::delete(login_attempts::table.find(id)).execute(conn).await.map(drop)
}
