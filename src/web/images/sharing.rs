//! Sharing: the dialog (`GET /images/{id}/sharing`) and its form (`POST`,
//! `share_type` private or public and the `account_ids` ticked). Only the
//! user's other accounts at the same provider and region can be chosen; the
//! change is `changes::images::save_sharing`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::{Origin, PAGE, done, image_view, target};
use crate::auth::CurrentUser;
use crate::changes::images::{Shared, Sharing, facts, share_targets};
use crate::changes::{self, ChangeError};
use crate::db::{self, images::ImageRow};
use crate::domain::access::{Action, Resource};
use crate::domain::images::{ImageAction, sharing_rights};
use crate::web::dialog::respond;
use crate::web::error::WebError;
use crate::web::layout::Frame;
use crate::web::{AppState, HtmlForm, is_htmx};

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
    origin: Origin,
    name: String,
    public: bool,
    may_share_accounts: bool,
    may_share_public: bool,
    accounts: Vec<ShareChoice>,
    error: Option<String>,
    csrf_token: String,
}

impl SharingDialog {
    fn respond(&self, req: &HttpRequest, status: StatusCode) -> Result<HttpResponse, WebError> {
        respond(req, status, if is_htmx(req) { self.as_dialog().render() } else { self.render() })
    }
}

/// The user's other accounts, ticked where the image is shared with them.
/// Those the change does not offer (`share_targets`: images are shared
/// within one provider and region only) cannot be chosen.
fn share_choices(user: &CurrentUser, shared_with: &[i64]) -> Vec<ShareChoice> {
    let offered: Vec<i64> = share_targets(&user.actor()).map(|a| a.id).collect();
    user.accounts
        .iter()
        .filter(|a| a.id != user.account.id)
        .map(|a| ShareChoice {
            id: a.id,
            name: a.name.clone(),
            region: a.region_title(),
            checked: shared_with.contains(&a.id),
            unavailable: (!offered.contains(&a.id)).then_some("another provider or region"),
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
        frame: Frame::new(user, PAGE),
        modal: is_htmx(req),
        id: row.id,
        origin: Origin::of(req),
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
pub async fn show_sharing(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Image, Action::Access)?;
    let (row, _) = target(&user, &state, id.into_inner(), ImageAction::Sharing).await?;
    sharing_dialog(&req, &user, &state, &row, None, None).await?.respond(&req, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct SharingForm {
    #[serde(default)]
    share_type: String,
    #[serde(default)]
    account_ids: Vec<i64>,
}

/// The message after a save: what changed.
fn shared_message(shared: &Shared) -> String {
    let name = &shared.record.name;
    let mut parts = Vec::new();
    if !shared.added.is_empty() {
        parts.push(format!("shared with {}", shared.added.join(", ")));
    }
    if !shared.removed.is_empty() {
        parts.push(format!("no longer shared with {}", shared.removed.join(", ")));
    }
    match shared.public {
        Some(true) => parts.push("public".to_owned()),
        Some(false) => parts.push("no longer public".to_owned()),
        None => {}
    }
    if parts.is_empty() {
        format!("Sharing of “{name}” unchanged")
    } else {
        format!("“{name}”: {}", parts.join("; "))
    }
}

#[post("/images/{id}/sharing")]
pub async fn save_sharing(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: HtmlForm<SharingForm>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Image, Action::Access)?;
    let (id, form) = (id.into_inner(), form.0);
    let public = match form.share_type.as_str() {
        "private" => Ok(false),
        "public" => Ok(true),
        _ => Err("Choose a share type: Private or Public.".to_owned()),
    };
    let saved = match public {
        Ok(public) => {
            let mut conn = state.pool.get().await?;
            let sharing = Sharing { public, accounts: &form.account_ids };
            changes::images::save_sharing(&mut conn, &user.actor(), &state.jobs, id, &sharing).await
        }
        Err(message) => Err(ChangeError::Invalid(vec![crate::domain::ValidationError::new("share_type", message)])),
    };
    match saved {
        Ok(shared) => {
            let message = shared_message(&shared);
            done(&req, Some(image_view(&user, shared.record)), &message)
        }
        Err(ChangeError::Invalid(errors)) => {
            // The dialog again with the problem, for an image the user may share (else 404/403).
            let (row, _) = target(&user, &state, id, ImageAction::Sharing).await?;
            let message = errors.into_iter().map(|e| e.message).collect::<Vec<_>>().join(" ");
            let dialog = sharing_dialog(&req, &user, &state, &row, Some(&form.account_ids), Some(message)).await?;
            dialog.respond(&req, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => Err(e.into()),
    }
}
