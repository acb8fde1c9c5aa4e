//! Key pairs and firewalls at the provider: importing a public key, making a
//! security group, and deleting either. Each job is queued in the
//! transaction that writes the change in the console (see `changes::keypairs`
//! and `changes::firewalls`) and writes the provider's answer back into the row.
//!
//! Retries are safe. Neither EC2 call takes an idempotency token, so a
//! retry after a lost answer meets "already exists": the job then takes the
//! key pair or group of that name, as the provider lists it. A delete of
//! something already gone counts as done.
//!
//! When a job fails for good (the provider refused, the attempts are spent,
//! or the provider could not even be reached), the row says so ([`failed`]):
//! a failed import or create moves to `ERROR` with the reason, a failed
//! delete shows its row again with the reason. (Creating a key pair is no job: the page does it, because the
//! private key exists only in the provider's answer.)

use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};

use super::JobError;
use crate::cloud::{CloudError, CloudProvider, KeyPair, Rule};
use crate::db::jobs::{Job, NewJob};
use crate::db::{self, Pool, accounts::Account};
use crate::domain::access::JobSubject;
use crate::domain::keypairs::same_key;
use crate::domain::resource::ResourceState;

pub const IMPORT_KEY_PAIR: &str = "import_key_pair";
pub const DELETE_KEY_PAIR: &str = "delete_key_pair";
pub const CREATE_SECURITY_GROUP: &str = "create_security_group";
pub use crate::db::jobs::{AUTHORIZE_INGRESS, DELETE_SECURITY_GROUP, REVOKE_INGRESS};

/// Imports a public key (public: it may sit in the queue) as key pair `name`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportKeyPair {
    pub key_pair_id: i64,
    pub name: String,
    pub public_key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteKeyPair {
    pub key_pair_id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateSecurityGroup {
    pub firewall_id: i64,
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteSecurityGroup {
    pub firewall_id: i64,
    pub group_id: String,
}

/// Adds (`AUTHORIZE_INGRESS`) or removes (`REVOKE_INGRESS`) rule `rule_id`
/// of firewall `firewall_id`, security group `group_id` at the provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngressChange {
    pub firewall_id: i64,
    pub rule_id: i64,
    pub group_id: String,
    pub rule: Rule,
}

impl ImportKeyPair {
    pub fn job(&self, account_id: i64, max_attempts: i32) -> NewJob<'static> {
        super::new_job(account_id, IMPORT_KEY_PAIR, self, max_attempts, JobSubject::Keypair)
    }
}

impl DeleteKeyPair {
    pub fn job(&self, account_id: i64, max_attempts: i32) -> NewJob<'static> {
        super::new_job(account_id, DELETE_KEY_PAIR, self, max_attempts, JobSubject::Keypair)
    }
}

impl CreateSecurityGroup {
    pub fn job(&self, account_id: i64, max_attempts: i32) -> NewJob<'static> {
        super::new_job(account_id, CREATE_SECURITY_GROUP, self, max_attempts, JobSubject::Firewall)
    }
}

impl DeleteSecurityGroup {
    pub fn job(&self, account_id: i64, max_attempts: i32) -> NewJob<'static> {
        super::new_job(account_id, DELETE_SECURITY_GROUP, self, max_attempts, JobSubject::Firewall)
    }
}

