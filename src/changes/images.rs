//! Changes to image records: rename, relabel, deprecate, undeprecate,
//! delete and sharing (PRODUCT 3.3).
//!
//! Each change finds the record in the actor's account first (another
//! account's id is not found, whatever the actor's rights, and so is one
//! outside what their `IMAGE Access` right reaches), then asks the
//! rule that built the row's menu (`domain::images::may`, `may_configure`,
//! `sharing_rights`), and in one transaction writes the record, its audit
//! events and its provider job. Edits are optimistic: the form carries the
//! record's version, and a stale one is `Refusal::StaleVersion` with nothing
//! written; the page shows the record as it now is.
//!
//! Deprecation happens in the console at once and at the provider through a
//! job (which notes it when the provider cannot keep it). Deleting an own
//! image deregisters it at the provider, so every account's record of it
//! goes too; deleting a shared or launched public image removes this
//! account's record only. Neither while live servers were launched from it.

use diesel::QueryResult;
use diesel_async::{AsyncConnection as _, AsyncPgConnection};

use super::{Actor, ChangeError};
use crate::db::{self, accounts::Account, audit_log::NewAuditEvent, images::ImageRow, jobs::NewJob};
use crate::domain::ValidationError;
use crate::domain::access::{Action, Forbidden, Ownership, Resource, Rights};
use crate::domain::images::{
    DeleteFate, ImageAction, ImageFacts, ImageName, Label, Making, NotOffered, Schedule, SharingSupport, Source,
    may_configure, not_offered, sharing_rights,
};
use crate::domain::refusal::Refusal;
use crate::jobs::JobSettings;
use crate::jobs::images::{Availability, Deprecation, Deregister, Permission};

/// How the account's provider can share images, as its kind documents it.
/// (Sharing is not among what a worker detects: every EC2 endpoint has it.)
fn provider_sharing(account: &Account) -> SharingSupport {
    crate::cloud::Capabilities::documented(&account.provider)
        .map(|c| SharingSupport { accounts: c.share_with_accounts, public: c.share_publicly })
        .unwrap_or_default()
}

/// Who owns the record, as the access rights read it.
pub fn ownership(row: &ImageRow) -> Ownership {
    Ownership { owner_user: row.owner_user_id, owner_group: row.owner_group_id, budget_code: row.budget_code_id }
}

/// The record, if the user may see it (`IMAGE Access` on it, as the lists
/// ask): a record the lists leave out is not found either.
pub fn seen(rights: &Rights, row: ImageRow) -> Option<ImageRow> {
    in_reach(rights, &row).then_some(row)
}

fn in_reach(rights: &Rights, row: &ImageRow) -> bool {
    rights.allows(Resource::Image, Action::Access, &ownership(row))
}

/// What every decision on a record asks first: one the user may not see is
/// not found, for a change as for a read, whatever their other rights (a
/// role with `Configure ANY` and `Access MINE` renames only its own images).
fn reached(actor: &Actor<'_>, row: &ImageRow) -> Result<(), ChangeError> {
    if in_reach(actor.rights, row) { Ok(()) } else { Err(ChangeError::NotFound) }
}

/// The facts that decide what a user may do to a record of `account`;
/// `None` for a record of unknown source (it offers nothing).
pub fn facts(account: &Account, row: &ImageRow) -> Option<ImageFacts> {
    Source::from_stored(&row.source).map(|source| ImageFacts {
        source,
        active: row.state == "ACTIVE",
        deprecated: row.deprecated_at.is_some(),
        ownership: ownership(row),
        provider: provider_sharing(account),
        making: match (row.at_provider, row.state.as_str()) {
            (true, _) => Making::Done,
            (false, "FAILED") => Making::Failed,
            (false, _) => Making::InProgress,
        },
        protected: row.protected,
        binned: row.binned_at.is_some(),
    })
}

/// Whether the actor may do `action` (from the menu) to the record: the
/// rule that built the menu. What the image's state stops (a stale menu, a
/// link to an image in the bin or still being made) is refused as a
/// conflict that says which state; what the role stops is forbidden.
pub fn authorize(actor: &Actor<'_>, row: &ImageRow, action: ImageAction) -> Result<(), ChangeError> {
    reached(actor, row)?;
    match not_offered_on(actor, row, action) {
        None => Ok(()),
        Some(reason) => Err(refusal(actor, row, action, reason)),
    }
}

/// Why the record's menu leaves `action` out for the actor (`None`: it
/// offers it); a record of unknown source offers nothing.
fn not_offered_on(actor: &Actor<'_>, row: &ImageRow, action: ImageAction) -> Option<NotOffered> {
    match facts(actor.account, row) {
        Some(facts) => not_offered(actor.rights, &facts, action),
        None => Some(NotOffered::Role),
    }
}

