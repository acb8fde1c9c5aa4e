//! Personal access tokens: their rows, found by the SHA-256 a request
//! presents (`domain::tokens`).

use chrono::{DateTime, Utc};
use diesel::dsl::now;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{access_versions, accounts, api_tokens, users};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens, check_for_backend(diesel::pg::Pg))]
pub struct TokenRow {
    pub id: i64,
    pub user_id: i64,
    pub account_id: i64,
    pub name: String,
    pub access: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = api_tokens)]
pub struct NewToken<'a> {
    pub user_id: i64,
    pub account_id: i64,
    pub name: &'a str,
    pub token_hash: &'a [u8],
    pub access: &'a str,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut AsyncPgConnection, token: &NewToken<'_>) -> QueryResult<TokenRow> {
    diesel::insert_into(api_tokens::table).values(token).returning(TokenRow::as_returning()).get_result(conn).await
}

/// The token with this hash, whatever its state (the caller says why an
/// expired or revoked one is refused), and in the same statement the access
/// version of its user's company (`auth::current::AccessCache`).
pub async fn find_by_hash(conn: &mut AsyncPgConnection, hash: &[u8]) -> QueryResult<Option<(TokenRow, i64)>> {
    let found: Option<(TokenRow, Option<i64>)> = api_tokens::table
        .inner_join(users::table)
        .left_join(access_versions::table.on(access_versions::company_id.eq(users::company_id)))
        .filter(api_tokens::token_hash.eq(hash))
        .select((TokenRow::as_select(), access_versions::version.nullable()))
        .first(conn)
        .await
        .optional()?;
    Ok(found.map(|(token, version)| (token, super::access_version_or_first(version))))
}

/// A use of the token is noted at most this often: a write per request
/// would cost more than the request.
const TOUCH_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// Whether the token row just read says its use is due to be noted.
pub fn needs_touch(token: &TokenRow) -> bool {
    token.last_used_at.is_none_or(|at| at < Utc::now() - TOUCH_EVERY)
}

/// Notes a use of the token, at most once a minute (see [`needs_touch`]).
pub async fn touch(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
    let due = Utc::now() - TOUCH_EVERY;
    diesel::update(
        api_tokens::table
            .filter(api_tokens::id.eq(id))
            .filter(api_tokens::last_used_at.is_null().or(api_tokens::last_used_at.lt(due))),
    )
    .set(api_tokens::last_used_at.eq(now))
    .execute(conn)
    .await
    .map(drop)
}

/// The user's tokens, newest first, with the name of the account each acts in.
pub async fn of_user(conn: &mut AsyncPgConnection, user_id: i64) -> QueryResult<Vec<(TokenRow, String)>> {
    api_tokens::table
        .inner_join(accounts::table)
        .filter(api_tokens::user_id.eq(user_id))
        .order((api_tokens::created_at.desc(), api_tokens::id.desc()))
        .select((TokenRow::as_select(), accounts::name))
        .load(conn)
        .await
}

/// The user's token `id`, with its account's name.
pub async fn find_of_user(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    id: i64,
) -> QueryResult<Option<(TokenRow, String)>> {
    api_tokens::table
        .inner_join(accounts::table)
        .filter(api_tokens::user_id.eq(user_id))
        .filter(api_tokens::id.eq(id))
        .select((TokenRow::as_select(), accounts::name))
        .first(conn)
        .await
        .optional()
}

/// Revokes the user's token `id`: the account it acted in and its name, or
/// `None` when the user has no such live token.
pub async fn revoke(conn: &mut AsyncPgConnection, user_id: i64, id: i64) -> QueryResult<Option<(i64, String)>> {
    diesel::update(
        api_tokens::table
            .filter(api_tokens::id.eq(id))
            .filter(api_tokens::user_id.eq(user_id))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(now))
    .returning((api_tokens::account_id, api_tokens::name))
    .get_result(conn)
    .await
    .optional()
}

/// Revokes every live token of the user (deactivated); how many.
pub async fn revoke_all(conn: &mut AsyncPgConnection, user_id: i64) -> QueryResult<usize> {
    diesel::update(api_tokens::table.filter(api_tokens::user_id.eq(user_id)).filter(api_tokens::revoked_at.is_null()))
        .set(api_tokens::revoked_at.eq(now))
        .execute(conn)
        .await
}
