//! Console users.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::lower;
use super::schema::users;
use crate::domain::admin::UserStatus;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub company_id: i64,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    pub password_hash: String,
    #[diesel(deserialize_as = String)]
    pub status: UserStatus,
}

/// A user with the version their edit form carries (every write of the row
/// adds one; `db::admin` writes them).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct VersionedUser {
    #[diesel(embed)]
    pub user: User,
    pub version: i32,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub company_id: i64,
    pub email: &'a str,
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub password_hash: &'a str,
    pub status: &'a str,
}

impl<'a> NewUser<'a> {
    /// An active user of `company`, as a person typed them in.
    pub fn active(
        company_id: i64,
        email: &'a str,
        (given_name, family_name): (&'a str, &'a str),
        password_hash: &'a str,
    ) -> Self {
        Self { company_id, email, given_name, family_name, password_hash, status: UserStatus::Active.as_str() }
    }
}

impl User {
    pub fn is_active(&self) -> bool {
        self.status == UserStatus::Active
    }

    pub fn full_name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }
}

/// Looks a user up by email, ignoring case.
pub async fn find_by_email(conn: &mut AsyncPgConnection, email: &str) -> QueryResult<Option<User>> {
    users::table.filter(lower(users::email).eq(lower(email))).select(User::as_select()).first(conn).await.optional()
}

pub async fn insert(conn: &mut AsyncPgConnection, user: &NewUser<'_>) -> QueryResult<User> {
    diesel::insert_into(users::table).values(user).returning(User::as_returning()).get_result(conn).await
}

/// "Given Family" of each of `ids` that exists.
pub async fn names(conn: &mut AsyncPgConnection, ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    let rows: Vec<(i64, String, String)> = users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::given_name, users::family_name))
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|(id, given, family)| (id, format!("{given} {family}"))).collect())
}
