//! Changes: one async function per user action, below the pages (and the
//! API, which calls the very same functions).
//!
//! Each takes a connection, the acting user ([`Actor`]) and typed input
//! (domain newtypes, parsed at the edge), and in one transaction:
//! authorizes with the one access decision (`Rights::require` and the
//! domain's rules built on it), re-checks the rules that depend on the
//! database under the locks they need, writes, records the audit event and
//! queues the provider's jobs. It returns a typed result or a
//! [`ChangeError`]. Nothing above this layer writes.
//!
//! Error policy: queries return `QueryResult`; a change returns
//! `ChangeError`; `web::error` is the one place that maps it to a status.

pub mod admin;
pub mod budget_codes;
pub mod cloud_accounts;
pub mod firewalls;
pub mod images;
pub mod keypairs;
pub mod launch;
pub mod onboarding;
pub mod resources;
pub mod servers;
pub mod tokens;

use crate::cloud::CloudError;
use crate::db::accounts::Account;
use crate::db::audit_log::NewAuditEvent;
use crate::db::users::User;
use crate::domain::ValidationError;
use crate::domain::access::{Action, Forbidden, Resource, Rights};
use crate::domain::refusal::Refusal;

/// The user acting in one account, with their rights there.
#[derive(Clone, Copy)]
pub struct Actor<'a> {
    pub user: &'a User,
    /// The account the change is made in.
    pub account: &'a Account,
    /// Every account the user may enter, the current one included.
    pub accounts: &'a [Account],
    pub rights: &'a Rights,
}

impl Actor<'_> {
    /// Forbidden unless the user's role allows `action` on `resource` in
    /// this account.
    pub fn require(&self, resource: Resource, action: Action) -> Result<(), Forbidden> {
        self.rights.require(resource, action)
    }

    /// The audit event of a change this user made in this account.
    pub fn event<'e>(
        &self,
        action: &'e str,
        resource: Resource,
        id: impl ToString,
        changes: serde_json::Value,
    ) -> NewAuditEvent<'e> {
        NewAuditEvent {
            account_id: Some(self.account.id),
            user_id: Some(self.user.id),
            action,
            resource: resource.as_str(),
            resource_id: Some(id.to_string()),
            outcome: "success",
            changes,
        }
    }
}

/// Why a change was not made. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// Input that breaks a rule, every field's problem at once.
    #[error("{}", .0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join(" "))]
    Invalid(Vec<ValidationError>),
    /// Well-formed and allowed, but the rules refuse it now.
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// Not in the actor's account (or not at all).
    #[error("not found")]
    NotFound,
    /// The provider refused or did not answer a call the change waits for.
    #[error(transparent)]
    Provider(#[from] CloudError),
    #[error(transparent)]
    Db(diesel::result::Error),
    /// The database did not answer (no connection, or it broke): nothing
    /// committed, and the change is not retried; the user sends it again.
    #[error(transparent)]
    Unavailable(#[from] crate::db::Outage),
}

impl From<diesel::result::Error> for ChangeError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => ChangeError::NotFound,
            other if crate::db::outage::is_contention(&other) => {
                tracing::info!(error = %other, "a change met another at the same rows and was undone");
                ChangeError::Refused(Refusal::Contended)
            }
            other => crate::db::Outage::of(&other).map_or(ChangeError::Db(other), ChangeError::Unavailable),
        }
    }
}

impl From<crate::db::PoolError> for ChangeError {
    fn from(e: crate::db::PoolError) -> Self {
        ChangeError::Unavailable(e.into())
    }
}

impl From<ValidationError> for ChangeError {
    fn from(e: ValidationError) -> Self {
        ChangeError::Invalid(vec![e])
    }
}

impl ChangeError {
    /// The messages that belong to form fields (validation, and refusals of
    /// one field such as a taken name), or `None` when the error is about
    /// the change as a whole.
    pub fn field_errors(&self) -> Option<Vec<ValidationError>> {
        match self {
            ChangeError::Invalid(errors) => Some(errors.clone()),
            ChangeError::Refused(refusal) => refusal.field().map(|f| vec![ValidationError::new(f, refusal.message())]),
            _ => None,
        }
    }
}
