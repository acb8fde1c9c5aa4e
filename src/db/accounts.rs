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
    /// Raised whenever the credentials change: a provider connected with
    /// older ones is not used again.
    #[serde(default)]
    pub credentials_version: i32,
}

/// What the job worker last recorded of an account's provider, as the frame
/// of every page shows it. It decides nobody's rights, so it is not part of
/// the kept authorization context: the session lookup reads the current
/// account's, fresh, with the session (`db::sessions::load`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub struct ProviderState {
    /// When the provider's view was last written into the console.
    pub synced_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Since when the provider has not answered.
    pub unreachable_since: Option<chrono::DateTime<chrono::Utc>>,
}

/// Account `id`'s provider state (the default for an account since removed).
pub async fn provider_state(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<ProviderState> {
    let found = accounts::table.find(id).select(ProviderState::as_select()).first(conn).await.optional()?;
    Ok(found.unwrap_or_default())
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
    #[diesel(embed)]
    pub credentials: StoredCredentials,
}

/// An account's credentials as the table keeps them: `auth` is
/// `assume_role` (with `role_arn`), `access_key` (with `access_key_id` and
/// the sealed secret, see `crate::secrets`) or `ambient`.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = accounts, treat_none_as_null = true)]
pub struct StoredCredentials {
    pub auth: String,
    pub role_arn: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_sealed: Option<Vec<u8>>,
}

/// How the console authenticates to an account's provider, as stored: read
/// only to connect (the pages' `Account` never carries it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// Assume this IAM role in the account, with the company's external ID.
    AssumeRole { role_arn: String, external_id: String },
    /// An IAM user's access key; its secret sealed under `SECRETS_KEY`.
    AccessKey { access_key_id: String, secret_sealed: Vec<u8> },
    /// The console's own credentials, from its environment.
    Ambient,
}

/// The authentication of account `id`.
pub async fn authentication(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Authentication> {
    use super::schema::companies;
    let (auth, role_arn, access_key_id, secret_sealed, external_id): (
        String,
        Option<String>,
        Option<String>,
        Option<Vec<u8>>,
        String,
    ) = accounts::table
        .inner_join(companies::table)
        .filter(accounts::id.eq(id))
        .select((
            accounts::auth,
            accounts::role_arn,
            accounts::access_key_id,
            accounts::secret_sealed,
            companies::external_id,
        ))
        .first(conn)
        .await?;
    Ok(match (auth.as_str(), role_arn, access_key_id, secret_sealed) {
        ("assume_role", Some(role_arn), _, _) => Authentication::AssumeRole { role_arn, external_id },
        ("access_key", _, Some(access_key_id), Some(secret_sealed)) => {
            Authentication::AccessKey { access_key_id, secret_sealed }
        }
        // The table's constraints allow nothing else.
        _ => Authentication::Ambient,
    })
}

/// The external ID of `company`: what the roles its accounts trust must be
/// assumed with.
pub async fn external_id(conn: &mut AsyncPgConnection, company: i64) -> QueryResult<String> {
    use super::schema::companies;
    companies::table.find(company).select(companies::external_id).first(conn).await
}

/// An account as the Cloud Accounts page lists it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub struct Listed {
    pub id: i64,
    pub name: String,
    pub provider: String,
    pub region: String,
    pub provider_account_number: String,
    pub endpoint: Option<String>,
    pub auth: String,
    pub role_arn: Option<String>,
    pub access_key_id: Option<String>,
    pub synced_at: Option<chrono::DateTime<chrono::Utc>>,
    pub unreachable_since: Option<chrono::DateTime<chrono::Utc>>,
    pub failure: Option<String>,
    pub disabled_at: Option<chrono::DateTime<chrono::Utc>>,
    pub version: i32,
    #[diesel(select_expression = super::fixed_sql::fixed::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM account_memberships m WHERE m.account_id = accounts.id)"
    ))]
    #[diesel(select_expression_type = super::fixed_sql::Fixed<diesel::sql_types::BigInt>)]
    pub members: i64,
}

/// The company's accounts, by name.
pub async fn of_company(conn: &mut AsyncPgConnection, company: i64) -> QueryResult<Vec<Listed>> {
    accounts::table
        .filter(accounts::company_id.eq(company))
        .order((accounts::name, accounts::id))
        .select(Listed::as_select())
        .load(conn)
        .await
}

