//! Cloud accounts (PRODUCT 7.2): connect one (one console account per
//! region), edit it (rename, rotate its credentials, choose its members),
//! disable and enable it.
//!
//! Credentials are tested before anything is saved ([`test`]: STS
//! `GetCallerIdentity` says whose they are, one read-only EC2 call per
//! region proves their rights), and the provider account number is the
//! provider's answer, never typed. An access key's secret is sealed
//! (`crate::secrets`) before it reaches the database and appears in no
//! answer, audit event, job or log line: audit events carry a mask.
//!
//! These changes concern the company as a whole, like those of users and
//! groups: they are opened by `ACCOUNT Configure` in the account the
//! administrator works in, or, before they have one, by what their groups
//! receive in a new account ([`Admin`]).

use diesel::QueryResult;
use diesel_async::{AsyncConnection as _, AsyncPgConnection};

use super::ChangeError;
use crate::cloud::verify::{ConnectionFailure, verify};
use crate::cloud::{Credentials, Secret};
use crate::db::accounts::{NewAccount, StoredCredentials};
use crate::db::audit_log::NewAuditEvent;
use crate::db::{self, accounts::Account, users::User};
use crate::domain::ValidationError;
use crate::domain::access::{AccessRight, Action, Forbidden, Qualifier, Resource, Rights};
use crate::domain::admin::MASKED;
use crate::domain::onboarding::{AccessKeyId, RoleArn, account_names};
use crate::domain::refusal::Refusal;
use crate::jobs::JobSettings;

/// An administrator acting on the company's cloud accounts.
#[derive(Clone, Copy)]
pub struct Admin<'a> {
    pub user: &'a User,
    /// The account they work in, if they have one yet.
    pub account: Option<&'a Account>,
    pub rights: &'a Rights,
}

impl Admin<'_> {
    pub fn require(&self, action: Action) -> Result<(), Forbidden> {
        self.rights.require(Resource::Account, action)
    }

    /// Refused unless the administrator holds `ACCOUNT action` in account
    /// `id` itself (named `name`), read in the caller's transaction. The
    /// right where they work opens the page; an administrator of one account
    /// neither changes nor deletes another, as with its members.
    pub async fn require_in(
        &self,
        conn: &mut AsyncPgConnection,
        id: i64,
        name: &str,
        action: Action,
    ) -> Result<(), ChangeError> {
        self.require(action)?;
        if self.may_in(conn, id, action).await? {
            Ok(())
        } else if self.account.is_some_and(|here| here.id == id) {
            Err(Forbidden::to(Resource::Account, action).into())
        } else {
            Err(Forbidden::in_account(name, Resource::Account, action).into())
        }
    }

    /// Whether the administrator holds `ACCOUNT action` in account `id`.
    pub async fn may_in(&self, conn: &mut AsyncPgConnection, id: i64, action: Action) -> QueryResult<bool> {
        let held = db::admin::rights_in(conn, id, self.user.id).await?;
        Ok(crate::domain::admin::holds(&held, &AccessRight::new(Resource::Account, action, Qualifier::Any)))
    }

    fn event<'e>(&self, action: &'e str, account: i64, changes: serde_json::Value) -> NewAuditEvent<'e> {
        NewAuditEvent {
            account_id: Some(account),
            user_id: Some(self.user.id),
            action,
            resource: Resource::Account.as_str(),
            resource_id: Some(account.to_string()),
            outcome: "success",
            changes,
        }
    }
}

/// How an account is to be reached, as the form gives it.
#[derive(Debug, Clone)]
pub enum NewCredentials {
    /// Assume this role with the company's external ID (recommended).
    AssumeRole(RoleArn),
    AccessKey(AccessKeyId, Secret),
    /// The console's own credentials.
    Ambient,
}

impl NewCredentials {
    /// From the form's `auth` and the fields of the way it names.
    pub fn parse(
        auth: &str,
        role_arn: &str,
        access_key_id: &str,
        secret_access_key: &str,
    ) -> Result<Self, Vec<ValidationError>> {
        use crate::domain::onboarding::secret_access_key as secret;
        match auth {
            "assume_role" => RoleArn::parse(role_arn).map(NewCredentials::AssumeRole).map_err(|e| vec![e]),
            "access_key" => match (AccessKeyId::parse(access_key_id), secret(secret_access_key)) {
                (Ok(id), Ok(secret)) => Ok(NewCredentials::AccessKey(id, secret)),
                (id, secret) => Err(id.err().into_iter().chain(secret.err()).collect()),
            },
            "ambient" => Ok(NewCredentials::Ambient),
            _ => Err(vec![ValidationError::new("auth", "Choose how the console signs in to the account.")]),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            NewCredentials::AssumeRole(_) => "assume_role",
            NewCredentials::AccessKey(..) => "access_key",
            NewCredentials::Ambient => "ambient",
        }
    }

