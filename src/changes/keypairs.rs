//! Creating, importing and deleting key pairs (PRODUCT 3.4, 4; the Key Pairs
//! page and the launch dialog).
//!
//! Creating is the one change made at the provider itself, while the page
//! waits: the private key exists only in the provider's answer, so [`create`]
//! calls the provider, then writes the row with its audit event in one
//! transaction, and returns the key once ([`PrivateKey`]). The key is never
//! stored: not in the database, the session, a flash, a log or an audit
//! event; `PrivateKey` hides it from `Debug`. If the record cannot be written,
//! the key pair is deleted at the provider again: nobody could use it.
//!
//! Importing has no secret, so it follows the rule for every other change:
//! the row is written as pending with its audit event and an
//! `import_key_pair` job in one transaction, and the list shows it as
//! importing until the job has the provider's fingerprint. Deleting is
//! `changes::resources::delete`, shared with firewalls: hide the row and
//! queue `delete_key_pair`, or remove the row of one the provider never made.
//!
//! Names are unique per account in the database too (`UNIQUE (account_id,
//! name)`), so a writer the check could not see is refused by the index,
//! except a key-pair sync that listed the key pair [`create`] had just made:
//! its row, of the same key, is taken as the new key pair's.

use std::future::Future;
use std::sync::Arc;

use base64::Engine as _;
use diesel::QueryResult;
use diesel_async::{AsyncConnection as _, AsyncPgConnection};

use super::resources::{ProviderResource, name_taken, provider_resource_rows};
use super::{Actor, ChangeError};
use crate::cloud::{CloudError, CloudProvider};
use crate::db::{self, jobs::NewJob, keypairs::KeyPairRow};
use crate::domain::access::Resource;
use crate::domain::keypairs::{KeyPairName, PublicKey};
use crate::domain::refusal::Refusal;
use crate::domain::resource::{DeleteFacts, ResourceAction, ResourceState};
use crate::jobs::resources::{DeleteKeyPair, ImportKeyPair};
use crate::jobs::{JobError, JobSettings};

const WHAT: &str = "key pair";

/// A private key in PEM form, as the provider handed it over. `Debug`
/// never shows it; it leaves the process only in the one answer that
/// offers it for download.
pub struct PrivateKey(String);

impl PrivateKey {
    pub fn pem(&self) -> &str {
        &self.0
    }

