//! The actions menu of a machine image: deprecate and undeprecate, delete,
//! and sharing (PRODUCT 3.3).
//!
//! Every handler asks `domain::image::may`, the rule that built the menu,
//! before acting; makes the change in the console, its audit events and its
//! provider job in one transaction; and answers htmx with the changed row
//! (none after a delete) plus a flash, or a full page with a redirect. A
//! dialog's problems (a stale version, a refusal, a bad field) come back
//! into the dialog itself.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use serde::Deserialize;

use super::dialog::{self, Confirm, VersionForm, respond as dialog_response};
use super::images::{ImageView, RowFragment, image_view};
use super::layout::Frame;
use super::{AppState, HtmlForm, is_htmx};
use crate::auth::CurrentUser;
use crate::changes::images::facts;
use crate::db::{self, audit::NewAuditEvent, images::ImageRow};
use crate::domain::image::{ImageAction, Source, may, sharing_rights};
use crate::jobs::images::{Deprecation, Deregister, Permission};
use crate::web::error::WebError;

/// The record `id` of the current account and its row as shown; 404 for
/// another account's id, 403 when the user may not do `action` to it.
async fn target(
    user: &CurrentUser,
    state: &AppState,
    id: i64,
    action: ImageAction,
) -> Result<(ImageRow, ImageView), WebError> {
    let mut conn = state.pool.get().await?;
    let row = db::images::find_record(&mut conn, user.account.id, id).await?;
    match facts(&user.account, &row) {
        Some(facts) if may(&user.rights, &facts, action) => Ok((row.clone(), image_view(user, row))),
        // Allowed the other way round: the image is already in the state asked for.
        Some(facts)
            if (action == ImageAction::Deprecate && may(&user.rights, &facts, ImageAction::Undeprecate))
                || (action == ImageAction::Undeprecate && may(&user.rights, &facts, ImageAction::Deprecate)) =>
        {
            let state = if facts.deprecated { "already deprecated" } else { "not deprecated" };
            Err(WebError::Conflict(format!("“{}” is {state}.", row.name)))
        }
        _ => Err(WebError::Forbidden(format!(
            "Your role in {} does not allow “{}” on this image.",
            user.account.name,
            action.title()
        ))),
    }
}

fn audit<'a>(
    user: &CurrentUser,
    account: i64,
    action: &'a str,
    record: i64,
    changes: serde_json::Value,
) -> NewAuditEvent<'a> {
    NewAuditEvent {
        account_id: Some(account),
        user_id: Some(user.user.id),
        action,
        resource: "IMAGE",
        resource_id: Some(record.to_string()),
        outcome: "success",
        changes,
    }
}

/// Done: the row as it now is (none when it is gone) and a flash; the dialog
/// closes. Without htmx, back to the list with the flash.
fn done(req: &HttpRequest, row: Option<ImageView>, message: &str) -> Result<HttpResponse, WebError> {
    let row = match row {
        Some(row) if is_htmx(req) => RowFragment { row }.render()?,
        _ => String::new(),
    };
    dialog::done(req, row, message, "/images")
}

/// The confirm dialogs of the image actions.
struct ConfirmDialog;

impl ConfirmDialog {
    fn asking(req: &HttpRequest, user: &CurrentUser, view: &ImageView, action: ImageAction) -> Confirm {
        Confirm {
            action_url: format!("/images/{}/{}", view.id, action.path()),
            target: format!("#image-{}", view.id),
            submit: action.title(),
            version: view.version,
            ..Confirm::new(req, user, "/images", format!("{}: {}", view.name, action.title()))
        }
    }

    fn deprecate(req: &HttpRequest, user: &CurrentUser, view: &ImageView) -> Confirm {
        Confirm {
            question: format!("Are you sure you want to deprecate {}?", view.name),
            detail: Some(
                "Its name will be struck through. It stays launchable from My images, with a warning, and \
                 drops out of other accounts' public search. You can undeprecate it at any time."
                    .into(),
            ),
            ..Self::asking(req, user, view, ImageAction::Deprecate)
        }
    }