/// The answer to `action` on the record, not offered for `reason`.
fn refusal(actor: &Actor<'_>, row: &ImageRow, action: ImageAction, reason: NotOffered) -> ChangeError {
    let name = row.name.clone();
    let refusal = match reason {
        NotOffered::Role => {
            return Forbidden::because(format!(
                "Your role in {} does not allow “{}” on this image.",
                actor.account.name,
                action.title()
            ))
            .into();
        }
        NotOffered::NotOwn => Refusal::ImageNotOwn {
            name,
            action: action.title(),
            kept_as: match Source::from_stored(&row.source) {
                Some(Source::PublicLaunched) => "launched from the public catalog",
                _ => "shared with it",
            },
        },
        // Only deprecation is refused when done already: asking for the
        // protection an image has changes nothing (`set_protection`).
        NotOffered::Already => Refusal::DeprecatedAlready { name, deprecated: row.deprecated_at.is_some() },
        NotOffered::InBin => Refusal::ImageInBin { name },
        NotOffered::NotInBin => Refusal::ImageNotInBin { name },
        NotOffered::BeingMade => Refusal::ImageBeingMade { name },
        NotOffered::MakingFailed => Refusal::ImageMakingFailed { name },
        NotOffered::NotAvailable => Refusal::ImageNotAvailable {
            name,
            state: row.state.to_lowercase(),
            done: match action {
                ImageAction::Launch => "launched",
                ImageAction::Sharing => "shared",
                ImageAction::Restore => "restored",
                _ => "changed",
            },
        },
    };
    refusal.into()
}

/// [`authorize`] for `action` done already: allowed if the actor could
/// have done it.
fn authorize_done(actor: &Actor<'_>, row: &ImageRow, action: ImageAction) -> Result<(), ChangeError> {
    reached(actor, row)?;
    match not_offered_on(actor, row, action) {
        None | Some(NotOffered::Already) => Ok(()),
        Some(reason) => Err(refusal(actor, row, action, reason)),
    }
}

/// Whether the actor may rename and relabel the record: not while it waits
/// in the recycle bin.
pub fn authorize_configure(actor: &Actor<'_>, row: &ImageRow) -> Result<(), ChangeError> {
    reached(actor, row)?;
    if row.binned_at.is_some() {
        Err(Refusal::ImageInBin { name: row.name.clone() }.into())
    } else if facts(actor.account, row).is_some_and(|facts| may_configure(actor.rights, &facts)) {
        Ok(())
    } else {
        Err(Forbidden::because("Your role does not allow renaming or relabelling this image.").into())
    }
}

/// Records the same audit event in another account (the record there was
/// made or removed by this change). In another company's account it is
/// the system's: that company is told what happened to its record, never
/// who in this company did it.
async fn record_in(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    account: i64,
    action: &str,
    record: i64,
    changes: serde_json::Value,
) -> QueryResult<()> {
    let mut event =
        NewAuditEvent { account_id: Some(account), ..actor.event(action, Resource::Image, record, changes) };
    if db::accounts::company_of(conn, account).await? != actor.account.company_id {
        event.user_id = None;
    }
    db::audit_log::record(conn, &event).await
}

/// Renames and relabels record `id` of the actor's account, at `version`,
/// in one write (either may be left as it is; asking for what it is
/// already writes nothing); the record as it now is.
/// The page changes one at a time ([`rename`], [`relabel`]); the API may
/// send both.
pub async fn edit(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    id: i64,
    version: i32,
    name: Option<&ImageName>,
    label: Option<Label>,
) -> Result<ImageRow, ChangeError> {
    let account = actor.account.id;
    conn.transaction(async |conn| {
        let row = db::images::find_listed(conn, account, id).await?;
        authorize_configure(actor, &row)?;
        // Asking for the name or label it has changes nothing, as with protection.
        let name = name.map(ImageName::as_str).filter(|n| *n != row.name);
        let label = label.map(Label::as_str).filter(|l| *l != row.label);
        if name.is_none() && label.is_none() {
            return Ok(row);
        }
        let (new_name, new_label) = (name.unwrap_or(&row.name), label.unwrap_or(&row.label));
        if !db::images::update_record(conn, account, id, version, new_name, new_label).await? {
            return Err(Refusal::StaleVersion { what: "image" }.into());
        }
        if let Some(name) = name {
            let changes = serde_json::json!({ "name": { "from": row.name, "to": name } });
            db::audit_log::record(conn, &actor.event("rename", Resource::Image, id, changes)).await?;
        }
        if let Some(label) = label {
            let changes = serde_json::json!({ "label": { "from": row.label, "to": label } });
            db::audit_log::record(conn, &actor.event("relabel", Resource::Image, id, changes)).await?;
        }
        Ok(db::images::find_record(conn, account, id).await?)
    })
    .await
}

