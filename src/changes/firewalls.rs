//! Creating and deleting firewalls (PRODUCT 4, the Firewalls page).
//!
//! A new firewall is written as pending, without its group id, with its
//! audit event and a `create_security_group` job; the job stores the id.
//! Delete hides a ready firewall and queues `delete_security_group`, or
//! removes the row of one the provider never made. Names are checked for use
//! in the account under a lock on the account's row
//! (`db::firewalls::lock_names`), as the database cannot hold them unique.

use diesel_async::{AsyncConnection as _, AsyncPgConnection};

use super::{Actor, ChangeError};
use crate::db::{self, firewalls::FirewallRow};
use crate::domain::access::Resource;
use crate::domain::firewalls::{DEFAULT, FirewallDescription, FirewallName};
use crate::domain::refusal::Refusal;
use crate::domain::resource::{DeleteFacts, Deletion, ResourceAction, ResourceState, deletion};
use crate::jobs::JobSettings;
use crate::jobs::resources::{CreateSecurityGroup, DeleteSecurityGroup};

const WHAT: &str = "firewall";

/// What decides whether the firewall can be deleted.
pub fn delete_facts(row: &FirewallRow, live_servers: i64) -> DeleteFacts {
    DeleteFacts { state: row.state, live_servers, permanent: row.name == DEFAULT }
}

/// Creates firewall `name` in the actor's account; its id.
pub async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    jobs: &JobSettings,
    name: &FirewallName,
    description: &FirewallDescription,
) -> Result<i64, ChangeError> {
    actor.require(Resource::Firewall, ResourceAction::Create.right())?;
    let account = actor.account;
    conn.transaction(async |conn| {
        db::firewalls::lock_names(conn, account.id).await?;
        if let Some(state) = db::firewalls::name_taken(conn, account.id, name.as_str()).await? {
            return Err(Refusal::NameTaken {
                what: WHAT,
                name: name.as_str().to_owned(),
                state,
                account: account.name.clone(),
            }
            .into());
        }
        let row = db::firewalls::NewFirewall {
            account_id: account.id,
            name: name.as_str(),
            description: description.as_str(),
            state: ResourceState::Pending.as_str(),
        };
        let id = db::firewalls::insert(conn, &row).await?;
        let changes = serde_json::json!({ "name": name.as_str(), "description": description.as_str() });
        db::audit_log::record(conn, &actor.event("create", Resource::Firewall, id, changes)).await?;
        let job = CreateSecurityGroup {
            firewall_id: id,
            name: name.as_str().to_owned(),
            description: description.as_str().to_owned(),
        };
        db::jobs::enqueue(conn, &job.job(account.id, jobs.max_attempts)).await?;
        Ok(id)
    })
    .await
}

/// A firewall deleted: at the provider through a job (`at_provider`), or
/// only its row, as the provider never made it.
pub struct Deleted {
    pub name: String,
    pub at_provider: bool,
}

/// Deletes firewall `id` of the actor's account (404 for any other id). The
/// servers that use it are counted again inside the transaction that acts
/// on the answer.
pub async fn delete(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    jobs: &JobSettings,
    id: i64,
) -> Result<Deleted, ChangeError> {
    actor.require(Resource::Firewall, ResourceAction::Delete.right())?;
    let account = actor.account.id;
    conn.transaction(async |conn| {
        let row = db::firewalls::find(conn, account, id).await?;
        let used = db::firewalls::live_servers_using(conn, account, row.id).await?;
        let busy = Refusal::Undeletable { what: WHAT, why: Deletion::Busy(ResourceState::Deleting) };
        let decision = deletion(actor.rights, Resource::Firewall, &delete_facts(&row, used));
        match (decision, &row.provider_id) {
            (Deletion::AtProvider, Some(group)) => {
                if !db::firewalls::mark_deleting(conn, account, row.id).await? {
                    return Err(busy.into());
                }
                let job = DeleteSecurityGroup { firewall_id: row.id, group_id: group.clone() };
                db::jobs::enqueue(conn, &job.job(account, jobs.max_attempts)).await?;
            }
            (Deletion::RowOnly, _) => {
                if !db::firewalls::remove(conn, account, row.id, ResourceState::Error).await? {
                    return Err(busy.into());
                }
            }
            // An active firewall always has its group id (a CHECK holds it).
            (Deletion::AtProvider, None) => {
                return Err(Refusal::Undeletable { what: WHAT, why: Deletion::Busy(ResourceState::Pending) }.into());
            }
            (why, _) => return Err(Refusal::Undeletable { what: WHAT, why }.into()),
        }
        let changes = serde_json::json!({ "name": row.name, "provider_id": row.provider_id });
        db::audit_log::record(conn, &actor.event("delete", Resource::Firewall, row.id, changes)).await?;
        Ok(Deleted { at_provider: decision == Deletion::AtProvider, name: row.name })
    })
    .await
}