    fn delete(req: &HttpRequest, user: &CurrentUser, view: &ImageView, source: Source, alive: i64) -> Confirm {
        let mut dialog = Confirm { danger: true, ..Self::asking(req, user, view, ImageAction::Delete) };
        if alive > 0 {
            let servers = if alive == 1 { "1 server".to_owned() } else { format!("{alive} servers") };
            let verb = if alive == 1 { "is" } else { "are" };
            dialog.question = format!("{} cannot be deleted now.", view.name);
            dialog.error = Some(format!(
                "{servers} launched from it {verb} pending, running or paused. Terminate {} first.",
                if alive == 1 { "it" } else { "them" }
            ));
            dialog.allowed = false;
            return dialog;
        }
        dialog.question = format!("Are you sure you want to delete {}?", view.name);
        dialog.detail = Some(match source {
            Source::Own => format!(
                "The image {} is deregistered at the cloud provider and disappears from every account it is \
                 shared with. This cannot be undone.",
                view.provider_image_id
            ),
            Source::Shared => {
                format!("It is removed from {} only; the account that shared it keeps it.", user.account.name)
            }
            Source::PublicLaunched => format!(
                "It is removed from {}'s images only; the public image stays in the public catalog.",
                user.account.name
            ),
        });
        dialog
    }
}

#[get("/images/{id}/deprecate")]
pub async fn confirm_deprecate(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let (_, view) = target(&user, &state, id.into_inner(), ImageAction::Deprecate).await?;
    dialog_response(&req, StatusCode::OK, ConfirmDialog::deprecate(&req, &user, &view).render_for(&req))
}

#[post("/images/{id}/deprecate")]
pub async fn deprecate(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<VersionForm>,
) -> Result<HttpResponse, WebError> {
    set_deprecation(&req, &user, &state, id.into_inner(), form.version, true).await
}

#[post("/images/{id}/undeprecate")]
pub async fn undeprecate(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<VersionForm>,
) -> Result<HttpResponse, WebError> {
    set_deprecation(&req, &user, &state, id.into_inner(), form.version, false).await
}

/// Deprecates or undeprecates an own image: in the console at once, at the
/// provider through a job (which notes it when the provider cannot keep it).
async fn set_deprecation(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    id: i64,
    version: i32,
    deprecated: bool,
) -> Result<HttpResponse, WebError> {
    let action = if deprecated { ImageAction::Deprecate } else { ImageAction::Undeprecate };
    let (row, view) = target(user, state, id, action).await?;
    let at = deprecated.then(chrono::Utc::now);
    let account = user.account.id;
    let mut conn = state.pool.get().await?;
    let changed = conn
        .transaction::<_, WebError, _>(async |conn| {
            if !db::images::set_deprecated(conn, account, id, version, at).await? {
                return Ok(false);
            }
            let changes = serde_json::json!({ "deprecated": { "from": !deprecated, "to": deprecated } });
            db::audit::record(conn, &audit(user, account, action.path(), id, changes)).await?;
            let job = Deprecation { image_id: row.provider_image_id.clone(), deprecated_at: at };
            db::jobs::enqueue(conn, &job.job(account, state.job_attempts())).await?;
            Ok(true)
        })
        .await?;
    let current = image_view(user, db::images::find_record(&mut conn, account, id).await?);
    if !changed {
        let message = format!(
            "Someone else changed this image meanwhile; it is now named “{}”{}.",
            current.name,
            if current.deprecated { " and deprecated" } else { "" }
        );
        if deprecated && !current.deprecated {
            let dialog = Confirm { error: Some(message), ..ConfirmDialog::deprecate(req, user, &current) };
            return dialog_response(req, StatusCode::CONFLICT, dialog.render_for(req));
        }
        return Err(WebError::Conflict(message));
    }
    let message = if deprecated {
        format!("Deprecated “{}”", view.name)
    } else {
        format!("“{}” is no longer deprecated", view.name)
    };
    done(req, Some(current), &message)
}