/// Renames record `id` of the actor's account, at `version`.
pub async fn rename(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    id: i64,
    version: i32,
    name: &ImageName,
) -> Result<ImageRow, ChangeError> {
    edit(conn, actor, id, version, Some(name), None).await
}

/// Sets the label of record `id` of the actor's account, at `version`.
pub async fn relabel(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    id: i64,
    version: i32,
    label: Label,
) -> Result<ImageRow, ChangeError> {
    edit(conn, actor, id, version, None, Some(label)).await
}

/// Deprecates an own image: in the console at once, at the provider through
/// a job. The record as it now is.
pub async fn deprecate(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    jobs: &JobSettings,
    id: i64,
    version: i32,
) -> Result<ImageRow, ChangeError> {
    set_deprecation(conn, actor, jobs, id, version, true).await
}

/// Undeprecates an own image, as [`deprecate`] does the other way.
pub async fn undeprecate(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    jobs: &JobSettings,
    id: i64,
    version: i32,
) -> Result<ImageRow, ChangeError> {
    set_deprecation(conn, actor, jobs, id, version, false).await
}

async fn set_deprecation(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    jobs: &JobSettings,
    id: i64,
    version: i32,
    deprecated: bool,
) -> Result<ImageRow, ChangeError> {
    let action = if deprecated { ImageAction::Deprecate } else { ImageAction::Undeprecate };
    let at = deprecated.then(chrono::Utc::now);
    let account = actor.account.id;
    conn.transaction(async |conn| {
        let row = db::images::find_listed(conn, account, id).await?;
        authorize(actor, &row, action)?;
        if !db::images::set_deprecated(conn, account, id, version, at).await? {
            return Err(Refusal::StaleVersion { what: "image" }.into());
        }
        let changes = serde_json::json!({ "deprecated": { "from": !deprecated, "to": deprecated } });
        db::audit_log::record(conn, &actor.event(action.path(), Resource::Image, id, changes)).await?;
        let job = Deprecation { image_id: row.provider_image_id.clone(), deprecated_at: at };
        db::jobs::enqueue(conn, &job.job(account, jobs.max_attempts, ownership(&row)).by(actor.user.id)).await?;
        Ok(db::images::find_record(conn, account, id).await?)
    })
    .await
}

/// A record deleted: an own image moved to the recycle bin or deregistered
/// at the provider, or this account's record removed.
pub struct Deleted {
    pub name: String,
    /// The image the provider deregisters, for an own image it made; `None`
    /// for one whose making failed (there was nothing to deregister).
    pub provider_image_id: Option<String>,
    pub source: Source,
    /// In the recycle bin until then (the provider deregisters it after).
    pub purge_after: Option<chrono::DateTime<chrono::Utc>>,
}

/// What deleting `row` would do now: [`delete`] acts on it, and the delete
/// dialog says it beforehand.
pub async fn delete_fate(conn: &mut AsyncPgConnection, actor: &Actor<'_>, row: &ImageRow) -> QueryResult<DeleteFate> {
    let company = actor.account.company_id;
    let alive = if row.at_provider { db::images::alive_servers(conn, company, row).await? } else { 0 };
    let days = db::images::retention_days(conn, company).await?;
    Ok(fate_of(row, alive, days))
}

/// What deleting each of `rows` would do now, in their order: for the
/// dialogs that ask before a delete. The live servers of them all are
/// counted in one statement.
pub async fn delete_fates(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    rows: &[ImageRow],
) -> QueryResult<Vec<DeleteFate>> {
    let alive = db::images::alive_servers_of(conn, actor.account.company_id, rows).await?;
    let days = db::images::retention_days(conn, actor.account.company_id).await?;
    Ok(rows.iter().zip(alive).map(|(row, alive)| fate_of(row, alive, days)).collect())
}

fn fate_of(row: &ImageRow, alive_servers: i64, retention_days: i32) -> DeleteFate {
    let source = Source::from_stored(&row.source).unwrap_or(Source::Shared);
    DeleteFate::of(source, row.at_provider, row.protected, alive_servers, retention_days)
}