/// Account `id` of `company`; not found for another company's.
pub async fn find_listed(conn: &mut AsyncPgConnection, company: i64, id: i64) -> QueryResult<Listed> {
    accounts::table
        .filter(accounts::company_id.eq(company))
        .filter(accounts::id.eq(id))
        .select(Listed::as_select())
        .first(conn)
        .await
}

/// Account `id` of the company, its row locked against every change and
/// every new row that refers to it (each takes a share of that row through
/// its foreign key) for the rest of the transaction: what a delete reads
/// before it counts what the account still has.
pub async fn lock_for_delete(conn: &mut AsyncPgConnection, company: i64, id: i64) -> QueryResult<Listed> {
    accounts::table
        .filter(accounts::company_id.eq(company))
        .filter(accounts::id.eq(id))
        .select(Listed::as_select())
        .for_update()
        .first(conn)
        .await
}

/// The name of the company's account already connected to this provider
/// account and region (at this endpoint), if there is one.
pub async fn already_connected(
    conn: &mut AsyncPgConnection,
    company: i64,
    number: &str,
    region: &str,
    endpoint: Option<&str>,
    default_endpoint: Option<&str>,
) -> QueryResult<Option<String>> {
    // No endpoint means the console's own (`PROVIDER_ENDPOINT`, else AWS's):
    // an account stored with that endpoint written out is the same one.
    let reached = |e: Option<&str>| e.or(default_endpoint).map(|e| e.trim_end_matches('/').to_owned());
    let found: Vec<(String, Option<String>)> = accounts::table
        .filter(accounts::company_id.eq(company))
        .filter(accounts::provider_account_number.eq(number))
        .filter(accounts::region.eq(region))
        .select((accounts::name, accounts::endpoint))
        .load(conn)
        .await?;
    Ok(found.into_iter().find(|(_, e)| reached(e.as_deref()) == reached(endpoint)).map(|(name, _)| name))
}

/// Whether another account of the company has this name.
pub async fn name_taken(
    conn: &mut AsyncPgConnection,
    company: i64,
    name: &str,
    except: Option<i64>,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        accounts::table
            .filter(accounts::company_id.eq(company))
            .filter(accounts::name.eq(name))
            .filter(accounts::id.ne(except.unwrap_or(0))),
    ))
    .get_result(conn)
    .await
}

/// Disables (or enables) account `id` over `version`; false when stale.
pub async fn set_disabled(conn: &mut AsyncPgConnection, id: i64, version: i32, disabled: bool) -> QueryResult<bool> {
    let at = disabled.then(chrono::Utc::now);
    let n = diesel::update(accounts::table.find(id).filter(accounts::version.eq(version)))
        .set((accounts::disabled_at.eq(at), accounts::version.eq(version + 1)))
        .execute(conn)
        .await?;
    Ok(n == 1)
}

/// Renames account `id` over `version`, and gives it new credentials when
/// `credentials` are given (a provider connected with the old ones is not
/// used again); false when stale.
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: i64,
    version: i32,
    name: &str,
    credentials: Option<&StoredCredentials>,
) -> QueryResult<bool> {
    let target = accounts::table.find(id).filter(accounts::version.eq(version));
    let n = match credentials {
        Some(credentials) => {
            diesel::update(target)
                .set((
                    accounts::name.eq(name),
                    accounts::version.eq(version + 1),
                    accounts::credentials_version.eq(accounts::credentials_version + 1),
                    accounts::unreachable_since.eq(None::<chrono::DateTime<chrono::Utc>>),
                    accounts::failure.eq(None::<String>),
                    credentials,
                ))
                .execute(conn)
                .await?
        }
        None => {
            diesel::update(target)
                .set((accounts::name.eq(name), accounts::version.eq(version + 1)))
                .execute(conn)
                .await?
        }
    };
    Ok(n == 1)
}

