//! The recycle bin's actions (`/images?scope=bin` lists it): Restore (`POST
//! /images/{id}/restore`, at once from the row's menu) and Delete now (`GET`/
//! `POST /images/{id}/purge`, a dialog). Both need `IMAGE Delete`, as the
//! delete that put the image there did; the changes are
//! `changes::images::{restore, purge}`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};

use super::done;
use crate::auth::CurrentUser;
use crate::changes::{self, ChangeError};
use crate::db;
use crate::domain::access::{Action, Resource};
use crate::domain::images::ImageAction;
use crate::domain::refusal::Refusal;
use crate::web::AppState;
use crate::web::dialog::{Confirm, VersionForm};
use crate::web::error::{WebError, change_status};

#[post("/images/{id}/restore")]
pub async fn restore(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<VersionForm>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Image, Action::Access)?;
    let mut conn = state.pool.get().await?;
    let row = changes::images::restore(&mut conn, &user.actor(), &state.jobs, id.into_inner(), form.version).await?;
    drop(conn);
    let message = format!("Restored “{}” with its name, label and shares", row.name);
    done(&req, None, &message)
}

/// The dialog of Delete now, with why it cannot be done when it cannot.
fn purge_dialog(req: &HttpRequest, user: &CurrentUser, row: &db::images::ImageRow, refusal: Option<String>) -> Confirm {
    let action = ImageAction::Purge;
    let mut dialog = Confirm {
        action_url: format!("/images/{}/{}", row.id, action.path()),
        target: format!("#image-{}", row.id),
        submit: action.title(),
        version: row.version,
        danger: true,
        ..Confirm::new(req, user, "/images?scope=bin", format!("{}: {}", row.name, action.title()))
    };
    dialog.question = format!("Delete {} for good now?", row.name);
    dialog.provider_id = Some(row.provider_image_id.clone());
    dialog.detail =
        Some("The cloud provider deregisters it and every account's record of it goes. This cannot be undone.".into());
    if let Some(refusal) = refusal {
        dialog.question = format!("{} cannot be deleted now.", row.name);
        dialog.error = Some(refusal);
        dialog.allowed = false;
    }
    dialog
}

#[get("/images/{id}/purge")]
pub async fn confirm_purge(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Image, Action::Access)?;
    let mut conn = state.pool.get().await?;
    let row = db::images::find_listed(&mut conn, user.account.id, id.into_inner()).await?;
    changes::images::authorize(&user.actor(), &row, ImageAction::Purge)?;
    let refusal = purge_refused(&mut conn, user.account.company_id, &row).await?;
    purge_dialog(&req, &user, &row, refusal).respond(&req, StatusCode::OK)
}

/// Why the binned image of `row` cannot be deleted for good now, if it
/// cannot: what the dialog says instead of asking.
async fn purge_refused(
    conn: &mut diesel_async::AsyncPgConnection,
    company: i64,
    row: &db::images::ImageRow,
) -> Result<Option<String>, WebError> {
    if row.protected {
        return Ok(Some(Refusal::ImageProtected { name: row.name.clone() }.message()));
    }
    let alive = db::images::alive_servers(conn, company, row).await?;
    Ok((alive > 0).then(|| Refusal::ImageInUse(alive).message()))
}

#[post("/images/{id}/purge")]
pub async fn purge(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<VersionForm>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Image, Action::Access)?;
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    match changes::images::purge(&mut conn, &user.actor(), &state.jobs, id, form.version).await {
        Ok(purged) => {
            let image = purged.provider_image_id.unwrap_or_default();
            done(&req, None, &format!("Deleted “{}” for good; the provider deregisters {image}", purged.name))
        }
        Err(ChangeError::Refused(why)) => {
            let row = db::images::find_listed(&mut conn, user.account.id, id).await?;
            let status = change_status(&ChangeError::Refused(why.clone()));
            if !matches!(why, Refusal::StaleVersion { .. }) {
                return purge_dialog(&req, &user, &row, Some(why.message())).respond(&req, status);
            }
            // Changed meanwhile: asked again about the image as it is now,
            // unless that is refused.
            changes::images::authorize(&user.actor(), &row, ImageAction::Purge)?;
            let mut dialog =
                purge_dialog(&req, &user, &row, purge_refused(&mut conn, user.account.company_id, &row).await?);
            if dialog.allowed {
                dialog.error = Some(format!(
                    "Someone else changed this image (“{}”) meanwhile. Delete it for good as it is now?",
                    row.name
                ));
            }
            dialog.respond(&req, status)
        }
        Err(e) => Err(e.into()),
    }
}