/// Deletes record `id` of the actor's account at `version`, as its
/// [`DeleteFate`] says. The live servers launched from it are counted
/// inside the transaction that acts on the answer.
pub async fn delete(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    jobs: &JobSettings,
    id: i64,
    version: i32,
) -> Result<Deleted, ChangeError> {
    let account = actor.account.id;
    conn.transaction(async |conn| {
        let row = db::images::find_listed(conn, account, id).await?;
        authorize(actor, &row, ImageAction::Delete)?;
        let source = Source::from_stored(&row.source).unwrap_or(Source::Shared);
        // The image's row before its servers are counted (and before the
        // record's, as the own-images sync locks them): a launch holds it
        // while it writes its servers, so the count sees them, or the
        // launch, waiting, then finds the record gone.
        db::images::lock_image(conn, row.image_pk).await?;
        let fate = delete_fate(conn, actor, &row).await?;
        if let Some(refusal) = fate.refusal(&row.name) {
            return Err(refusal.into());
        }
        if fate == DeleteFate::RecordOnly {
            // Its making failed (the only unmade image Delete is offered
            // for): nothing at the provider to deregister.
            if !db::images::delete_record(conn, account, id, version).await? {
                return Err(Refusal::StaleVersion { what: "image" }.into());
            }
            db::images::delete_unmade(conn, row.image_pk).await?;
            let changes = serde_json::json!({ "name": row.name, "reason": "the provider could not make it" });
            db::audit_log::record(conn, &actor.event("delete", Resource::Image, id, changes)).await?;
            return Ok(Deleted { name: row.name, provider_image_id: None, source, purge_after: None });
        }
        if let DeleteFate::Binned { days } = fate {
            return to_bin(conn, actor, jobs, row, version, days).await;
        }
        if !db::images::delete_record(conn, account, id, version).await? {
            return Err(Refusal::StaleVersion { what: "image" }.into());
        }
        let changes = serde_json::json!({ "name": row.name, "provider_image_id": row.provider_image_id });
        db::audit_log::record(conn, &actor.event("delete", Resource::Image, id, changes)).await?;
        if source == Source::Shared {
            give_back_share(conn, actor, jobs, &row).await?;
        }
        if fate == DeleteFate::Deregistered {
            // The image goes at the provider, so every account's record of it goes too.
            for (other, record) in db::images::retire_image(conn, row.image_pk).await? {
                let changes = serde_json::json!({ "provider_image_id": row.provider_image_id,
                                                  "reason": "deleted by its owner" });
                record_in(conn, actor, other, "unshare", record, changes).await?;
            }
            let job = Deregister { image_id: row.provider_image_id.clone() };
            db::jobs::enqueue(conn, &job.job(account, jobs.max_attempts, ownership(&row)).by(actor.user.id)).await?;
        }
        Ok(Deleted { name: row.name, provider_image_id: Some(row.provider_image_id), source, purge_after: None })
    })
    .await
}

/// A shared image removed by the account it was shared with: the account
/// that shares it revokes the launch permission it granted, as unticking
/// the account in its Sharing dialog does, so the provider no longer lets
/// this account launch what its list no longer shows.
async fn give_back_share(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    jobs: &JobSettings,
    row: &ImageRow,
) -> Result<(), ChangeError> {
    let Some((owner, record)) = db::images::owner_record(conn, actor.account.company_id, row.image_pk).await? else {
        return Ok(());
    };
    let revoke = Permission {
        image_id: row.provider_image_id.clone(),
        grant: false,
        account_number: Some(actor.account.provider_account_number.clone()),
    };
    // About the owner's record, whose owner this account does not know:
    // read by the requester, and by those who see every image there.
    db::jobs::enqueue(conn, &revoke.job(owner, jobs.max_attempts, Ownership::default()).by(actor.user.id)).await?;
    let changes = serde_json::json!({
        "shared_with": { "removed": [actor.account.name] },
        "reason": "removed by the account it was shared with",
    });
    record_in(conn, actor, owner, "sharing", record, changes).await?;
    Ok(())
}

/// Moves an own image to the recycle bin for `days`: every record of it
/// leaves the lists, and the provider takes back the launch permissions its
/// shares and public flag gave, so nobody launches it there either. The
/// console keeps the shares and the flag, to grant them again on a restore.
async fn to_bin(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    jobs: &JobSettings,
    row: ImageRow,
    version: i32,
    days: i32,
) -> Result<Deleted, ChangeError> {
    if !db::images::bump_version(conn, actor.account.id, row.id, version).await? {
        return Err(Refusal::StaleVersion { what: "image" }.into());
    }
    let now = chrono::Utc::now();
    let purge_after = now + chrono::Duration::days(i64::from(days));
    db::images::bin_image(conn, row.image_pk, Some(actor.user.id), now, purge_after).await?;
    queue_launch_permissions(conn, actor.account.id, Some(actor.user.id), jobs.max_attempts, &row, false).await?;
    let changes = serde_json::json!({ "name": row.name, "provider_image_id": row.provider_image_id,
                                      "recycle_bin": { "purge_after": purge_after } });
    db::audit_log::record(conn, &actor.event("delete", Resource::Image, row.id, changes)).await?;
    Ok(Deleted {
        name: row.name,
        provider_image_id: Some(row.provider_image_id),
        source: Source::Own,
        purge_after: Some(purge_after),
    })
}

