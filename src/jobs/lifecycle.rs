//! The image lifecycle of an account, evaluated at a moment ("now", an
//! argument, so tests choose it):
//!
//! - an own image whose deprecation day has come is deprecated, in the
//!   console and at the provider where it can (as the menu's Deprecate);
//! - one whose retirement day has come is retired: deprecated, its launch
//!   permissions taken back and disabled at the provider where it can
//!   (launches are refused), and moved to the recycle bin; unless it is protected or live servers were launched from
//!   it, when it waits, the image says why, and the next run tries again;
//! - images whose recycle-bin retention has ended are purged (every record
//!   goes and the provider deregisters them).
//!
//! One job per account, queued with the periodic syncs. Everything it does
//! is audited as done by the system.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use diesel_async::{AsyncConnection as _, AsyncPgConnection};

use super::images::{Availability, Deprecation};
use super::{JobError, JobSettings};
use crate::changes::ChangeError;
use crate::changes::images::ownership;
use crate::db::{self, Pool, audit_log::NewAuditEvent, images::ImageRow};
use crate::domain::access::Resource;
use crate::domain::refusal::Refusal;

pub const IMAGE_LIFECYCLE: &str = "image_lifecycle";

/// The job's payload: the moment to evaluate at, if not the time it runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Lifecycle {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<DateTime<Utc>>,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LifecycleReport {
    /// Records deprecated on their day.
    pub deprecated: Vec<i64>,
    /// Records retired on their day (now in the bin).
    pub retired: Vec<i64>,
    /// Records whose retirement waits (protected, or in use).
    pub retirement_waits: Vec<i64>,
    /// Records whose images were purged from the bin.
    pub purged: Vec<i64>,
    /// Records whose purge waits (protected, or in use).
    pub waiting: Vec<i64>,
}

/// Runs the lifecycle of `account_id` as at `now`.
pub async fn run(
    pool: &Pool,
    settings: &JobSettings,
    account_id: i64,
    now: DateTime<Utc>,
) -> Result<LifecycleReport, JobError> {
    let mut conn = pool.get().await?;
    let company = db::accounts::find(&mut conn, account_id).await?.company_id;
    let mut report = LifecycleReport::default();
    let today = now.date_naive();
    for row in db::images::scheduled_due(&mut conn, account_id, today).await? {
        let id = row.id;
        let deprecated = conn.transaction(async |conn| deprecate_due(conn, settings, account_id, id, now).await).await;
        if lifecycle_error(deprecated.as_ref().err()) {
            return Err(job_error(account_id, deprecated.err()));
        }
        if deprecated.unwrap_or(false) {
            report.deprecated.push(id);
        }
        match conn.transaction(async |conn| retire_due(conn, settings, account_id, company, id, now).await).await {
            Ok(true) => report.retired.push(id),
            Ok(false) => {}
            Err(ChangeError::Refused(why)) => {
                db::images::retirement_waits(&mut conn, row.image_pk, &why.message()).await?;
                tracing::info!(record = id, %why, "a scheduled retirement waits");
                report.retirement_waits.push(id);
            }
            Err(e) => return Err(job_error(account_id, Some(e))),
        }
    }
    for row in db::images::due_for_purge(&mut conn, account_id, now).await? {
        let purged = {
            use diesel_async::AsyncConnection as _;
            conn.transaction(async |conn| {
                db::images::lock_image(conn, row.image_pk).await?;
                // Restored or purged by someone else meanwhile: nothing to do.
                let Ok(row) = db::images::find_binned(conn, account_id, row.id).await else {
                    return Ok::<_, ChangeError>(None);
                };
                if row.purge_after.is_none_or(|at| at > now) {
                    return Ok(None);
                }
                let removed =
                    crate::changes::images::purge_binned(conn, account_id, None, company, settings, &row).await?;
                let reason = serde_json::json!({ "name": row.name, "provider_image_id": row.provider_image_id,
                                                 "recycle_bin": "retention ended" });
                db::audit_log::record(conn, &event(account_id, row.id, "purge", reason)).await?;
                for (other, record) in removed {
                    let changes = serde_json::json!({ "provider_image_id": row.provider_image_id,
                                                      "reason": "deleted by its owner" });
                    db::audit_log::record(conn, &event(other, record, "unshare", changes)).await?;
                }
                Ok(Some(row.id))
            })
            .await
        };
        match purged {
            Ok(Some(id)) => report.purged.push(id),
            Ok(None) => {}
            Err(ChangeError::Refused(why)) => {
                tracing::info!(record = row.id, %why, "a purge from the recycle bin waits");
                report.waiting.push(row.id);
            }
            Err(e) => return Err(job_error(account_id, Some(e))),
        }
    }
    Ok(report)
}