/// Live servers launched from the record: from any record of an own image
/// (whichever account launched them), else from this record.
async fn alive_servers(conn: &mut AsyncPgConnection, row: &ImageRow) -> diesel::QueryResult<i64> {
    if row.source == "own" {
        db::servers::alive_from_image(conn, row.image_pk).await
    } else {
        db::servers::alive_from_record(conn, row.id).await
    }
}

#[get("/images/{id}/delete")]
pub async fn confirm_delete(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let (row, view) = target(&user, &state, id.into_inner(), ImageAction::Delete).await?;
    let mut conn = state.pool.get().await?;
    let alive = alive_servers(&mut conn, &row).await?;
    let source = Source::from_stored(&row.source).unwrap_or(Source::Shared);
    dialog_response(&req, StatusCode::OK, ConfirmDialog::delete(&req, &user, &view, source, alive).render_for(&req))
}

/// How a delete went.
enum Deleted {
    Done,
    Stale,
    Refused(i64),
}

#[post("/images/{id}/delete")]
pub async fn delete(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<VersionForm>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    let (row, view) = target(&user, &state, id, ImageAction::Delete).await?;
    let source = Source::from_stored(&row.source).unwrap_or(Source::Shared);
    let account = user.account.id;
    let mut conn = state.pool.get().await?;
    let outcome = conn
        .transaction::<_, WebError, _>(async |conn| {
            let alive = alive_servers(conn, &row).await?;
            if alive > 0 {
                return Ok(Deleted::Refused(alive));
            }
            if !db::images::delete_record(conn, account, id, form.version).await? {
                return Ok(Deleted::Stale);
            }
            let changes = serde_json::json!({ "name": row.name, "provider_image_id": row.provider_image_id });
            db::audit::record(conn, &audit(&user, account, "delete", id, changes)).await?;
            if source == Source::Own {
                // The image goes at the provider, so every account's record of it goes too.
                for (other, record) in db::images::retire_image(conn, row.image_pk).await? {
                    let changes = serde_json::json!({ "provider_image_id": row.provider_image_id,
                                                      "reason": "deleted by its owner" });
                    db::audit::record(conn, &audit(&user, other, "unshare", record, changes)).await?;
                }
                let job = Deregister { image_id: row.provider_image_id.clone() };
                db::jobs::enqueue(conn, &job.job(account, state.job_attempts())).await?;
            }
            Ok(Deleted::Done)
        })
        .await?;
    match outcome {
        Deleted::Done => {
            let message = match source {
                Source::Own => format!("Deleted “{}”; the provider deregisters {}", view.name, view.provider_image_id),
                _ => format!("Removed “{}” from {}", view.name, user.account.name),
            };
            done(&req, None, &message)
        }
        Deleted::Refused(alive) => {
            let dialog = ConfirmDialog::delete(&req, &user, &view, source, alive);
            dialog_response(&req, StatusCode::CONFLICT, dialog.render_for(&req))
        }
        Deleted::Stale => {
            let current = image_view(&user, db::images::find_record(&mut conn, account, id).await?);
            let dialog = Confirm {
                error: Some(format!(
                    "Someone else changed this image meanwhile; it is now named “{}”. Delete it anyway?",
                    current.name
                )),
                ..ConfirmDialog::delete(&req, &user, &current, source, 0)
            };
            dialog_response(&req, StatusCode::CONFLICT, dialog.render_for(&req))
        }
    }
}

/// An account the image can be shared with, as a checkbox.
pub struct ShareChoice {
    pub id: i64,
    pub name: String,
    pub region: String,
    pub checked: bool,
    /// Why it cannot be chosen, if it cannot.
    pub unavailable: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "images/sharing.html", blocks = ["dialog"])]