/// Queues, in `account`'s name, a launch permission job for each one the
/// console records for `row`'s image: a grant (or a revoke) for every
/// account it is shared with, and for everyone when it is public. Asked by
/// `requested_by`, or by the console itself when `None`.
pub(crate) async fn queue_launch_permissions(
    conn: &mut AsyncPgConnection,
    account: i64,
    requested_by: Option<i64>,
    max_attempts: i32,
    row: &ImageRow,
    grant: bool,
) -> QueryResult<()> {
    let mut who: Vec<Option<String>> =
        db::images::shared_account_numbers(conn, row.image_pk).await?.into_iter().map(Some).collect();
    if db::images::is_public(conn, row.image_pk).await? {
        who.push(None);
    }
    for account_number in who {
        let job = Permission { image_id: row.provider_image_id.clone(), grant, account_number };
        db::jobs::enqueue(conn, &NewJob { requested_by, ..job.job(account, max_attempts, ownership(row)) }).await?;
    }
    Ok(())
}

/// The own record `id` in the bin, if the actor may restore or purge it
/// (`IMAGE Delete`, as deleting it needed).
async fn binned(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    id: i64,
    action: ImageAction,
) -> Result<ImageRow, ChangeError> {
    let row = db::images::find_listed(conn, actor.account.id, id).await?;
    authorize(actor, &row, action)?;
    Ok(row)
}

/// Brings record `id`'s image back from the recycle bin with its name,
/// label, shares and lineage (nothing of them was removed), if the record
/// is still at `version`.
///
/// A retirement day that passed while the image was in the bin is dropped:
/// a restore keeps the image, where the lifecycle would retire it again at
/// once. A deprecation day that passed is kept, so the image is deprecated
/// as scheduled (a deprecated image still launches). A retired image is
/// enabled again. Its shares and public launch permission are granted
/// again: the bin took them back at the provider (as EC2's DisableImage
/// does, and EnableImage does not give them back).
pub async fn restore(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    jobs: &JobSettings,
    id: i64,
    version: i32,
) -> Result<ImageRow, ChangeError> {
    let account = actor.account.id;
    conn.transaction(async |conn| {
        let row = binned(conn, actor, id, ImageAction::Restore).await?;
        db::images::lock_image(conn, row.image_pk).await?;
        if !db::images::bump_version(conn, account, id, version).await? {
            return Err(Refusal::StaleVersion { what: "image" }.into());
        }
        db::images::restore_image(conn, row.image_pk).await?;
        let lapsed = row.retire_on.filter(|day| *day <= chrono::Utc::now().date_naive());
        if lapsed.is_some() {
            db::images::set_schedule(conn, row.image_pk, row.deprecate_on, None).await?;
        }
        if row.retired_at.is_some() {
            // Its retirement disabled it at the provider; enabled first (the
            // jobs of one image run in order), then granted.
            let job = Availability { image_id: row.provider_image_id.clone(), enabled: true };
            db::jobs::enqueue(conn, &job.job(account, jobs.max_attempts, ownership(&row)).by(actor.user.id)).await?;
        }
        queue_launch_permissions(conn, account, Some(actor.user.id), jobs.max_attempts, &row, true).await?;
        let mut changes = serde_json::json!({ "name": row.name, "provider_image_id": row.provider_image_id });
        if let Some(day) = lapsed {
            changes["retire_on"] = serde_json::json!({ "from": day, "to": null });
        }
        db::audit_log::record(conn, &actor.event("restore", Resource::Image, id, changes)).await?;
        Ok(db::images::find_record(conn, account, id).await?)
    })
    .await
}

