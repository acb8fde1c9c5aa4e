//! A row's actions menu (`GET /images/{id}/actions`, loaded when it opens),
//! and the actions of the menu that change the record's state: deprecate
//! and undeprecate (`GET`/`POST /images/{id}/deprecate`, `POST
//! /images/{id}/undeprecate`) and delete (`GET`/`POST /images/{id}/delete`),
//! each posting the record's `version`. The changes are
//! `changes::images::{deprecate, undeprecate, delete}`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};

use askama::Template;

use super::{ImageView, Origin, current, done, image_view, stale, target};
use crate::auth::CurrentUser;
use crate::changes::{self, ChangeError};
use crate::db::{self, images::ImageRow};
use crate::domain::access::{Action, Resource};
use crate::domain::images::{DeleteFate, ImageAction, Source};
use crate::domain::refusal::Refusal;
use crate::web::dialog::{Confirm, VersionForm};
use crate::web::error::{WebError, change_status};
use crate::web::layout::Moment;
use crate::web::respond::html;
use crate::web::{AppState, is_htmx, see_other};

/// The confirm dialogs of the image actions.
struct ConfirmDialog;

impl ConfirmDialog {
    fn asking(req: &HttpRequest, user: &CurrentUser, view: &ImageView, action: ImageAction) -> Confirm {
        let origin = Origin::of(req);
        Confirm {
            action_url: format!("/images/{}/{}{}", view.id, action.path(), origin.query()),
            target: format!("#image-{}", view.id),
            submit: action.title(),
            version: view.version,
            back_url: origin.page(view.id),
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

    fn delete(req: &HttpRequest, user: &CurrentUser, view: &ImageView, source: Source, fate: DeleteFate) -> Confirm {
        let mut dialog = Confirm { danger: true, ..Self::asking(req, user, view, ImageAction::Delete) };
        if !view.provider_image_id.is_empty() {
            dialog.provider_id = Some(view.provider_image_id.clone());
        }
        dialog.question = format!("Are you sure you want to delete {}?", view.name);
        dialog.detail = Some(match fate {
            DeleteFate::Protected | DeleteFate::InUse(_) => {
                dialog.question = format!("{} cannot be deleted now.", view.name);
                dialog.error = fate.refusal(&view.name).map(|refusal| refusal.message());
                dialog.allowed = false;
                return dialog;
            }
            DeleteFate::RecordOnly => {
                "The provider could not make this image, so there is nothing to deregister: its record is removed."
                    .into()
            }
            DeleteFate::Binned { days } => format!(
                "It goes to the recycle bin: it leaves My images and every account it is shared with, and \
                 cannot be launched. You can restore it as it was for {days} day{}; then the cloud \
                 provider deregisters it.",
                if days == 1 { "" } else { "s" },
            ),
            DeleteFate::Deregistered => "The cloud provider deregisters it at once, and it disappears from every \
                                         account it is shared with. This cannot be undone."
                .into(),
            DeleteFate::Removed if source == Source::PublicLaunched => format!(
                "It is removed from {}'s images only; the public image stays in the public catalog.",
                user.account.name
            ),
            DeleteFate::Removed => {
                format!("It is removed from {} only; the account that shared it keeps it.", user.account.name)
            }
        });
        dialog
    }
}

/// What deleting the record would do now.
async fn fate(state: &AppState, user: &CurrentUser, row: &ImageRow) -> Result<DeleteFate, WebError> {
    let mut conn = state.pool.get().await?;
    Ok(changes::images::delete_fate(&mut conn, &user.actor(), row).await?)
}

/// The items of a row's actions menu: what the user may do to the record
/// now, asked of the same rule as the actions themselves.
#[derive(Template)]
#[template(path = "images/actions_menu.html")]
struct ActionsMenu {
    row: ImageView,
}

/// A row's actions menu, loaded when it opens, so that a page of rows does
/// not carry fifty menus. Without htmx, the image's page, which offers the
/// same actions as buttons.
#[get("/images/{id}/actions")]
pub async fn actions_menu(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Image, Action::Access)?;
    let row = current(&user, &state, id.into_inner()).await?;
    if !is_htmx(&req) {
        return Ok(see_other(&format!("/images/{}", row.id)));
    }
    html(StatusCode::OK, ActionsMenu { row }.render())
}

#[get("/images/{id}/deprecate")]
pub async fn confirm_deprecate(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Image, Action::Access)?;
    let (_, view) = target(&user, &state, id.into_inner(), ImageAction::Deprecate).await?;
    ConfirmDialog::deprecate(&req, &user, &view).respond(&req, StatusCode::OK)
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

/// Deprecates or undeprecates an own image, and answers with its row; a
/// stale deprecation comes back into the dialog.
async fn set_deprecation(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    id: i64,
    version: i32,
    deprecated: bool,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Image, Action::Access)?;
    let mut conn = state.pool.get().await?;
    let actor = user.actor();
    let changed = if deprecated {
        changes::images::deprecate(&mut conn, &actor, &state.jobs, id, version).await
    } else {
        changes::images::undeprecate(&mut conn, &actor, &state.jobs, id, version).await
    };
    drop(conn);
    match changed {
        Ok(row) => {
            let current = image_view(user, row);
            let message = if deprecated {
                format!("Deprecated “{}”", current.name)
            } else {
                format!("“{}” is no longer deprecated", current.name)
            };
            done(req, Some(current), &message)
        }
        Err(ChangeError::Refused(Refusal::StaleVersion { .. })) => {
            let current = current(user, state, id).await?;
            let message = format!(
                "Someone else changed this image meanwhile (it is “{}”{} now).",
                current.name,
                if current.deprecated { ", deprecated" } else { "" }
            );
            if deprecated && !current.deprecated {
                let dialog = Confirm { error: Some(message), ..ConfirmDialog::deprecate(req, user, &current) };
                return dialog.respond(req, StatusCode::CONFLICT);
            }
            stale(req, current, &message)
        }
        Err(e) => Err(e.into()),
    }
}