    /// The key as a `data:` URL, for `<a download="NAME.pem" href="…">`.
    pub fn data_url(&self) -> String {
        format!("data:application/x-pem-file;base64,{}", base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(hidden)")
    }
}

/// A key pair the provider has just made, with its private key.
#[derive(Debug)]
pub struct Created {
    /// The row in `key_pairs`.
    pub id: i64,
    pub name: KeyPairName,
    pub fingerprint: String,
    pub provider_id: Option<String>,
    pub private_key: PrivateKey,
}

fn taken(actor: &Actor<'_>, name: &KeyPairName, state: ResourceState) -> ChangeError {
    name_taken(actor, WHAT, name.as_str(), state)
}

/// The sentence for a provider that did not make the key pair: an outage
/// asks to try again, a refusal says what the provider said.
pub fn not_made(account: &str, e: &CloudError) -> String {
    match e {
        CloudError::Unreachable(_) => {
            format!("The cloud provider of {account} does not answer; nothing was created. Try again in a moment.")
        }
        other => format!("The cloud provider did not create the key pair: {other}"),
    }
}

/// The provider failed a call the change waited for. An outage is noted for
/// the account's banner, as a failed job would note it.
async fn provider_failed(pool: &db::Pool, actor: &Actor<'_>, e: CloudError) -> ChangeError {
    if matches!(e, CloudError::Unreachable(_)) {
        let noted = match pool.get().await {
            Ok(mut conn) => db::sync::mark_unreachable(&mut conn, actor.account.id).await.map_err(anyhow::Error::from),
            Err(e) => Err(e.into()),
        };
        if let Err(note) = noted {
            tracing::warn!(error = %note, "could not record the provider outage");
        }
    }
    ChangeError::Provider(e)
}

/// Creates key pair `name` at the account's `provider` (as
/// `AppState::provider` answers) right away and records it (row and audit
/// event, one transaction). The private key is in the answer and nowhere
/// else. Needs `KEYPAIR Configure`.
///
/// It takes the pool, not a connection: no connection is held while the
/// provider is asked, which may take up to its call timeout.
pub async fn create(
    pool: &db::Pool,
    actor: &Actor<'_>,
    provider: Result<Arc<dyn CloudProvider>, JobError>,
    name: &KeyPairName,
) -> Result<Created, ChangeError> {
    actor.require(Resource::Keypair, ResourceAction::Create.right())?;
    let account = actor.account.id;
    // Asked before the provider is, so a taken name costs no call; the
    // unique index has the last word below.
    let taken_by = db::keypairs::name_taken(&mut *pool.get().await?, account, name.as_str()).await?;
    if let Some(state) = taken_by {
        return Err(taken(actor, name, state));
    }
    let provider = match provider {
        Ok(provider) => provider,
        Err(JobError::Cloud(e)) => return Err(provider_failed(pool, actor, e).await),
        // Its credentials could not be read.
        Err(JobError::Database(e)) => return Err(e.into()),
        Err(JobError::Pool(e)) => return Err(e.into()),
        Err(JobError::Invalid(why)) => return Err(ChangeError::Provider(CloudError::Failed(why))),
        Err(JobError::Secrets(e)) => return Err(ChangeError::Provider(CloudError::Failed(e.to_string()))),
    };
    let made = match provider.create_key_pair(name.as_str()).await {
        Ok(made) => made,
        Err(CloudError::Refused { code, .. }) if code == "InvalidKeyPair.Duplicate" => {
            return Err(Refusal::NameTakenAtProvider { what: WHAT, name: name.as_str().to_owned() }.into());
        }
        Err(e) => return Err(provider_failed(pool, actor, e).await),
    };
    let crate::cloud::KeyPair { fingerprint, id: provider_id, private_key, .. } = made;
    let saved = match private_key {
        Some(pem) => match pool.get().await {
            Ok(mut conn) => {
                record_created(&mut conn, actor, name, &fingerprint, provider_id.as_deref()).await.map(|id| (id, pem))
            }
            Err(e) => Err(e.into()),
        },
        None => Err(ChangeError::Provider(CloudError::Failed(
            "it made the key pair but sent no private key; it has been deleted again".into(),
        ))),
    };
    match saved {
        Ok((id, pem)) => Ok(Created { id, name: name.clone(), fingerprint, provider_id, private_key: PrivateKey(pem) }),
        Err(e) => {
            if let Err(undo) = provider.delete_key_pair(name.as_str()).await {
                tracing::error!(error = %undo, key_pair = name.as_str(), "a key pair the console could not record is left at the provider");
            }
            Err(e)
        }
    }
}

async fn record_created(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    name: &KeyPairName,
    fingerprint: &str,
    provider_id: Option<&str>,
) -> Result<i64, ChangeError> {
    let row = db::keypairs::NewKeyPair {
        account_id: actor.account.id,
        name: name.as_str(),
        fingerprint,
        provider_id,
        state: ResourceState::Active.as_str(),
    };
    conn.transaction(async |conn| {
        // A key-pair sync that listed the new key pair before this write
        // has written its row: the same key, so it is this key pair's.
        let written = match db::keypairs::insert(conn, &row).await? {
            Some(id) => Some(id),
            None => db::keypairs::synced(conn, actor.account.id, name.as_str(), fingerprint).await?,
        };
        let id = written.ok_or_else(|| taken(actor, name, ResourceState::Active))?;
        let changes =
            serde_json::json!({ "name": name.as_str(), "fingerprint": fingerprint, "provider_id": provider_id });
        db::audit_log::record(conn, &actor.event("create", Resource::Keypair, id, changes)).await?;
        Ok(id)
    })
    .await
}

/// Records key pair `name` as importing `key`, with its audit event and the
/// `import_key_pair` job, in one transaction; its id. Needs `KEYPAIR
/// Configure`.
pub async fn import(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    jobs: &JobSettings,
    name: &KeyPairName,
    key: &PublicKey,
) -> Result<i64, ChangeError> {
    actor.require(Resource::Keypair, ResourceAction::Create.right())?;
    let account = actor.account.id;
    conn.transaction(async |conn| {
        if let Some(state) = db::keypairs::name_taken(conn, account, name.as_str()).await? {
            return Err(taken(actor, name, state));
        }
        let row = db::keypairs::NewKeyPair {
            account_id: account,
            name: name.as_str(),
            fingerprint: "",
            provider_id: None,
            state: ResourceState::Pending.as_str(),
        };
        let id = db::keypairs::insert(conn, &row).await?.ok_or_else(|| taken(actor, name, ResourceState::Active))?;
        let changes = serde_json::json!({
            "name": name.as_str(), "algorithm": key.algorithm(), "public_key_fingerprint": key.fingerprint(),
        });
        db::audit_log::record(conn, &actor.event("import", Resource::Keypair, id, changes)).await?;
        let job =
            ImportKeyPair { key_pair_id: id, name: name.as_str().to_owned(), public_key: key.openssh().to_owned() };
        db::jobs::enqueue(conn, &job.job(account, jobs.max_attempts).by(actor.user.id)).await?;
        Ok(id)
    })
    .await
}

/// Found by id, used by the live servers launched with its name, deleted at
/// the provider by name.
impl ProviderResource for KeyPairRow {
    const RESOURCE: Resource = Resource::Keypair;
    const WHAT: &'static str = WHAT;

    provider_resource_rows!(keypairs);

    fn live_servers_using(
        &self,
        conn: &mut AsyncPgConnection,
        account_id: i64,
    ) -> impl Future<Output = QueryResult<i64>> + Send {
        db::keypairs::live_servers_using(conn, account_id, &self.name)
    }

    fn delete_facts(&self, live_servers: i64) -> DeleteFacts {
        DeleteFacts { state: self.state, live_servers, permanent: false }
    }

    fn delete_job(&self, account_id: i64, max_attempts: i32) -> Option<NewJob<'static>> {
        Some(DeleteKeyPair { key_pair_id: self.id, name: self.name.clone() }.job(account_id, max_attempts))
    }

    fn audit_changes(&self) -> serde_json::Value {
        serde_json::json!({ "name": self.name, "fingerprint": self.fingerprint, "provider_id": self.provider_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_key_never_shows_in_debug() {
        let created = PrivateKey("-----BEGIN RSA PRIVATE KEY-----secret".into());
        assert_eq!(format!("{created:?}"), "PrivateKey(hidden)");
        assert!(created.data_url().starts_with("data:application/x-pem-file;base64,"));
    }

    #[test]
    fn a_provider_outage_asks_to_try_again() {
        let down = not_made("Acme Production", &CloudError::Unreachable("timeout".into()));
        assert!(down.starts_with("The cloud provider of Acme Production does not answer"));
        let refused = CloudError::Refused { code: "X".into(), message: "no".into() };
        assert_eq!(not_made("Acme", &refused), "The cloud provider did not create the key pair: no (X)");
    }
}