/// Deletes the binned image of record `id` for good before its retention
/// ends (from the bin, `IMAGE Delete`), if the record is still at
/// `version`: deregistered at the provider, and every record of it goes.
pub async fn purge(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    jobs: &JobSettings,
    id: i64,
    version: i32,
) -> Result<Deleted, ChangeError> {
    conn.transaction(async |conn| {
        let row = binned(conn, actor, id, ImageAction::Purge).await?;
        db::images::lock_image(conn, row.image_pk).await?;
        if !db::images::bump_version(conn, actor.account.id, id, version).await? {
            return Err(Refusal::StaleVersion { what: "image" }.into());
        }
        let purged =
            purge_binned(conn, actor.account.id, Some(actor.user.id), actor.account.company_id, jobs, &row).await?;
        let changes = serde_json::json!({ "name": row.name, "provider_image_id": row.provider_image_id,
                                          "recycle_bin": "purged" });
        db::audit_log::record(conn, &actor.event("purge", Resource::Image, id, changes)).await?;
        for (other, record) in purged {
            let changes = serde_json::json!({ "provider_image_id": row.provider_image_id,
                                              "reason": "deleted by its owner" });
            record_in(conn, actor, other, "unshare", record, changes).await?;
        }
        Ok(Deleted {
            name: row.name,
            provider_image_id: Some(row.provider_image_id),
            source: Source::Own,
            purge_after: None,
        })
    })
    .await
}

/// Purges a binned image whose row is locked: refused while it is
/// protected or live servers use it; else every record of it goes (the
/// `(account, record)` pairs, other than `account`'s own, are returned for
/// their audit events) and its deregistration is queued, asked by
/// `requested_by` (`None`: the console's lifecycle).
pub async fn purge_binned(
    conn: &mut AsyncPgConnection,
    account: i64,
    requested_by: Option<i64>,
    company: i64,
    jobs: &JobSettings,
    row: &ImageRow,
) -> Result<Vec<(i64, i64)>, ChangeError> {
    if row.protected {
        return Err(Refusal::ImageProtected { name: row.name.clone() }.into());
    }
    let alive = db::images::alive_servers(conn, company, row).await?;
    if alive > 0 {
        return Err(Refusal::ImageInUse(alive).into());
    }
    let removed = db::images::retire_image(conn, row.image_pk).await?;
    let job = Deregister { image_id: row.provider_image_id.clone() };
    db::jobs::enqueue(conn, &NewJob { requested_by, ..job.job(account, jobs.max_attempts, ownership(row)) }).await?;
    Ok(removed.into_iter().filter(|(other, _)| *other != account).collect())
}

/// Sets the schedule of own record `id`'s image, at `version`: the days it
/// is deprecated and retired (either may be unset; both unset clears it).
/// Asking for the days it has changes nothing, and keeps its version.
pub async fn schedule(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    id: i64,
    version: i32,
    schedule: &Schedule,
) -> Result<ImageRow, ChangeError> {
    let account = actor.account.id;
    conn.transaction(async |conn| {
        let row = db::images::find_listed(conn, account, id).await?;
        authorize(actor, &row, ImageAction::Schedule)?;
        // Asking for the days it has changes nothing, as with protection.
        if (row.deprecate_on, row.retire_on) == (schedule.deprecate_on, schedule.retire_on) {
            return Ok(row);
        }
        // The image's row before the record's, as delete and the lifecycle lock them.
        db::images::lock_image(conn, row.image_pk).await?;
        if !db::images::bump_version(conn, account, id, version).await? {
            return Err(Refusal::StaleVersion { what: "image" }.into());
        }
        db::images::set_schedule(conn, row.image_pk, schedule.deprecate_on, schedule.retire_on).await?;
        let changes = serde_json::json!({
            "deprecate_on": { "from": row.deprecate_on, "to": schedule.deprecate_on },
            "retire_on": { "from": row.retire_on, "to": schedule.retire_on },
        });
        db::audit_log::record(conn, &actor.event("schedule", Resource::Image, id, changes)).await?;
        Ok(db::images::find_record(conn, account, id).await?)
    })
    .await
}

/// Protects (or unprotects) the image of own record `id`, at `version`:
/// delete, retirement and the bin's purge are refused while it is
/// protected. Asking for what is so already changes nothing.
pub async fn set_protection(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    id: i64,
    version: i32,
    protected: bool,
) -> Result<ImageRow, ChangeError> {
    let account = actor.account.id;
    conn.transaction(async |conn| {
        let row = db::images::find_listed(conn, account, id).await?;
        let action = if protected { ImageAction::Protect } else { ImageAction::Unprotect };
        reached(actor, &row)?;
        match not_offered_on(actor, &row, action) {
            None => {}
            Some(NotOffered::Already) => return Ok(row),
            Some(reason) => return Err(refusal(actor, &row, action, reason)),
        }
        // The image's row before the record's, as delete and the lifecycle lock them.
        db::images::lock_image(conn, row.image_pk).await?;
        if !db::images::bump_version(conn, account, id, version).await? {
            return Err(Refusal::StaleVersion { what: "image" }.into());
        }
        db::images::set_protected(conn, row.image_pk, protected).await?;
        let changes = serde_json::json!({ "protected": { "from": !protected, "to": protected } });
        db::audit_log::record(conn, &actor.event(action.path(), Resource::Image, id, changes)).await?;
        Ok(db::images::find_record(conn, account, id).await?)
    })
    .await
}

