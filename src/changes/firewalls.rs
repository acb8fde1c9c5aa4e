//! Creating and deleting firewalls (PRODUCT 4, the Firewalls page).
//!
//! A new firewall is written as pending, without its group id, with its
//! audit event and a `create_security_group` job; the job stores the id.
//! Delete is `changes::resources::delete` (shared with key pairs): it hides
//! a ready firewall and queues `delete_security_group`, or removes the row
//! of one the provider never made; the provider's `default` group is
//! permanent. Names are checked for use
//! in the account under a lock on the account's row
//! (`db::firewalls::lock_names`), as the database cannot hold them unique.

use std::future::Future;

use diesel::QueryResult;
use diesel_async::{AsyncConnection as _, AsyncPgConnection};

use super::resources::{ProviderResource, name_taken, provider_resource_rows};
use super::{Actor, ChangeError};
use crate::db::{self, firewalls::FirewallRow, jobs::NewJob};
use crate::domain::access::Resource;
use crate::domain::firewalls::{DEFAULT, FirewallDescription, FirewallName};
use crate::domain::resource::{DeleteFacts, ResourceAction, ResourceState};
use crate::jobs::JobSettings;
use crate::jobs::resources::{CreateSecurityGroup, DeleteSecurityGroup};

const WHAT: &str = "firewall";

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
        if let Some((taken, state)) = db::firewalls::name_taken(conn, account.id, name.as_str()).await? {
            return Err(name_taken(actor, WHAT, &taken, state));
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
        db::jobs::enqueue(conn, &job.job(account.id, jobs.max_attempts).by(actor.user.id)).await?;
        Ok(id)
    })
    .await
}

/// Found by id, used by the live servers that name it in `firewall_ids`,
/// deleted at the provider by its group id.
impl ProviderResource for FirewallRow {
    const RESOURCE: Resource = Resource::Firewall;
    const WHAT: &'static str = WHAT;

    provider_resource_rows!(firewalls);

    fn live_servers_using(
        &self,
        conn: &mut AsyncPgConnection,
        account_id: i64,
    ) -> impl Future<Output = QueryResult<i64>> + Send {
        db::firewalls::live_servers_using(conn, account_id, self.id)
    }

    fn delete_facts(&self, live_servers: i64) -> DeleteFacts {
        DeleteFacts { state: self.state, live_servers, permanent: self.name == DEFAULT }
    }

    fn delete_job(&self, account_id: i64, max_attempts: i32) -> Option<NewJob<'static>> {
        let group = self.provider_id.clone()?;
        Some(DeleteSecurityGroup { firewall_id: self.id, group_id: group }.job(account_id, max_attempts))
    }

    fn audit_changes(&self) -> serde_json::Value {
        serde_json::json!({ "name": self.name, "provider_id": self.provider_id })
    }
}
