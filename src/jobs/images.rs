//! Image changes at the provider: deregistration, launch permissions and
//! deprecation. Each is queued in the transaction that makes the change in
//! the console; once the provider has it, the account's images are synced.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};

use super::JobError;
use crate::cloud::{CloudError, CloudProvider, LaunchPermission};
use crate::db;
use crate::db::jobs::{Job, NewJob};
use crate::domain::access::{JobSubject, Ownership};

pub use crate::db::jobs::{DEREGISTER_IMAGE, LAUNCH_PERMISSION, SET_AVAILABILITY, SET_DEPRECATION};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deregister {
    pub image_id: String,
}

/// Grants or revokes launching an image: to one account, or to everyone.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Permission {
    pub image_id: String,
    pub grant: bool,
    /// The provider account number; everyone when `None`.
    pub account_number: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deprecation {
    pub image_id: String,
    pub deprecated_at: Option<DateTime<Utc>>,
}

/// A retired image disabled at the provider (`enabled: false`), or a
/// restored one enabled again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Availability {
    pub image_id: String,
    pub enabled: bool,
}

impl Availability {
    pub fn job(&self, account_id: i64, max_attempts: i32, image: Ownership) -> NewJob<'static> {
        super::new_job(account_id, SET_AVAILABILITY, self, max_attempts, JobSubject::Image(image))
    }
}

impl Deregister {
    pub fn job(&self, account_id: i64, max_attempts: i32, image: Ownership) -> NewJob<'static> {
        super::new_job(account_id, DEREGISTER_IMAGE, self, max_attempts, JobSubject::Image(image))
    }
}

impl Permission {
    pub fn job(&self, account_id: i64, max_attempts: i32, image: Ownership) -> NewJob<'static> {
        super::new_job(account_id, LAUNCH_PERMISSION, self, max_attempts, JobSubject::Image(image))
    }
}

impl Deprecation {
    pub fn job(&self, account_id: i64, max_attempts: i32, image: Ownership) -> NewJob<'static> {
        super::new_job(account_id, SET_DEPRECATION, self, max_attempts, JobSubject::Image(image))
    }
}

/// Deregisters an image. One that is already gone counts as done, so a
/// retry after a lost answer completes.
pub async fn deregister(provider: &dyn CloudProvider, job: &Job) -> Result<Option<serde_json::Value>, JobError> {
    let Deregister { image_id } = super::payload_of(job)?;
    match provider.deregister_image(&image_id).await {
        Ok(()) => Ok(None),
        Err(CloudError::Refused { code, .. }) if code.starts_with("InvalidAMIID") => {
            Ok(Some(serde_json::json!({ "note": "the image was already gone at the provider" })))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn permission(provider: &dyn CloudProvider, job: &Job) -> Result<Option<serde_json::Value>, JobError> {
    let Permission { image_id, grant, account_number } = super::payload_of(job)?;
    let who = account_number.map_or(LaunchPermission::Public, LaunchPermission::Account);
    if grant {
        provider.add_launch_permission(&image_id, &who).await?;
    } else {
        provider.remove_launch_permission(&image_id, &who).await?;
    }
    Ok(None)
}

/// A grant the provider refused for good: the share the console recorded
/// when it was asked for is undone, so that no list says an image is shared
/// that the provider does not share. In the transaction that marks the job
/// failed. (A revoke that failed leaves the record gone: its job's error
/// says the provider still shares the image.) Unless the same permission
/// was asked about again since (unshared and shared again, made private
/// and public again): the later job's outcome holds, and the share it
/// recorded stays.
pub async fn failed(conn: &mut AsyncPgConnection, job: &Job, error: &str) -> Result<(), JobError> {
    if job.kind != LAUNCH_PERMISSION {
        return Ok(());
    }
    let (Some(owner), Ok(Permission { image_id, grant: true, account_number })) =
        (job.account_id, super::payload_of(job))
    else {
        return Ok(());
    };
    let number = account_number.as_deref();
    if db::jobs::permission_asked_since(conn, owner, job.id, &image_id, number).await? {
        return Ok(());
    }
    for (account, record) in db::images::undo_grant(conn, owner, &image_id, number).await? {
        let changes = serde_json::json!({
            "provider_image_id": image_id,
            "reason": format!("the provider refused the share: {error}"),
        });
        db::audit_log::record(conn, &super::lifecycle::event(account, record, "unshare", changes)).await?;
    }
    Ok(())
}

/// Sets or clears the deprecation time at the provider; a provider without
/// deprecation leaves it to the console, and the job says so.
pub async fn deprecation(provider: &dyn CloudProvider, job: &Job) -> Result<Option<serde_json::Value>, JobError> {
    let Deprecation { image_id, deprecated_at } = super::payload_of(job)?;
    if !provider.capabilities().deprecate {
        return Ok(Some(serde_json::json!({
            "note": "the provider does not keep deprecation; the console keeps it"
        })));
    }
    provider.set_deprecation(&image_id, deprecated_at).await?;
    Ok(None)
}

/// Disables or enables an image at the provider. A provider that cannot
/// disable images leaves it to the console (which keeps a retired image out
/// of every list and refuses its launches), and the job says so.
pub async fn availability(provider: &dyn CloudProvider, job: &Job) -> Result<Option<serde_json::Value>, JobError> {
    let Availability { image_id, enabled } = super::payload_of(job)?;
    if !provider.capabilities().disable {
        return Ok(Some(serde_json::json!({
            "note": "the provider cannot disable images; the console keeps a retired image out of every list and refuses its launches"
        })));
    }
    let done = if enabled { provider.enable_image(&image_id).await } else { provider.disable_image(&image_id).await };
    match done {
        Ok(()) => Ok(None),
        Err(CloudError::Refused { code, .. }) if code.starts_with("InvalidAMIID") => {
            Ok(Some(serde_json::json!({ "note": "the image was already gone at the provider" })))
        }
        Err(e) => Err(e.into()),
    }
}
