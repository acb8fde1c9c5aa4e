//! Deleting key pairs and firewalls: one change for both (PRODUCT 4).
//!
//! The two are rows that can be ahead of the provider (`domain::resource`),
//! and Delete is the same for both: hide a ready row and queue the job that
//! deletes it at the provider, or remove the row of one the provider never
//! made; refuse while servers use it, while the provider is busy with it, or
//! for good (the `default` firewall). What differs (how a row is found, how
//! its live servers are counted, its delete job, what its audit event
//! records) is the small [`ProviderResource`] trait, which each change
//! module implements for its row; [`delete`] is the one change function.
//!
//! The trait's queries return `impl Future + Send` rather than being
//! `async fn`s: the change runs them inside diesel-async's transaction,
//! whose future must be `Send`. The row's `id`, `name` and `state` and the queries
//! that `db`'s `resource_state_writes!` writes for both tables are passed
//! through by [`provider_resource_rows!`], so each impl holds only what
//! differs.

use std::future::Future;

use diesel::QueryResult;
use diesel_async::{AsyncConnection as _, AsyncPgConnection};

use super::{Actor, ChangeError};
use crate::db::{self, jobs::NewJob};
use crate::domain::access::Resource;
use crate::domain::refusal::Refusal;
use crate::domain::resource::{DeleteFacts, Deletion, ResourceAction, ResourceState, deletion};
use crate::jobs::JobSettings;

/// The parts of a [`ProviderResource`] impl that are the same for both
/// rows: `id`, `name` and `state` are the row's fields, `find`,
/// `find_for_delete`, `mark_deleting` and `remove` are the functions of the
/// same names in `db::$module`.
macro_rules! provider_resource_rows {
    ($module:ident) => {
        fn id(&self) -> i64 {
            self.id
        }

        fn name(&self) -> &str {
            &self.name
        }

        fn state(&self) -> crate::domain::resource::ResourceState {
            self.state
        }

        fn find(
            conn: &mut diesel_async::AsyncPgConnection,
            account_id: i64,
            id: i64,
        ) -> impl std::future::Future<Output = diesel::QueryResult<Self>> + Send {
            crate::db::$module::find(conn, account_id, id)
        }

        fn find_for_delete(
            conn: &mut diesel_async::AsyncPgConnection,
            account_id: i64,
            id: i64,
        ) -> impl std::future::Future<Output = diesel::QueryResult<Self>> + Send {
            crate::db::$module::find_for_delete(conn, account_id, id)
        }

        fn mark_deleting(
            conn: &mut diesel_async::AsyncPgConnection,
            account_id: i64,
            id: i64,
        ) -> impl std::future::Future<Output = diesel::QueryResult<bool>> + Send {
            crate::db::$module::mark_deleting(conn, account_id, id)
        }

        fn remove(
            conn: &mut diesel_async::AsyncPgConnection,
            account_id: i64,
            id: i64,
            state: crate::domain::resource::ResourceState,
        ) -> impl std::future::Future<Output = diesel::QueryResult<bool>> + Send {
            crate::db::$module::remove(conn, account_id, id, state)
        }
    };
}
pub(super) use provider_resource_rows;

/// The refusal of a new key pair or firewall whose name a row of the
/// account that still counts (in `state`) has.
pub(super) fn name_taken(actor: &Actor<'_>, what: &'static str, name: &str, state: ResourceState) -> ChangeError {
    Refusal::NameTaken { what, name: name.to_owned(), state, account: actor.account.name.clone() }.into()
}

/// A row the provider holds too, which the console deletes through a job.
pub trait ProviderResource: Sized + Send + Sync {
    /// Its resource in the access rights.
    const RESOURCE: Resource;
    /// Its noun in sentences: "key pair", "firewall".
    const WHAT: &'static str;

    fn id(&self) -> i64;
    fn name(&self) -> &str;
    /// Where it stands with the provider.
    fn state(&self) -> ResourceState;

    /// A listed row of the account; `NotFound` for any other id.
    fn find(conn: &mut AsyncPgConnection, account_id: i64, id: i64) -> impl Future<Output = QueryResult<Self>> + Send;

