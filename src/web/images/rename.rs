//! Rename: the name cell of a row becomes a form (`GET /images/{id}/name/edit`),
//! Cancel shows the row again (`GET /images/{id}/name`), and the form posts
//! `name` and `version` (`POST /images/{id}/name`). Without htmx the form is
//! a page of its own. A stale version answers 409 with the form showing the
//! current name.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::{ImageView, NameEdit, PAGE, RowFragment, configurable, current, image_view, saved_row};
use crate::auth::CurrentUser;
use crate::auth::current::flash_next;
use crate::changes::{self, ChangeError};
use crate::domain::access::{Action, Resource};
use crate::domain::images::ImageName;
use crate::domain::refusal::Refusal;
use crate::web::error::WebError;
use crate::web::layout::Frame;
use crate::web::respond::html;
use crate::web::{AppState, is_htmx, see_other};

/// The rename form on a page of its own, for browsers without htmx.
#[derive(Template)]
#[template(path = "images/rename.html")]
struct RenamePage {
    frame: Frame,
    row: ImageView,
    edit: NameEdit,
}

/// Answers with the row (htmx) or the rename page, in edit mode.
fn edit_response(
    req: &HttpRequest,
    user: &CurrentUser,
    mut row: ImageView,
    value: String,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let edit = NameEdit { value, error, csrf_token: user.csrf_token.clone() };
    if is_htmx(req) {
        row.editing = Some(edit);
        html(status, RowFragment { row }.render())
    } else {
        html(status, RenamePage { frame: Frame::new(user, PAGE), row, edit }.render())
    }
}

#[get("/images/{id}/name/edit")]
pub async fn edit_name(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Image, Action::Access)?;
    let row = configurable(&user, &state, id.into_inner()).await?;
    let value = row.name.clone();
    edit_response(&req, &user, row, value, None, StatusCode::OK)
}

/// The row as it is (Cancel of an inline rename); without htmx, back to
/// the list. An id not of this account is a 404 either way.
#[get("/images/{id}/name")]
pub async fn show_name(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Image, Action::Access)?;
    let row = current(&user, &state, id.into_inner()).await?;
    if !is_htmx(&req) {
        return Ok(see_other(PAGE));
    }
    html(StatusCode::OK, RowFragment { row }.render())
}

#[derive(Deserialize)]
pub struct RenameForm {
    #[serde(default)]
    name: String,
    version: i32,
}

#[post("/images/{id}/name")]
pub async fn save_name(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<RenameForm>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Image, Action::Access)?;
    let id = id.into_inner();
    let name = match ImageName::parse(&form.name) {
        Ok(name) => name,
        Err(invalid) => {
            // The form again, for a record the user may rename (else 404/403),
            // at the version it was read at: a change made meanwhile is a
            // conflict at the next save, never overwritten by it.
            let mut row = configurable(&user, &state, id).await?;
            row.version = form.version;
            let (value, error) = (form.name.clone(), Some(invalid.message));
            return edit_response(&req, &user, row, value, error, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let mut conn = state.pool.get().await?;
    let renamed = changes::images::rename(&mut conn, &user.actor(), id, form.version, &name).await;
    drop(conn);
    let message = format!("Renamed to “{}”", name.as_str());
    match renamed {
        Ok(_) if !is_htmx(&req) => {
            flash_next(&req, &message)?;
            Ok(see_other(PAGE))
        }
        Ok(row) => saved_row(image_view(&user, row), &message),
        Err(ChangeError::Refused(Refusal::StaleVersion { .. })) => {
            let current = current(&user, &state, id).await?;
            let message = format!(
                "Someone else changed this image meanwhile; its name as it is now is “{}”. Edit it again or cancel.",
                current.name
            );
            let value = current.name.clone();
            edit_response(&req, &user, current, value, Some(message), StatusCode::CONFLICT)
        }
        Err(e) => Err(e.into()),
    }
}