impl IngressChange {
    /// The job that makes the change: `kind` is [`AUTHORIZE_INGRESS`] or
    /// [`REVOKE_INGRESS`].
    pub fn job(&self, kind: &'static str, account_id: i64, max_attempts: i32) -> NewJob<'static> {
        super::new_job(account_id, kind, self, max_attempts, JobSubject::Firewall)
    }
}

type Outcome = Result<Option<serde_json::Value>, JobError>;

/// The key pair `name` at the provider: imported now, or (after a lost
/// answer) the one that is already there, if it holds this public key. A
/// key pair of that name with another key is refused: the console would
/// show a key its user cannot sign in with.
async fn import(
    provider: &dyn CloudProvider,
    name: &str,
    public_key: &str,
) -> Result<(KeyPair, Option<&'static str>), CloudError> {
    match provider.import_key_pair(name, public_key).await {
        Ok(key) => Ok((key, None)),
        Err(CloudError::Refused { code, .. }) if code == "InvalidKeyPair.Duplicate" => {
            let held = provider.public_key(name).await?;
            if !held.as_deref().is_some_and(|held| same_key(held, public_key)) {
                return Err(CloudError::Refused {
                    code,
                    message: format!(
                        "the provider already has a key pair named “{name}” with another public key: \
                         delete it there, or import yours under another name"
                    ),
                });
            }
            let key = provider.list_key_pairs().await?.into_iter().find(|k| k.name == name);
            let key =
                key.ok_or_else(|| CloudError::Failed(format!("the key pair {name:?} exists but is not listed")))?;
            Ok((key, Some("the provider already had a key pair of this name; the console shows it")))
        }
        Err(error) => Err(error),
    }
}

pub async fn import_key_pair(pool: &Pool, provider: &dyn CloudProvider, account: &Account, job: &Job) -> Outcome {
    let ImportKeyPair { key_pair_id, name, public_key } = super::payload_of(job)?;
    let (key, note) = import(provider, &name, &public_key).await?;
    let mut conn = pool.get().await?;
    db::keypairs::made(&mut conn, account.id, key_pair_id, &key.fingerprint, key.id.as_deref()).await?;
    Ok(Some(serde_json::json!({ "fingerprint": key.fingerprint, "key_pair_id": key.id, "note": note })))
}

pub async fn delete_key_pair(pool: &Pool, provider: &dyn CloudProvider, account: &Account, job: &Job) -> Outcome {
    let DeleteKeyPair { key_pair_id, name } = super::payload_of(job)?;
    provider.delete_key_pair(&name).await?;
    let mut conn = pool.get().await?;
    db::keypairs::remove(&mut conn, account.id, key_pair_id, ResourceState::Deleting).await?;
    Ok(None)
}

/// The group `name` at the provider: made now, or (after a lost answer) the
/// one that is already there. Returns its id.
async fn create_group(
    provider: &dyn CloudProvider,
    name: &str,
    description: &str,
) -> Result<(String, Option<&'static str>), CloudError> {
    match provider.create_security_group(name, description).await {
        Ok(group) => Ok((group.id, None)),
        Err(CloudError::Refused { code, .. }) if code == "InvalidGroup.Duplicate" => {
            let group = provider.list_security_groups().await?.into_iter().find(|g| g.name == name);
            let group =
                group.ok_or_else(|| CloudError::Failed(format!("the group {name:?} exists but is not listed")))?;
            Ok((group.id, Some("the provider already had a group of this name; the console shows it")))
        }
        Err(error) => Err(error),
    }
}

pub async fn create_security_group(pool: &Pool, provider: &dyn CloudProvider, account: &Account, job: &Job) -> Outcome {
    let CreateSecurityGroup { firewall_id, name, description } = super::payload_of(job)?;
    let (group_id, note) = create_group(provider, &name, &description).await?;
    let mut conn = pool.get().await?;
    db::firewalls::made(&mut conn, account.id, firewall_id, &group_id).await?;
    Ok(Some(serde_json::json!({ "group_id": group_id, "note": note })))
}

pub async fn delete_security_group(pool: &Pool, provider: &dyn CloudProvider, account: &Account, job: &Job) -> Outcome {
    let DeleteSecurityGroup { firewall_id, group_id } = super::payload_of(job)?;
    match provider.delete_security_group(&group_id).await {
        Ok(()) => {}
        Err(CloudError::Refused { code, .. }) if code == "InvalidGroup.NotFound" => {}
        Err(error) => return Err(error.into()),
    }
    let mut conn = pool.get().await?;
    db::firewalls::remove(&mut conn, account.id, firewall_id, ResourceState::Deleting).await?;
    Ok(None)
}

/// Lets the rule in at the provider (one it has already counts), then
/// marks it active.
pub async fn authorize_ingress(pool: &Pool, provider: &dyn CloudProvider, account: &Account, job: &Job) -> Outcome {
    use ResourceState::{Active, Pending};
    let IngressChange { firewall_id, rule_id, group_id, rule } = super::payload_of(job)?;
    provider.authorize_ingress(&group_id, &rule).await?;
    let mut conn = pool.get().await?;
    db::firewall_rules::settle(&mut conn, account.id, firewall_id, rule_id, (Pending, Active), None).await?;
    Ok(None)
}

/// Takes the rule out at the provider (one it no longer has counts), then
/// removes its row.
pub async fn revoke_ingress(pool: &Pool, provider: &dyn CloudProvider, account: &Account, job: &Job) -> Outcome {
    let IngressChange { firewall_id, rule_id, group_id, rule } = super::payload_of(job)?;
    provider.revoke_ingress(&group_id, &rule).await?;
    let mut conn = pool.get().await?;
    db::firewall_rules::remove(&mut conn, account.id, firewall_id, rule_id, ResourceState::Deleting).await?;
    Ok(None)
}

/// A job on a key pair or a firewall failed for good, whatever failed: the
/// provider's refusal, the attempts spent, or no provider reached at all
/// (then the job's own function never ran). An import or a create moves to
/// `ERROR`, a delete shows its row again, each with the reason; without
/// this the row would wait as importing or deleting for ever. Other jobs
/// are not this module's.
pub async fn failed(conn: &mut AsyncPgConnection, job: &Job, error: &str) -> Result<(), JobError> {
    use ResourceState::{Active, Deleting, Error, Pending};
    let Some(account) = job.account_id else { return Ok(()) };
    if let (AUTHORIZE_INGRESS | REVOKE_INGRESS, Ok(change)) =
        (job.kind.as_str(), super::payload_of::<IngressChange>(job))
    {
        // A rule that could not be added shows why, and can be removed
        // here; one that could not be removed is active again.
        let (moves, what) =
            if job.kind == AUTHORIZE_INGRESS { ((Pending, Error), "Adding") } else { ((Deleting, Active), "Removing") };
        let reason = format!("{what} the rule failed: {error}");
        db::firewall_rules::settle(conn, account, change.firewall_id, change.rule_id, moves, Some(&reason)).await?;
        return Ok(());
    }
    let (key_pair, firewall, moves, what) = match job.kind.as_str() {
        IMPORT_KEY_PAIR => {
            (super::payload_of(job).ok().map(|p: ImportKeyPair| p.key_pair_id), None, (Pending, Error), "Import")
        }
        DELETE_KEY_PAIR => {
            (super::payload_of(job).ok().map(|p: DeleteKeyPair| p.key_pair_id), None, (Deleting, Active), "Delete")
        }
        CREATE_SECURITY_GROUP => {
            (None, super::payload_of(job).ok().map(|p: CreateSecurityGroup| p.firewall_id), (Pending, Error), "Create")
        }
        DELETE_SECURITY_GROUP => (
            None,
            super::payload_of(job).ok().map(|p: DeleteSecurityGroup| p.firewall_id),
            (Deleting, Active),
            "Delete",
        ),
        _ => return Ok(()),
    };
    let reason = format!("{what} failed: {error}");
    if let Some(id) = key_pair {
        db::keypairs::failed(conn, account, id, moves, &reason).await?;
    }
    if let Some(id) = firewall {
        db::firewalls::failed(conn, account, id, moves, &reason).await?;
    }
    Ok(())
}