    /// [`Self::find`], locked until the transaction ends: a launch that
    /// holds it is waited for, so its servers are counted.
    fn find_for_delete(
        conn: &mut AsyncPgConnection,
        account_id: i64,
        id: i64,
    ) -> impl Future<Output = QueryResult<Self>> + Send;

    /// Live servers of the account that use it.
    fn live_servers_using(
        &self,
        conn: &mut AsyncPgConnection,
        account_id: i64,
    ) -> impl Future<Output = QueryResult<i64>> + Send;

    /// What decides whether it can be deleted, with `live_servers` using it.
    fn delete_facts(&self, live_servers: i64) -> DeleteFacts;

    /// Hides a ready row until its delete job is done; false when it is not
    /// ready (anymore).
    fn mark_deleting(
        conn: &mut AsyncPgConnection,
        account_id: i64,
        id: i64,
    ) -> impl Future<Output = QueryResult<bool>> + Send;

    /// Removes the row (in `state`); false when there was none.
    fn remove(
        conn: &mut AsyncPgConnection,
        account_id: i64,
        id: i64,
        state: ResourceState,
    ) -> impl Future<Output = QueryResult<bool>> + Send;

    /// The job that deletes it at the provider; `None` while the provider
    /// has not told its id.
    fn delete_job(&self, account_id: i64, max_attempts: i32) -> Option<NewJob<'static>>;

    /// What the audit event of its deletion records.
    fn audit_changes(&self) -> serde_json::Value;
}

/// A row of the account and what decides whether it can be deleted; 404
/// for another account's id.
pub async fn delete_target<R: ProviderResource>(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    id: i64,
) -> QueryResult<(R, DeleteFacts)> {
    let row = R::find(conn, account_id, id).await?;
    facts_of(conn, account_id, row).await
}

/// [`delete_target`], locked for the delete that acts on it.
async fn locked_target<R: ProviderResource>(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    id: i64,
) -> QueryResult<(R, DeleteFacts)> {
    let row = R::find_for_delete(conn, account_id, id).await?;
    facts_of(conn, account_id, row).await
}

async fn facts_of<R: ProviderResource>(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    row: R,
) -> QueryResult<(R, DeleteFacts)> {
    let used = row.live_servers_using(conn, account_id).await?;
    let facts = row.delete_facts(used);
    Ok((row, facts))
}

/// A key pair or firewall deleted: at the provider through a job
/// (`at_provider`), or only its row, as the provider never made it.
pub struct Deleted {
    pub name: String,
    pub at_provider: bool,
}

/// Deletes the key pair or firewall `id` of the actor's account (404 for
/// any other id). The servers that use it are counted again inside the
/// transaction that acts on the answer.
pub async fn delete<R: ProviderResource>(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    jobs: &JobSettings,
    id: i64,
) -> Result<Deleted, ChangeError> {
    actor.require(R::RESOURCE, ResourceAction::Delete.right())?;
    let account = actor.account.id;
    conn.transaction(async |conn| {
        let (row, facts) = locked_target::<R>(conn, account, id).await?;
        let refused = |why| ChangeError::from(Refusal::Undeletable { what: R::WHAT, why });
        let decision = deletion(actor.rights, R::RESOURCE, &facts);
        match decision {
            Deletion::AtProvider => {
                // An active firewall always has its group id (a CHECK holds it).
                let Some(job) = row.delete_job(account, jobs.max_attempts) else {
                    return Err(refused(Deletion::Busy(ResourceState::Pending)));
                };
                if !R::mark_deleting(conn, account, row.id()).await? {
                    return Err(refused(Deletion::Busy(ResourceState::Deleting)));
                }
                db::jobs::enqueue(conn, &job.by(actor.user.id)).await?;
            }
            Deletion::RowOnly => {
                if !R::remove(conn, account, row.id(), ResourceState::Error).await? {
                    return Err(refused(Deletion::Busy(ResourceState::Deleting)));
                }
            }
            why => return Err(refused(why)),
        }
        db::audit_log::record(conn, &actor.event("delete", R::RESOURCE, row.id(), row.audit_changes())).await?;
        Ok(Deleted { at_provider: decision == Deletion::AtProvider, name: row.name().to_owned() })
    })
    .await
}