struct SharingDialog {
    frame: Frame,
    modal: bool,
    id: i64,
    name: String,
    public: bool,
    may_share_accounts: bool,
    may_share_public: bool,
    accounts: Vec<ShareChoice>,
    error: Option<String>,
    csrf_token: String,
}

impl SharingDialog {
    fn render_for(&self, req: &HttpRequest) -> askama::Result<String> {
        if is_htmx(req) { self.as_dialog().render() } else { self.render() }
    }
}

/// The user's other accounts, ticked where the image is shared with them.
/// Images are shared within one provider and region only.
fn share_choices(user: &CurrentUser, shared_with: &[i64]) -> Vec<ShareChoice> {
    user.accounts
        .iter()
        .filter(|a| a.id != user.account.id)
        .map(|a| ShareChoice {
            id: a.id,
            name: a.name.clone(),
            region: a.region_title(),
            checked: shared_with.contains(&a.id),
            unavailable: (a.provider != user.account.provider || a.region != user.account.region)
                .then_some("another provider or region"),
        })
        .collect()
}

async fn sharing_dialog(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    row: &ImageRow,
    ticked: Option<&[i64]>,
    error: Option<String>,
) -> Result<SharingDialog, WebError> {
    let mut conn = state.pool.get().await?;
    let shared_with: Vec<i64> =
        db::images::shares(&mut conn, row.image_pk).await?.into_iter().map(|(a, _)| a).collect();
    let public = db::images::is_public(&mut conn, row.image_pk).await?;
    let rights = facts(&user.account, row).map(|f| sharing_rights(&user.rights, &f)).unwrap_or_default();
    Ok(SharingDialog {
        frame: Frame::new(user, "/images"),
        modal: is_htmx(req),
        id: row.id,
        name: row.name.clone(),
        public,
        may_share_accounts: rights.accounts,
        may_share_public: rights.public,
        accounts: share_choices(user, ticked.unwrap_or(&shared_with)),
        error,
        csrf_token: user.csrf_token.clone(),
    })
}

#[get("/images/{id}/sharing")]
pub async fn sharing(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let (row, _) = target(&user, &state, id.into_inner(), ImageAction::Sharing).await?;
    let dialog = sharing_dialog(&req, &user, &state, &row, None, None).await?;
    dialog_response(&req, StatusCode::OK, dialog.render_for(&req))
}

#[derive(Deserialize)]
pub struct SharingForm {
    #[serde(default)]
    share_type: String,
    #[serde(default)]
    account_ids: Vec<i64>,
}

#[post("/images/{id}/sharing")]
pub async fn save_sharing(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: HtmlForm<SharingForm>,
) -> Result<HttpResponse, WebError> {
    let form = form.0;
    let (row, _) = target(&user, &state, id.into_inner(), ImageAction::Sharing).await?;
    let rights = facts(&user.account, &row).map(|f| sharing_rights(&user.rights, &f)).unwrap_or_default();
    let invalid = async |message: String| {
        let dialog = sharing_dialog(&req, &user, &state, &row, Some(&form.account_ids), Some(message)).await?;
        dialog_response(&req, StatusCode::UNPROCESSABLE_ENTITY, dialog.render_for(&req))
    };
    let make_public = match form.share_type.as_str() {
        "private" => false,
        "public" => true,
        _ => return invalid("Choose a share type: Private or Public.".into()).await,
    };
    let choices = share_choices(&user, &[]);
    let offered = |id: &i64| choices.iter().any(|c| c.id == *id && c.unavailable.is_none());
    if !form.account_ids.iter().all(offered) {
        return invalid("Images can be shared only with your other accounts at the same provider and region.".into())
            .await;
    }
    save_shares(&req, &user, &state, &row, make_public, rights, &form.account_ids).await
}