/// The sharing form: public or private, and the actor's other accounts the
/// image is shared with.
pub struct Sharing<'a> {
    pub public: bool,
    pub accounts: &'a [i64],
}

/// What saving the sharing form changed.
pub struct Shared {
    pub record: ImageRow,
    /// The accounts it is now shared with, and no longer shared with.
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Made public (`Some(true)`) or private (`Some(false)`).
    pub public: Option<bool>,
}

/// The accounts an image of the actor's account can be shared with: the
/// actor's others at the same provider and region.
pub fn share_targets<'a>(actor: &Actor<'a>) -> impl Iterator<Item = &'a Account> {
    let here = actor.account;
    actor.accounts.iter().filter(move |a| a.id != here.id && a.provider == here.provider && a.region == here.region)
}

/// Applies the sharing form to record `id` of the actor's account: account
/// shares added and removed, public or private, each with its record, audit
/// event and provider job. Only the actor's own accounts are in play; shares
/// with others stay.
pub async fn save_sharing(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    jobs: &JobSettings,
    id: i64,
    sharing: &Sharing<'_>,
) -> Result<Shared, ChangeError> {
    let account = actor.account.id;
    conn.transaction(async |conn| {
        // Read as listed: an image in the recycle bin is refused (409, it
        // says so), not unknown.
        let row = db::images::find_listed(conn, account, id).await?;
        // The image's row, then the record read again under it, as delete
        // takes them: two saves of the form at once, or a save and a
        // delete, go one after the other, each seeing what the other did.
        db::images::lock_image(conn, row.image_pk).await?;
        let row = db::images::find_listed(conn, account, id).await?;
        authorize(actor, &row, ImageAction::Sharing)?;
        if !sharing.accounts.iter().all(|chosen| share_targets(actor).any(|a| a.id == *chosen)) {
            return Err(ValidationError::new(
                "account_ids",
                "Images can be shared only with your other accounts at the same provider and region.",
            )
            .into());
        }
        let rights = facts(actor.account, &row).map(|f| sharing_rights(actor.rights, &f)).unwrap_or_default();
        let shared_with: Vec<i64> = db::images::shares(conn, row.image_pk).await?.into_iter().map(|(a, _)| a).collect();
        let was_public = db::images::is_public(conn, row.image_pk).await?;
        let mine: Vec<&Account> = actor.accounts.iter().filter(|a| a.id != account).collect();
        let ticked = |a: &&&Account| sharing.accounts.contains(&a.id);
        let add: Vec<&Account> = mine.iter().filter(|a| ticked(a) && !shared_with.contains(&a.id)).copied().collect();
        let remove: Vec<&Account> =
            mine.iter().filter(|a| !ticked(a) && shared_with.contains(&a.id)).copied().collect();
        if (!add.is_empty() || !remove.is_empty()) && !rights.accounts {
            return Err(Forbidden::because("Your role does not allow sharing images with other accounts.").into());
        }
        let make_public = sharing.public;
        if make_public != was_public && !rights.public {
            return Err(Forbidden::because("Your role does not allow making images public or private.").into());
        }
        let image_id = &row.provider_image_id;
        let from = &actor.account.name;
        // Launch permission granted or revoked for one account (`None`: everyone).
        let permission = |grant, account_number: Option<&String>| {
            let job = Permission { image_id: image_id.clone(), grant, account_number: account_number.cloned() };
            job.job(account, jobs.max_attempts, ownership(&row)).by(actor.user.id)
        };
        for target in &add {
            let Some(record) =
                db::images::add_share(conn, target.id, row.image_pk, &row.name, &row.description).await?
            else {
                let why = format!("{} is the provider account that owns this image: it needs no share.", target.name);
                return Err(ValidationError::new("account_ids", why).into());
            };
            let changes = serde_json::json!({ "from_account": from, "provider_image_id": image_id });
            record_in(conn, actor, target.id, "share", record, changes).await?;
            db::jobs::enqueue(conn, &permission(true, Some(&target.provider_account_number))).await?;
        }
        for target in &remove {
            if let Some(record) = db::images::remove_share(conn, target.id, row.image_pk).await? {
                let changes = serde_json::json!({ "from_account": from, "provider_image_id": image_id });
                record_in(conn, actor, target.id, "unshare", record, changes).await?;
            }
            db::jobs::enqueue(conn, &permission(false, Some(&target.provider_account_number))).await?;
        }
        if make_public != was_public {
            db::images::set_public(conn, row.image_pk, make_public).await?;
            db::jobs::enqueue(conn, &permission(make_public, None)).await?;
        }
        let names = |list: &[&Account]| list.iter().map(|a| a.name.clone()).collect::<Vec<_>>();
        let (added, removed) = (names(&add), names(&remove));
        let public = (make_public != was_public).then_some(make_public);
        if !added.is_empty() || !removed.is_empty() || public.is_some() {
            let changes = serde_json::json!({
                "shared_with": { "added": added, "removed": removed },
                "public": { "from": was_public, "to": make_public },
            });
            db::audit_log::record(conn, &actor.event("sharing", Resource::Image, row.id, changes)).await?;
        }
        Ok(Shared { record: db::images::find_record(conn, account, id).await?, added, removed, public })
    })
    .await
}

