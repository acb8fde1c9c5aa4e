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
//!
//! A ready firewall's inbound rules are added and removed here: a new rule
//! is written pending with an `authorize_ingress` job, a removed one is
//! hidden as removing with a `revoke_ingress` job (one the provider refused
//! is only deleted), each with its audit event. Both lock the firewall's
//! row, so a rule is never added twice, nor to a firewall being deleted.

use std::future::Future;

use diesel::QueryResult;
use diesel_async::{AsyncConnection as _, AsyncPgConnection};

use super::resources::{ProviderResource, name_taken, provider_resource_rows};
use super::{Actor, ChangeError};
use crate::db::{self, firewalls::FirewallRow, jobs::NewJob};
use crate::domain::ValidationError;
use crate::domain::access::Resource;
use crate::domain::firewalls::{DEFAULT, FirewallDescription, FirewallName, Rule};
use crate::domain::refusal::Refusal;
use crate::domain::resource::{DeleteFacts, ResourceAction, ResourceState};
use crate::jobs::JobSettings;
use crate::jobs::resources::{
    AUTHORIZE_INGRESS, CreateSecurityGroup, DeleteSecurityGroup, IngressChange, REVOKE_INGRESS,
};

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

/// Lets `rule` in through firewall `firewall_id` of the actor's account
/// (right `FIREWALL Configure`); the new rule's id. Refused while the
/// provider has not made the firewall; a rule it holds already is refused
/// at the Source field.
pub async fn add_rule(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    jobs: &JobSettings,
    firewall_id: i64,
    rule: &Rule,
) -> Result<i64, ChangeError> {
    actor.require(Resource::Firewall, ResourceAction::Create.right())?;
    let account = actor.account;
    conn.transaction(async |conn| {
        let firewall = db::firewalls::find_for_delete(conn, account.id, firewall_id).await?;
        let group = match &firewall.provider_id {
            Some(group) if firewall.is_ready() => group.clone(),
            _ => {
                let failed = firewall.state == ResourceState::Error;
                return Err(Refusal::FirewallNotReady { name: firewall.name, failed }.into());
            }
        };
        let held = db::firewall_rules::holding(conn, firewall.id, rule).await?;
        if let Some(state) = held.map(|row| row.state) {
            return Err(held_already(&firewall.name, rule, state));
        }
        // A sync may have written it since: then it is held already.
        let Some(id) = db::firewall_rules::insert(conn, firewall.id, rule, ResourceState::Pending).await? else {
            return Err(held_already(&firewall.name, rule, ResourceState::Active));
        };
        db::audit_log::record(conn, &actor.event("add_rule", Resource::Firewall, firewall.id, rule_changes(rule)))
            .await?;
        let job = IngressChange { firewall_id: firewall.id, rule_id: id, group_id: group, rule: rule.clone() };
        db::jobs::enqueue(conn, &job.job(AUTHORIZE_INGRESS, account.id, jobs.max_attempts).by(actor.user.id)).await?;
        Ok(id)
    })
    .await
}

/// Adding `rule` to firewall `name`, which holds it in `state`: refused at
/// the Source field.
fn held_already(name: &str, rule: &Rule, state: ResourceState) -> ChangeError {
    let summary = rule.summary();
    let message = match state {
        ResourceState::Active => format!("“{name}” lets {summary} in already."),
        ResourceState::Pending => format!("“{name}” is letting {summary} in already: it is being added."),
        ResourceState::Deleting => {
            format!("“{name}” is being told to stop letting {summary} in; add it again once it is gone.")
        }
        ResourceState::Error => format!("“{name}” has this rule, which failed: remove it, then add it again."),
    };
    ChangeError::Invalid(vec![ValidationError::new("source", message)])
}

/// What a rule change records in the audit log.
fn rule_changes(rule: &Rule) -> serde_json::Value {
    serde_json::json!({
        "rule": rule.summary(),
        "protocol": rule.protocol_choice(),
        "ports": rule.ports_choice(),
        "source": rule.source,
    })
}

/// A removed rule: its summary, and whether the provider still takes it out.
#[derive(Debug)]
pub struct RemovedRule {
    pub summary: String,
    pub at_provider: bool,
}

/// Removes rule `rule_id` of firewall `firewall_id` (right `FIREWALL
/// Configure`): an active rule is hidden as removing and taken out at the
/// provider by its job; one the provider refused to add is only deleted.
pub async fn remove_rule(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    jobs: &JobSettings,
    firewall_id: i64,
    rule_id: i64,
) -> Result<RemovedRule, ChangeError> {
    use ResourceState::{Active, Deleting, Error, Pending};
    actor.require(Resource::Firewall, ResourceAction::Create.right())?;
    let account = actor.account;
    conn.transaction(async |conn| {
        let firewall = db::firewalls::find_for_delete(conn, account.id, firewall_id).await?;
        let row = db::firewall_rules::find_for_change(conn, firewall.id, rule_id).await?;
        let rule = row.rule();
        let (summary, changes) = (rule.summary(), rule_changes(&rule));
        let at_provider = match (row.state, &firewall.provider_id) {
            (Active, Some(group)) => {
                db::firewall_rules::settle(conn, account.id, firewall.id, row.id, (Active, Deleting), None).await?;
                let job = IngressChange { firewall_id: firewall.id, rule_id: row.id, group_id: group.clone(), rule };
                let job = job.job(REVOKE_INGRESS, account.id, jobs.max_attempts).by(actor.user.id);
                db::jobs::enqueue(conn, &job).await?;
                true
            }
            (Error, _) | (Active, None) => {
                db::firewall_rules::remove(conn, account.id, firewall.id, row.id, row.state).await?;
                false
            }
            (Pending | Deleting, _) => {
                return Err(Refusal::RuleBusy { rule: summary, adding: row.state == Pending }.into());
            }
        };
        db::audit_log::record(conn, &actor.event("remove_rule", Resource::Firewall, firewall.id, changes)).await?;
        Ok(RemovedRule { summary, at_provider })
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