#[get("/images/{id}/delete")]
pub async fn confirm_delete(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Image, Action::Access)?;
    let (row, view) = target(&user, &state, id.into_inner(), ImageAction::Delete).await?;
    let fate = fate(&state, &user, &row).await?;
    let source = Source::from_stored(&row.source).unwrap_or(Source::Shared);
    ConfirmDialog::delete(&req, &user, &view, source, fate).respond(&req, StatusCode::OK)
}

#[post("/images/{id}/delete")]
pub async fn delete(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<VersionForm>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Image, Action::Access)?;
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    let deleted = changes::images::delete(&mut conn, &user.actor(), &state.jobs, id, form.version).await;
    drop(conn);
    let e = match deleted {
        Ok(deleted) => {
            let message = match (deleted.source, deleted.provider_image_id) {
                (Source::Own, Some(_)) if let Some(until) = deleted.purge_after => format!(
                    "Moved “{}” to the recycle bin; it can be restored until {}",
                    deleted.name,
                    Moment::new(until).utc
                ),
                (Source::Own, Some(image)) => format!("Deleted “{}”; the provider deregisters {image}", deleted.name),
                (Source::Own, None) => format!("Deleted “{}”; the provider had not made it", deleted.name),
                _ => format!("Removed “{}” from {}", deleted.name, user.account.name),
            };
            return done(&req, None, &message);
        }
        Err(
            e @ ChangeError::Refused(
                Refusal::ImageInUse(_) | Refusal::ImageProtected { .. } | Refusal::StaleVersion { .. },
            ),
        ) => e,
        Err(e) => return Err(e.into()),
    };
    // The dialog again, with the record as it now is.
    let (row, view) = {
        let mut conn = state.pool.get().await?;
        let row = db::images::find_record(&mut conn, user.account.id, id).await?;
        (row.clone(), image_view(&user, row))
    };
    let source = Source::from_stored(&row.source).unwrap_or(Source::Shared);
    let mut dialog = ConfirmDialog::delete(&req, &user, &view, source, fate(&state, &user, &row).await?);
    // Refused a moment ago, allowed now (or stale): it changed meanwhile.
    if dialog.allowed {
        dialog.error =
            Some(format!("Someone else changed this image (“{}”) meanwhile. Delete it as it is now?", view.name));
    }
    dialog.respond(&req, change_status(&e))
}

#[post("/images/{id}/protect")]
pub async fn protect(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<VersionForm>,
) -> Result<HttpResponse, WebError> {
    set_protection(&req, &user, &state, id.into_inner(), form.version, true).await
}

#[post("/images/{id}/unprotect")]
pub async fn unprotect(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<VersionForm>,
) -> Result<HttpResponse, WebError> {
    set_protection(&req, &user, &state, id.into_inner(), form.version, false).await
}

/// Protects or unprotects an own image from its menu; the row as it now is.
async fn set_protection(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    id: i64,
    version: i32,
    protected: bool,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Image, Action::Access)?;
    let mut conn = state.pool.get().await?;
    let changed = changes::images::set_protection(&mut conn, &user.actor(), id, version, protected).await;
    drop(conn);
    match changed {
        Ok(row) => {
            let current = image_view(user, row);
            let message = if protected {
                format!("Protected “{}”: it cannot be deleted or retired until unprotected", current.name)
            } else {
                format!("“{}” is no longer protected", current.name)
            };
            done(req, Some(current), &message)
        }
        Err(ChangeError::Refused(Refusal::StaleVersion { .. })) => {
            let current = current(user, state, id).await?;
            let message = format!(
                "Someone else changed this image meanwhile (it is “{}”{} now).",
                current.name,
                if current.protected { ", protected" } else { "" }
            );
            stale(req, current, &message)
        }
        Err(e) => Err(e.into()),
    }
}