/// The members of account `id`.
pub async fn members(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Vec<i64>> {
    account_memberships::table
        .filter(account_memberships::account_id.eq(id))
        .select(account_memberships::user_id)
        .order(account_memberships::user_id)
        .load(conn)
        .await
}

/// Makes `user_ids` the members of account `id`.
pub async fn set_members(conn: &mut AsyncPgConnection, id: i64, user_ids: &[i64]) -> QueryResult<()> {
    diesel::delete(
        account_memberships::table
            .filter(account_memberships::account_id.eq(id))
            .filter(account_memberships::user_id.ne_all(user_ids)),
    )
    .execute(conn)
    .await?;
    for &user in user_ids {
        add_member(conn, id, user).await?;
    }
    Ok(())
}

impl Account {
    /// "N. Virginia (us-east-1)": the region as people say it.
    pub fn region_title(&self) -> String {
        match crate::domain::onboarding::region_name(&self.region) {
            Some(name) => format!("{name} ({})", self.region),
            None => self.region.clone(),
        }
    }
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

/// The company account `id` belongs to.
pub async fn company_of(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<i64> {
    accounts::table.find(id).select(accounts::company_id).first(conn).await
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

/// The company's active users, `(id, "Name <email>")` by name: who may be
/// made a member of an account.
pub async fn people(conn: &mut AsyncPgConnection, company: i64) -> QueryResult<Vec<(i64, String)>> {
    use super::schema::users;
    let rows: Vec<(i64, String, String, String)> = users::table
        .filter(users::company_id.eq(company))
        .filter(users::status.eq("active"))
        .order((users::family_name, users::given_name, users::id))
        .select((users::id, users::given_name, users::family_name, users::email))
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|(id, given, family, email)| (id, format!("{given} {family} <{email}>"))).collect())
}

/// How many of account `id`'s servers are not terminated (nor failed).
pub async fn live_servers(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<i64> {
    use super::schema::servers;
    servers::table
        .filter(servers::account_id.eq(id))
        .filter(servers::state.ne_all(["TERMINATED", "ERROR"]))
        .count()
        .get_result(conn)
        .await
}

/// How many changes the account's users made are still on their way to the
/// provider (queued or running jobs); the console's own syncs and the image
/// lifecycle's sweep, which come back on their own, are not counted.
pub async fn pending_changes(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<i64> {
    use super::schema::jobs;
    use crate::jobs::{lifecycle::IMAGE_LIFECYCLE, sync::ALL as SYNCS};
    jobs::table
        .filter(jobs::account_id.eq(id))
        .filter(jobs::state.eq_any(["QUEUED", "RUNNING"]))
        .filter(jobs::kind.ne_all(SYNCS.iter().copied().chain([IMAGE_LIFECYCLE])))
        .count()
        .get_result(conn)
        .await
}

/// Removes account `id` and every record of it (its jobs, servers, image
/// records, key pairs, firewalls, sizes, zones, grants and members); its
/// audit events stay, no longer tied to it. Run inside the caller's
/// transaction.
pub async fn delete(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
    use super::schema::{
        audit_events, firewalls, group_roles, image_records, jobs, key_pairs, products, servers, zones,
    };
    diesel::update(audit_events::table.filter(audit_events::account_id.eq(id)))
        .set(audit_events::account_id.eq(None::<i64>))
        .execute(conn)
        .await?;
    diesel::delete(jobs::table.filter(jobs::account_id.eq(id))).execute(conn).await?;
    diesel::delete(servers::table.filter(servers::account_id.eq(id))).execute(conn).await?;
    diesel::delete(image_records::table.filter(image_records::account_id.eq(id))).execute(conn).await?;
    diesel::delete(key_pairs::table.filter(key_pairs::account_id.eq(id))).execute(conn).await?;
    diesel::delete(firewalls::table.filter(firewalls::account_id.eq(id))).execute(conn).await?;
    diesel::delete(products::table.filter(products::account_id.eq(id))).execute(conn).await?;
    diesel::delete(zones::table.filter(zones::account_id.eq(id))).execute(conn).await?;
    diesel::delete(group_roles::table.filter(group_roles::account_id.eq(id))).execute(conn).await?;
    diesel::delete(account_memberships::table.filter(account_memberships::account_id.eq(id))).execute(conn).await?;
    diesel::delete(accounts::table.find(id)).execute(conn).await.map(drop)
}

/// `(id, name)` of the company's enabled accounts, by name: the accounts a
/// user can be let into.
pub async fn choices(conn: &mut AsyncPgConnection, company: i64) -> QueryResult<Vec<(i64, String)>> {
    accounts::table
        .filter(accounts::company_id.eq(company))
        .filter(accounts::disabled_at.is_null())
        .order((accounts::name, accounts::id))
        .select((accounts::id, accounts::name))
        .load(conn)
        .await
}