    /// What the audit trail records: the role or key ID, the secret masked.
    fn audited(&self) -> serde_json::Value {
        match self {
            NewCredentials::AssumeRole(arn) => serde_json::json!({ "auth": self.kind(), "role_arn": arn.as_str() }),
            NewCredentials::AccessKey(id, _) => serde_json::json!({
                "auth": self.kind(), "access_key_id": id.as_str(), "secret_access_key": MASKED,
            }),
            NewCredentials::Ambient => serde_json::json!({ "auth": self.kind() }),
        }
    }

    /// As the provider layer takes them.
    fn for_provider(&self, external_id: &str) -> Credentials {
        match self {
            NewCredentials::AssumeRole(arn) => {
                Credentials::AssumeRole { role_arn: arn.as_str().to_owned(), external_id: external_id.to_owned() }
            }
            NewCredentials::AccessKey(id, secret) => {
                Credentials::AccessKey { access_key_id: id.as_str().to_owned(), secret_access_key: secret.clone() }
            }
            NewCredentials::Ambient => Credentials::Ambient,
        }
    }

    /// As the table keeps them: the secret sealed under `SECRETS_KEY`.
    fn stored(&self, settings: &JobSettings) -> Result<StoredCredentials, ChangeError> {
        let mut stored = StoredCredentials {
            auth: self.kind().to_owned(),
            role_arn: None,
            access_key_id: None,
            secret_sealed: None,
        };
        match self {
            NewCredentials::AssumeRole(arn) => stored.role_arn = Some(arn.as_str().to_owned()),
            NewCredentials::AccessKey(id, secret) => {
                let key = settings.secrets.as_ref().ok_or_else(no_secrets_key)?;
                stored.access_key_id = Some(id.as_str().to_owned());
                stored.secret_sealed = Some(key.seal(secret, id.as_str()));
            }
            NewCredentials::Ambient => {}
        }
        Ok(stored)
    }
}

fn no_secrets_key() -> ChangeError {
    ValidationError::new(
        "auth",
        "This console cannot keep access keys: SECRETS_KEY is not set. Assume a role instead, or ask whoever runs \
         the console to set it.",
    )
    .into()
}

/// What the Connect account form asks for, past its field rules.
#[derive(Debug, Clone)]
pub struct ConnectInput {
    pub name: String,
    /// One of `domain::onboarding::PROVIDERS`.
    pub provider: &'static str,
    pub regions: Vec<&'static str>,
    pub endpoint: Option<String>,
    pub credentials: NewCredentials,
}

impl ConnectInput {
    /// Every field's rule at once.
    pub fn parse(
        name: &str,
        provider: &str,
        regions: &[String],
        endpoint: &str,
        credentials: Result<NewCredentials, Vec<ValidationError>>,
    ) -> Result<Self, Vec<ValidationError>> {
        use crate::domain::onboarding::{
            account_name, endpoint as parse_endpoint, provider as parse_provider, regions as parse_regions,
        };
        // The name is checked again with each region's after it.
        let (name, regions) = match (account_name(name), parse_regions(regions)) {
            (Ok(name), Ok(regions)) => match account_names(&name, &regions) {
                Ok(_) => (Ok(name), Ok(regions)),
                Err(e) => (Err(e), Ok(regions)),
            },
            other => other,
        };
        match (name, parse_provider(provider), regions, parse_endpoint(endpoint), credentials) {
            (Ok(name), Ok(provider), Ok(regions), Ok(endpoint), Ok(credentials)) => {
                Ok(Self { name, provider, regions, endpoint, credentials })
            }
            (name, provider, regions, endpoint, credentials) => Err(name
                .err()
                .into_iter()
                .chain(provider.err())
                .chain(regions.err())
                .chain(endpoint.err())
                .chain(credentials.err().into_iter().flatten())
                .collect()),
        }
    }
}

impl From<ConnectionFailure> for ChangeError {
    fn from(failure: ConnectionFailure) -> Self {
        ValidationError::new(failure.field, failure.message).into()
    }
}