/// Applies the sharing form: account shares added and removed, public or
/// private, each with its record, audit event and provider job, in one
/// transaction.
async fn save_shares(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    row: &ImageRow,
    make_public: bool,
    rights: crate::domain::image::SharingSupport,
    ticked: &[i64],
) -> Result<HttpResponse, WebError> {
    let account = user.account.id;
    let mut conn = state.pool.get().await?;
    let message = conn
        .transaction::<_, WebError, _>(async |conn| {
            let shared_with: Vec<i64> =
                db::images::shares(conn, row.image_pk).await?.into_iter().map(|(a, _)| a).collect();
            let was_public = db::images::is_public(conn, row.image_pk).await?;
            // Only the user's own accounts are in play; shares with others stay.
            let mine: Vec<&crate::db::accounts::Account> = user.accounts.iter().filter(|a| a.id != account).collect();
            let add: Vec<_> = mine.iter().filter(|a| ticked.contains(&a.id) && !shared_with.contains(&a.id)).collect();
            let remove: Vec<_> =
                mine.iter().filter(|a| !ticked.contains(&a.id) && shared_with.contains(&a.id)).collect();
            if (!add.is_empty() || !remove.is_empty()) && !rights.accounts {
                return Err(WebError::Forbidden("Your role does not allow sharing images with other accounts.".into()));
            }
            if make_public != was_public && !rights.public {
                return Err(WebError::Forbidden("Your role does not allow making images public or private.".into()));
            }
            let image_id = &row.provider_image_id;
            for target in &add {
                let record = db::images::add_share(conn, target.id, row.image_pk, &row.name, &row.description).await?;
                let changes = serde_json::json!({ "from_account": user.account.name, "provider_image_id": image_id });
                db::audit::record(conn, &audit(user, target.id, "share", record, changes)).await?;
                let job = Permission {
                    image_id: image_id.clone(),
                    grant: true,
                    account_number: Some(target.provider_account_number.clone()),
                };
                db::jobs::enqueue(conn, &job.job(account, state.job_attempts())).await?;
            }
            for target in &remove {
                if let Some(record) = db::images::remove_share(conn, target.id, row.image_pk).await? {
                    let changes =
                        serde_json::json!({ "from_account": user.account.name, "provider_image_id": image_id });
                    db::audit::record(conn, &audit(user, target.id, "unshare", record, changes)).await?;
                }
                let job = Permission {
                    image_id: image_id.clone(),
                    grant: false,
                    account_number: Some(target.provider_account_number.clone()),
                };
                db::jobs::enqueue(conn, &job.job(account, state.job_attempts())).await?;
            }
            if make_public != was_public {
                db::images::set_public(conn, row.image_pk, make_public).await?;
                let job = Permission { image_id: image_id.clone(), grant: make_public, account_number: None };
                db::jobs::enqueue(conn, &job.job(account, state.job_attempts())).await?;
            }
            let names =
                |list: &[&&crate::db::accounts::Account]| list.iter().map(|a| a.name.clone()).collect::<Vec<_>>();
            let (added, removed) = (names(&add), names(&remove));
            if added.is_empty() && removed.is_empty() && make_public == was_public {
                return Ok(format!("Sharing of “{}” unchanged", row.name));
            }
            let changes = serde_json::json!({
                "shared_with": { "added": added, "removed": removed },
                "public": { "from": was_public, "to": make_public },
            });
            db::audit::record(conn, &audit(user, account, "sharing", row.id, changes)).await?;
            let mut parts = Vec::new();
            if !added.is_empty() {
                parts.push(format!("shared with {}", added.join(", ")));
            }
            if !removed.is_empty() {
                parts.push(format!("no longer shared with {}", removed.join(", ")));
            }
            if make_public != was_public {
                parts.push(if make_public { "public".to_owned() } else { "no longer public".to_owned() });
            }
            Ok(format!("“{}”: {}", row.name, parts.join("; ")))
        })
        .await?;
    let current = image_view(user, db::images::find_record(&mut conn, account, row.id).await?);
    done(req, Some(current), &message)
}