/// An event a job records (the lifecycle's, an undone share): done by the
/// system, not by a user.
pub(super) fn event(account: i64, record: i64, action: &str, changes: serde_json::Value) -> NewAuditEvent<'_> {
    NewAuditEvent {
        account_id: Some(account),
        user_id: None,
        action,
        resource: Resource::Image.as_str(),
        resource_id: Some(record.to_string()),
        outcome: "success",
        changes,
    }
}

/// Deprecates record `id` if its deprecation (or its retirement, which
/// deprecates first) is due, in the caller's transaction; whether it did.
async fn deprecate_due(
    conn: &mut AsyncPgConnection,
    settings: &JobSettings,
    account: i64,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool, ChangeError> {
    let Some(row) = locked(conn, account, id).await? else { return Ok(false) };
    let today = now.date_naive();
    let deprecation_due = row.deprecate_on.is_some_and(|day| day <= today);
    // A retirement deprecates once, when it falls due; one that waits has
    // done so, and an undeprecate since is the user's to keep (else every
    // run would deprecate it again).
    let retirement_due = row.retire_on.is_some_and(|day| day <= today) && row.retirement_waits.is_none();
    if !deprecation_due && !retirement_due {
        return Ok(false);
    }
    // The day is done, deprecated now or by hand before.
    let changed = db::images::deprecated_on_schedule(conn, row.id, row.image_pk, now).await?;
    if !changed {
        return Ok(false);
    }
    let on = row.deprecate_on.or(row.retire_on);
    let changes = serde_json::json!({ "deprecated": { "from": false, "to": true }, "scheduled_on": on });
    db::audit_log::record(conn, &event(account, row.id, "deprecate", changes)).await?;
    let job = Deprecation { image_id: row.provider_image_id.clone(), deprecated_at: Some(now) };
    db::jobs::enqueue(conn, &job.job(account, settings.max_attempts, ownership(&row))).await?;
    Ok(true)
}

/// Retires record `id` if its retirement is due, in the caller's
/// transaction: refused (the error) while it is protected or in use.
async fn retire_due(
    conn: &mut AsyncPgConnection,
    settings: &JobSettings,
    account: i64,
    company: i64,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool, ChangeError> {
    let Some(row) = locked(conn, account, id).await? else { return Ok(false) };
    if row.retire_on.is_none_or(|day| day > now.date_naive()) {
        return Ok(false);
    }
    if row.protected {
        return Err(Refusal::ImageProtected { name: row.name }.into());
    }
    let alive = db::images::alive_servers(conn, company, &row).await?;
    if alive > 0 {
        return Err(Refusal::ImageInUse(alive).into());
    }
    let days = db::images::retention_days(conn, company).await?;
    let purge_after = now + chrono::Duration::days(i64::from(days));
    db::images::bin_image(conn, row.image_pk, None, now, purge_after).await?;
    db::images::retired(conn, row.image_pk, now).await?;
    // Its launch permissions taken back first: a provider that cannot
    // disable images (or one whose disable keeps them) would still let the
    // accounts it is shared with launch it.
    crate::changes::images::queue_launch_permissions(conn, account, None, settings.max_attempts, &row, false).await?;
    let changes = serde_json::json!({ "scheduled_on": row.retire_on, "recycle_bin": { "purge_after": purge_after } });
    db::audit_log::record(conn, &event(account, row.id, "retire", changes)).await?;
    let job = Availability { image_id: row.provider_image_id.clone(), enabled: false };
    db::jobs::enqueue(conn, &job.job(account, settings.max_attempts, ownership(&row))).await?;
    Ok(true)
}

/// Record `id` of the account, its image's row locked; `None` when it has
/// gone or is in the bin meanwhile.
async fn locked(conn: &mut AsyncPgConnection, account: i64, id: i64) -> Result<Option<ImageRow>, ChangeError> {
    let Ok(row) = db::images::find_record(conn, account, id).await else { return Ok(None) };
    db::images::lock_image(conn, row.image_pk).await?;
    Ok(db::images::find_record(conn, account, id).await.ok())
}

/// Whether a step failed for a reason other than a refusal.
fn lifecycle_error(e: Option<&ChangeError>) -> bool {
    e.is_some_and(|e| !matches!(e, ChangeError::Refused(_)))
}

fn job_error(account: i64, e: Option<ChangeError>) -> JobError {
    match e {
        Some(ChangeError::Db(e)) => JobError::Database(e),
        Some(e) => JobError::Invalid(format!("the lifecycle of account {account}: {e}")),
        None => JobError::Invalid(format!("the lifecycle of account {account} failed")),
    }
}