/// Tests the connection: the provider account number the credentials
/// belong to. Nothing is written.
pub async fn test(
    pool: &db::Pool,
    admin: &Admin<'_>,
    input: &ConnectInput,
    settings: &JobSettings,
) -> Result<String, ChangeError> {
    admin.require(Action::Configure)?;
    if matches!(input.credentials, NewCredentials::AccessKey(..)) && settings.secrets.is_none() {
        return Err(no_secrets_key());
    }
    let external_id = db::accounts::external_id(&mut *pool.get().await?, admin.user.company_id).await?;
    let credentials = input.credentials.for_provider(&external_id);
    let first = input.regions.first().copied().unwrap_or("us-east-1");
    let connection = settings.reach(first, input.endpoint.as_deref(), credentials);
    Ok(verify(&connection, &input.regions).await?)
}

/// Tests the connection, then in one transaction creates one account per
/// region (named `NAME · region` when several), makes the administrator a
/// member, gives each group its role for new accounts, records the audit
/// events and queues the first syncs. The new accounts' ids.
pub async fn connect(
    pool: &db::Pool,
    admin: &Admin<'_>,
    input: &ConnectInput,
    settings: &JobSettings,
) -> Result<Vec<i64>, ChangeError> {
    let number = test(pool, admin, input, settings).await?;
    let stored = input.credentials.stored(settings)?;
    let company = admin.user.company_id;
    let names = account_names(&input.name, &input.regions)?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        db::admin::lock_company(conn, company).await?;
        let mut created = Vec::new();
        for (region, name) in input.regions.iter().zip(&names) {
            let endpoint = input.endpoint.as_deref();
            let default = settings.provider_endpoint.as_deref();
            if let Some(existing) =
                db::accounts::already_connected(conn, company, &number, region, endpoint, default).await?
            {
                return Err(ValidationError::new(
                    "regions",
                    format!("Provider account {number} in {region} is already connected as “{existing}”."),
                )
                .into());
            }
            if db::accounts::name_taken(conn, company, name, None).await? {
                return Err(ValidationError::new(
                    "name",
                    format!("The company already has an account named “{name}”."),
                )
                .into());
            }
            let new = NewAccount {
                company_id: company,
                name,
                provider: input.provider,
                region,
                provider_account_number: &number,
                endpoint,
                credentials: stored.clone(),
            };
            let account = db::accounts::insert(conn, &new).await?.id;
            db::accounts::add_member(conn, account, admin.user.id).await?;
            db::onboarding::give_new_account_roles(conn, company, account).await?;
            let kept_from = keep_administering(conn, admin, account, name).await?;
            let mut changes = serde_json::json!({
                "name": name, "provider": input.provider, "region": region, "provider_account_number": number,
                "endpoint": endpoint,
            });
            if let Some((from, groups)) = kept_from {
                merge(&mut changes, serde_json::json!({ "roles_kept_from": from, "groups": groups }));
            }
            merge(&mut changes, input.credentials.audited());
            db::audit_log::record(conn, &admin.event("connect", account, changes)).await?;
            for &kind in crate::jobs::sync::ALL {
                db::jobs::enqueue_sync(conn, account, kind, settings.max_attempts).await?;
            }
            created.push(account);
        }
        Ok(created)
    })
    .await
}

/// Makes sure the administrator who connects `account` may configure it
/// (edit it, choose its members). The roles groups get in new accounts
/// usually see to it; when they do not, each of the administrator's groups
/// without a role there gets the one it has in the account the
/// administrator works in, where they hold that right. Refused when even
/// then they would not (a group's role for new accounts withholds it). The
/// account worked in and the groups given its roles, when any were.
async fn keep_administering(
    conn: &mut AsyncPgConnection,
    admin: &Admin<'_>,
    account: i64,
    name: &str,
) -> Result<Option<(String, Vec<i64>)>, ChangeError> {
    if admin.may_in(conn, account, Action::Configure).await? {
        return Ok(None);
    }
    let mut kept = None;
    if let Some(here) = admin.account {
        let groups = db::onboarding::give_roles_held_in(conn, admin.user.id, here.id, account).await?;
        kept = Some((here.name.clone(), groups));
    }
    if admin.may_in(conn, account, Action::Configure).await? {
        Ok(kept)
    } else {
        Err(Refusal::ConnectedUnadministered { account: name.to_string() }.into())
    }
}

fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
    if let (Some(into), serde_json::Value::Object(from)) = (into.as_object_mut(), from) {
        into.extend(from);
    }
}

/// An edit of account `id`: its name, new credentials if given (tested
/// first: they must reach the same provider account), and its members.
#[derive(Debug, Clone)]
pub struct EditInput {
    pub version: i32,
    pub name: String,
    pub credentials: Option<NewCredentials>,
    pub member_ids: Vec<i64>,
}

