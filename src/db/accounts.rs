//! Cloud accounts and who may enter them.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{account_memberships, accounts};

#[derive(Debug, Clone, Queryable, Selectable, serde::Deserialize)]
#[diesel(table_name = accounts)]
pub struct Account {
    pub id: i64,
    pub company_id: i64,
    pub name: String,
    pub provider: String,
    pub region: String,
    pub provider_account_number: String,
    /// An EC2-compatible endpoint of this account's own, if any.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub synced_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    pub unreachable_since: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = accounts)]
pub struct NewAccount<'a> {
    pub company_id: i64,
    pub name: &'a str,
    pub provider: &'a str,
    pub region: &'a str,
    pub provider_account_number: &'a str,
    pub endpoint: Option<&'a str>,
    /// `assume_role` (with `role_arn`) or `ambient`: see [`Authentication`].
    pub auth: &'a str,
    pub role_arn: Option<&'a str>,
}

/// How the console authenticates to an account's provider, as stored: read
/// only to connect (the pages' `Account` never carries it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// Assume this IAM role in the account, with the company's external ID.
    AssumeRole { role_arn: String, external_id: String },
    /// The console's own credentials, from its environment.
    Ambient,
}

/// The authentication of account `id`.
pub async fn authentication(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Authentication> {
    use super::schema::companies;
    let (auth, role_arn, external_id): (String, Option<String>, String) = accounts::table
        .inner_join(companies::table)
        .filter(accounts::id.eq(id))
        .select((accounts::auth, accounts::role_arn, companies::external_id))
        .first(conn)
        .await?;
    Ok(match (auth.as_str(), role_arn) {
        ("assume_role", Some(role_arn)) => Authentication::AssumeRole { role_arn, external_id },
        // The table's constraints allow nothing else.
        _ => Authentication::Ambient,
    })
}

impl Account {
    /// "N. Virginia (us-east-1)": the region as people say it.
    pub fn region_title(&self) -> String {
        match region_name(&self.region) {
            Some(name) => format!("{name} ({})", self.region),
            None => self.region.clone(),
        }
    }
}

fn region_name(code: &str) -> Option<&'static str> {
    Some(match code {
        "us-east-1" => "N. Virginia",
        "us-east-2" => "Ohio",
        "us-west-1" => "N. California",
        "us-west-2" => "Oregon",
        "eu-west-1" => "Ireland",
        "eu-central-1" => "Frankfurt",
        "ap-southeast-2" => "Sydney",
        "ap-northeast-1" => "Tokyo",
        _ => return None,
    })
}

/// The accounts a user may enter, by name.
pub async fn for_user(conn: &mut AsyncPgConnection, user_id: i64) -> QueryResult<Vec<Account>> {
    accounts::table
        .inner_join(account_memberships::table)
        .filter(account_memberships::user_id.eq(user_id))
        .order((accounts::name, accounts::id))
        .select(Account::as_select())
        .load(conn)
        .await
}

pub async fn insert(conn: &mut AsyncPgConnection, account: &NewAccount<'_>) -> QueryResult<Account> {
    diesel::insert_into(accounts::table).values(account).returning(Account::as_returning()).get_result(conn).await
}

pub async fn add_member(conn: &mut AsyncPgConnection, account_id: i64, user_id: i64) -> QueryResult<()> {
    diesel::insert_into(account_memberships::table)
        .values((account_memberships::account_id.eq(account_id), account_memberships::user_id.eq(user_id)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(drop)
}

pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Account> {
    accounts::table.find(id).select(Account::as_select()).first(conn).await
}

/// The capabilities a worker detected for the account's provider, if one has
/// connected yet (stored as `cloud::Capabilities` serializes).
pub async fn capabilities(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<serde_json::Value>> {
    accounts::table.find(id).select(accounts::capabilities).first(conn).await
}

pub async fn set_capabilities(
    conn: &mut AsyncPgConnection,
    id: i64,
    capabilities: serde_json::Value,
) -> QueryResult<()> {
    diesel::update(accounts::table.find(id)).set(accounts::capabilities.eq(capabilities)).execute(conn).await.map(drop)
}