/// What a bulk action does to each selected image (`POST /images/bulk`).
#[derive(Debug, Clone)]
pub enum BulkAction {
    Label(Label),
    Deprecate,
    Undeprecate,
    Protect,
    Unprotect,
    Delete,
    Schedule(Schedule),
}

/// At most this many images in one bulk action (a page holds 50).
pub const BULK_MAX: usize = 100;

/// What a bulk action did.
#[derive(Debug, Default)]
pub struct BulkDone {
    /// The images it changed, and those that were so already (a label they
    /// had, a deprecation, a protection): named as the account names them.
    pub changed: Vec<String>,
    pub unchanged: Vec<String>,
    /// Own images it moved to the recycle bin (a delete).
    pub binned: usize,
}

/// Why a bulk action changed nothing, and the image it was refused for.
#[derive(Debug)]
pub struct BulkRefused {
    /// As the account names it; `None` for an id the account does not
    /// hold, or when the transaction itself failed.
    pub name: Option<String>,
    pub error: ChangeError,
}

/// Does `action` to every record of `ids` in the actor's account, each as
/// its own change does it (the same access decision, rules, audit events
/// and provider jobs), all in one transaction: the first refusal undoes
/// the others and is returned with its image. The provider images are
/// locked first, in their id order, and the records are taken in id
/// order, so two bulk actions lock them in the same order.
pub async fn bulk(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    jobs: &JobSettings,
    ids: &[i64],
    action: &BulkAction,
) -> Result<BulkDone, BulkRefused> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let account = actor.account.id;
    let mut refused_for: Option<String> = None;
    let done = conn
        .transaction(async |conn| {
            db::images::lock_images_of(conn, account, &ids).await?;
            let mut done = BulkDone::default();
            for &id in &ids {
                refused_for = None;
                let row = db::images::find_listed(conn, account, id).await?;
                reached(actor, &row)?;
                refused_for = Some(row.name.clone());
                let unchanged = match action {
                    BulkAction::Label(label) => row.label == label.as_str(),
                    BulkAction::Deprecate => row.deprecated_at.is_some(),
                    BulkAction::Undeprecate => row.deprecated_at.is_none(),
                    BulkAction::Protect => row.protected,
                    BulkAction::Unprotect => !row.protected,
                    BulkAction::Delete | BulkAction::Schedule(_) => false,
                };
                if unchanged {
                    // Left as it is, but only if the user may change it.
                    match action {
                        BulkAction::Label(_) => authorize_configure(actor, &row)?,
                        BulkAction::Deprecate => authorize_done(actor, &row, ImageAction::Deprecate)?,
                        BulkAction::Undeprecate => authorize_done(actor, &row, ImageAction::Undeprecate)?,
                        BulkAction::Protect => authorize_done(actor, &row, ImageAction::Protect)?,
                        _ => authorize_done(actor, &row, ImageAction::Unprotect)?,
                    }
                    done.unchanged.push(row.name);
                    continue;
                }
                let version = row.version;
                match action {
                    BulkAction::Label(label) => drop(relabel(conn, actor, id, version, *label).await?),
                    BulkAction::Deprecate => drop(deprecate(conn, actor, jobs, id, version).await?),
                    BulkAction::Undeprecate => drop(undeprecate(conn, actor, jobs, id, version).await?),
                    BulkAction::Protect => drop(set_protection(conn, actor, id, version, true).await?),
                    BulkAction::Unprotect => drop(set_protection(conn, actor, id, version, false).await?),
                    BulkAction::Schedule(days) => drop(schedule(conn, actor, id, version, days).await?),
                    BulkAction::Delete => {
                        if delete(conn, actor, jobs, id, version).await?.purge_after.is_some() {
                            done.binned += 1;
                        }
                    }
                }
                done.changed.push(row.name);
            }
            Ok::<_, ChangeError>(done)
        })
        .await;
    done.map_err(|error| BulkRefused { name: refused_for, error })
}