/// Saves an edit of account `id` of the administrator's company.
pub async fn update(
    pool: &db::Pool,
    admin: &Admin<'_>,
    id: i64,
    input: &EditInput,
    settings: &JobSettings,
) -> Result<(), ChangeError> {
    let company = admin.user.company_id;
    let found = {
        let mut conn = pool.get().await?;
        let found = db::accounts::find_listed(&mut conn, company, id).await?;
        admin.require_in(&mut conn, id, &found.name, Action::Configure).await?;
        found
    };
    Refusal::stale_unless(found.version == input.version, "account")?;
    let stored = match &input.credentials {
        Some(credentials) => {
            let connect = ConnectInput {
                name: input.name.clone(),
                provider: crate::domain::onboarding::provider(&found.provider)?,
                regions: vec![
                    crate::domain::onboarding::REGIONS
                        .iter()
                        .map(|(code, _)| *code)
                        .find(|code| *code == found.region)
                        .unwrap_or("us-east-1"),
                ],
                endpoint: found.endpoint.clone(),
                credentials: credentials.clone(),
            };
            // The edit form has no endpoint or regions to show a failed test
            // at: the new credentials failed it, so it is said at them.
            let number = test(pool, admin, &connect, settings).await.map_err(|e| match e {
                ChangeError::Invalid(errors) => ChangeError::Invalid(
                    errors
                        .into_iter()
                        .map(|e| match e.field {
                            "endpoint" | "regions" => ValidationError { field: "auth", ..e },
                            _ => e,
                        })
                        .collect(),
                ),
                e => e,
            })?;
            if number != found.provider_account_number {
                return Err(ValidationError::new(
                    "auth",
                    format!(
                        "These credentials belong to provider account {number}, not to {}: an account keeps its \
                         provider account.",
                        found.provider_account_number
                    ),
                )
                .into());
            }
            Some(credentials.stored(settings)?)
        }
        None => None,
    };
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        db::admin::lock_company(conn, company).await?;
        admin.require_in(conn, id, &found.name, Action::Configure).await?;
        if db::accounts::name_taken(conn, company, &input.name, Some(id)).await? {
            return Err(ValidationError::new(
                "name",
                format!("The company already has an account named “{}”.", input.name),
            )
            .into());
        }
        let people = db::accounts::people(conn, company).await?;
        let chosen = super::admin::known(&input.member_ids, &people, "member_ids", "user")?;
        let old_members = db::accounts::members(conn, id).await?;
        // The form offers active users only: deactivated members stay.
        let deactivated = old_members.iter().copied().filter(|m| !people.iter().any(|(id, _)| id == m));
        let members = super::admin::unique(&[chosen, deactivated.collect()].concat());
        members_within_reach(conn, admin, id, &old_members, &members, &people).await?;
        // Before the rename: a refusal names the account as it is.
        super::admin::keeping_admins(conn, company, async |conn| {
            Ok(db::accounts::set_members(conn, id, &members).await?)
        })
        .await?;
        let saved = db::accounts::update(conn, id, input.version, &input.name, stored.as_ref()).await?;
        Refusal::stale_unless(saved, "account")?;
        let mut changes = serde_json::Map::new();
        if found.name != input.name {
            changes.insert("name".into(), serde_json::json!({ "from": found.name, "to": input.name }));
        }
        if let Some(credentials) = &input.credentials {
            changes.insert("credentials".into(), credentials.audited());
        }
        if old_members != members {
            let named = |ids: &[i64]| super::admin::names(ids, &people);
            changes.insert("members".into(), serde_json::json!({ "from": named(&old_members), "to": named(&members) }));
        }
        db::audit_log::record(conn, &admin.event("update", id, changes.into())).await?;
        Ok(())
    })
    .await
}

/// The users page's rules for the same memberships (`changes::admin`):
/// refused when someone made a member of `account` would hold there, through
/// their groups, a right the administrator does not hold there
/// (`Refusal::Escalation`), or someone taken out holds one
/// (`Refusal::Outranked`): an administrator of one account neither hands out
/// nor takes away another's.
async fn members_within_reach(
    conn: &mut AsyncPgConnection,
    admin: &Admin<'_>,
    account: i64,
    before: &[i64],
    after: &[i64],
    people: &[(i64, String)],
) -> Result<(), ChangeError> {
    use crate::domain::refusal::Refusal;
    let here = admin.account.map(|a| a.id);
    for &added in after.iter().filter(|m| !before.contains(m)) {
        let groups = db::admin::user_groups(conn, added).await?;
        let wanted = db::admin::rights_of_groups(conn, account, &groups).await?;
        if let Some((right, account)) = super::admin::beyond(conn, admin.user.id, here, account, &wanted).await? {
            return Err(Refusal::Escalation { right, account }.into());
        }
    }
    for &removed in before.iter().filter(|m| !after.contains(m)) {
        let held = db::admin::rights_in(conn, account, removed).await?;
        if let Some((right, account)) = super::admin::beyond(conn, admin.user.id, here, account, &held).await? {
            let user = super::admin::names(&[removed], people).join("");
            return Err(Refusal::Outranked { user, right, account }.into());
        }
    }
    Ok(())
}

