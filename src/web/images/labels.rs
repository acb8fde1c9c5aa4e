//! Relabel: the label picker of a row (`GET /images/{id}/label`, a page of
//! its own without htmx) and the choice (`POST /images/{id}/label`, `label`
//! and `version`). A stale version answers 409: a flash for htmx, the picker
//! page with the current label without it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::{ImageView, PAGE, configurable, current, image_view, saved_row, stale_row};
use crate::auth::CurrentUser;
use crate::auth::current::flash_next;
use crate::changes::{self, ChangeError};
use crate::domain::access::{Action, Resource};
use crate::domain::images::Label;
use crate::domain::refusal::Refusal;
use crate::web::error::WebError;
use crate::web::layout::Frame;
use crate::web::respond::html;
use crate::web::{AppState, is_htmx, see_other};

/// The label picker of a row (loaded when it is opened).
#[derive(Template)]
#[template(path = "images/label_menu.html")]
struct LabelPicker {
    row: ImageView,
    csrf_token: String,
}

/// The label picker on a page of its own, for browsers without htmx, and
/// for a stale or bad choice.
#[derive(Template)]
#[template(path = "images/relabel.html")]
struct RelabelPage {
    frame: Frame,
    row: ImageView,
    csrf_token: String,
    error: Option<String>,
}

impl RelabelPage {
    fn new(user: &CurrentUser, row: ImageView, error: Option<String>) -> Self {
        Self { frame: Frame::new(user, PAGE), row, csrf_token: user.csrf_token.clone(), error }
    }
}

#[get("/images/{id}/label")]
pub async fn label_picker(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Image, Action::Access)?;
    let row = configurable(&user, &state, id.into_inner()).await?;
    if is_htmx(&req) {
        html(StatusCode::OK, LabelPicker { row, csrf_token: user.csrf_token.clone() }.render())
    } else {
        html(StatusCode::OK, RelabelPage::new(&user, row, None).render())
    }
}

#[derive(Deserialize)]
pub struct RelabelForm {
    #[serde(default)]
    label: String,
    version: i32,
}

#[post("/images/{id}/label")]
pub async fn relabel(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<RelabelForm>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Image, Action::Access)?;
    let id = id.into_inner();
    let label: Label = match form.label.parse() {
        Ok(label) => label,
        Err(invalid) => {
            // Refused as before for a record the user may not relabel (404/403).
            let row = configurable(&user, &state, id).await?;
            if is_htmx(&req) {
                return Err(WebError::Unprocessable(invalid.message));
            }
            return html(
                StatusCode::UNPROCESSABLE_ENTITY,
                RelabelPage::new(&user, row, Some(invalid.message)).render(),
            );
        }
    };
    let mut conn = state.pool.get().await?;
    let relabelled = changes::images::relabel(&mut conn, &user.actor(), id, form.version, label).await;
    drop(conn);
    let message = match label {
        Label::None => "Label removed".to_owned(),
        label => format!("Label set to {}", label.title()),
    };
    match relabelled {
        Ok(_) if !is_htmx(&req) => {
            flash_next(&req, &message)?;
            Ok(see_other(PAGE))
        }
        Ok(row) => saved_row(image_view(&user, row), &message),
        Err(ChangeError::Refused(Refusal::StaleVersion { .. })) => {
            let current = current(&user, &state, id).await?;
            let message = format!(
                "Someone else changed this image meanwhile; its label is now “{}”. Choose again.",
                current.label.title()
            );
            if is_htmx(&req) {
                return stale_row(current, &message);
            }
            html(StatusCode::CONFLICT, RelabelPage::new(&user, current, Some(message)).render())
        }
        Err(e) => Err(e.into()),
    }
}