/// Disables account `id` (its jobs wait, it leaves its members' switcher)
/// or enables it again (and queues its syncs).
pub async fn set_enabled(
    conn: &mut AsyncPgConnection,
    admin: &Admin<'_>,
    id: i64,
    version: i32,
    enabled: bool,
    settings: &JobSettings,
) -> Result<String, ChangeError> {
    let company = admin.user.company_id;
    conn.transaction(async |conn| {
        db::admin::lock_company(conn, company).await?;
        let found = db::accounts::find_listed(conn, company, id).await?;
        admin.require_in(conn, id, &found.name, Action::Configure).await?;
        Refusal::stale_unless(found.version == version, "account")?;
        if found.disabled_at.is_none() == enabled {
            return Ok(found.name);
        }
        let saved = db::accounts::set_disabled(conn, id, version, !enabled).await?;
        Refusal::stale_unless(saved, "account")?;
        if enabled {
            for &kind in crate::jobs::sync::ALL {
                db::jobs::enqueue_sync(conn, id, kind, settings.max_attempts).await?;
            }
        }
        let action = if enabled { "enable" } else { "disable" };
        db::audit_log::record(conn, &admin.event(action, id, serde_json::json!({ "name": found.name }))).await?;
        Ok(found.name)
    })
    .await
}

/// Sets how many days the company's deleted images wait in the recycle
/// bin (0: deleted at once). Images in the bin keep the day they were
/// given. It rules every account's bin, so it needs `ACCOUNT Configure` in
/// each of them, as a change of any one account would. Audited in every
/// account of the company.
pub async fn set_retention(conn: &mut AsyncPgConnection, admin: &Admin<'_>, days: i32) -> Result<(), ChangeError> {
    admin.require(Action::Configure)?;
    let company = admin.user.company_id;
    conn.transaction(async |conn| {
        db::admin::lock_company(conn, company).await?;
        let accounts = db::accounts::of_company(conn, company).await?;
        for account in &accounts {
            admin.require_in(conn, account.id, &account.name, Action::Configure).await?;
        }
        let before = db::images::set_retention_days(conn, company, days).await?;
        if before != days {
            let changes = serde_json::json!({ "image_retention_days": { "from": before, "to": days } });
            for account in accounts {
                let event = NewAuditEvent {
                    resource: Resource::Image.as_str(),
                    resource_id: None,
                    ..admin.event("set_retention", account.id, changes.clone())
                };
                db::audit_log::record(conn, &event).await?;
            }
        }
        Ok(())
    })
    .await
}

/// Deletes account `id` with every record of it, in one transaction;
/// refused while it has servers that are not terminated, or changes its
/// users made that the provider has not been told about yet. Nothing happens
/// at the provider: the cloud account itself is the company's.
pub async fn delete(
    conn: &mut AsyncPgConnection,
    admin: &Admin<'_>,
    id: i64,
    version: i32,
) -> Result<String, ChangeError> {
    let company = admin.user.company_id;
    conn.transaction(async |conn| {
        db::admin::lock_company(conn, company).await?;
        // A launch writing its servers holds a share of the account's row
        // (its foreign keys): the delete waits for it, then counts them.
        let found = db::accounts::lock_for_delete(conn, company, id).await?;
        admin.require_in(conn, id, &found.name, Action::Delete).await?;
        Refusal::stale_unless(found.version == version, "account")?;
        let live = db::accounts::live_servers(conn, id).await?;
        if live > 0 {
            return Err(Refusal::AccountInUse { account: found.name, servers: live }.into());
        }
        let changes = db::accounts::pending_changes(conn, id).await?;
        if changes > 0 {
            let disabled = found.disabled_at.is_some();
            return Err(Refusal::AccountChangesPending { account: found.name, changes, disabled }.into());
        }
        db::accounts::delete(conn, id).await?;
        let changes = serde_json::json!({
            "name": found.name, "region": found.region, "provider_account_number": found.provider_account_number,
        });
        let event = NewAuditEvent { account_id: None, ..admin.event("delete", id, changes) };
        db::audit_log::record(conn, &event).await?;
        Ok(found.name)
    })
    .await
}
