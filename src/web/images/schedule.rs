//! The schedule dialog of an own image (`GET`/`POST /images/{id}/schedule`,
//! `IMAGE Configure`): the day it is deprecated and the day it is retired.
//! The lifecycle job acts on them (`jobs::lifecycle`); the change is
//! `changes::images::schedule`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use chrono::{Months, NaiveDate, Utc};
use serde::Deserialize;

use super::{Origin, PAGE, current, done, image_view, target};
use crate::auth::CurrentUser;
use crate::changes::{self, ChangeError};
use crate::db::images::ImageRow;
use crate::domain::ValidationError;
use crate::domain::access::{Action, Resource};
use crate::domain::images::{ImageAction, Schedule};
use crate::domain::refusal::Refusal;
use crate::web::dialog::respond;
use crate::web::error::WebError;
use crate::web::layout::Frame;
use crate::web::{AppState, is_htmx};

#[derive(Template)]
#[template(path = "images/schedule.html", blocks = ["dialog"])]
struct ScheduleDialog {
    frame: Frame,
    modal: bool,
    id: i64,
    origin: Origin,
    name: String,
    version: String,
    deprecate_on: String,
    retire_on: String,
    /// The earliest and latest days a date input offers.
    min: String,
    max: String,
    /// Why a retirement that is due waits, if it does.
    waits: Option<String>,
    error: Option<String>,
    errors: Vec<ValidationError>,
    csrf_token: String,
}

impl ScheduleDialog {
    fn new(req: &HttpRequest, user: &CurrentUser, row: &ImageRow) -> Self {
        let today = Utc::now().date_naive();
        let day = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
        Self {
            frame: Frame::new(user, PAGE),
            modal: is_htmx(req),
            id: row.id,
            origin: Origin::of(req),
            name: row.name.clone(),
            version: row.version.to_string(),
            deprecate_on: day(row.deprecate_on),
            retire_on: day(row.retire_on),
            min: (today + chrono::Duration::days(1)).to_string(),
            max: today.checked_add_months(Months::new(120)).unwrap_or(today).to_string(),
            waits: row.retirement_waits.clone(),
            error: None,
            errors: Vec::new(),
            csrf_token: user.csrf_token.clone(),
        }
    }

    fn error_of(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }

    fn respond(&self, req: &HttpRequest, status: StatusCode) -> Result<HttpResponse, WebError> {
        respond(req, status, if is_htmx(req) { self.as_dialog().render() } else { self.render() })
    }
}

#[get("/images/{id}/schedule")]
pub async fn show_schedule(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Image, Action::Access)?;
    let (row, _) = target(&user, &state, id.into_inner(), ImageAction::Schedule).await?;
    ScheduleDialog::new(&req, &user, &row).respond(&req, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct ScheduleForm {
    version: i32,
    #[serde(default)]
    deprecate_on: String,
    #[serde(default)]
    retire_on: String,
}

#[post("/images/{id}/schedule")]
pub async fn save_schedule(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<ScheduleForm>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Image, Action::Access)?;
    let id = id.into_inner();
    let saved = match Schedule::parse(&form.deprecate_on, &form.retire_on, Utc::now().date_naive()) {
        Ok(schedule) => {
            let mut conn = state.pool.get().await?;
            changes::images::schedule(&mut conn, &user.actor(), id, form.version, &schedule)
                .await
                .map(|r| (r, schedule))
        }
        Err(errors) => Err(ChangeError::Invalid(errors)),
    };
    match saved {
        Ok((row, schedule)) => {
            let name = row.name.clone();
            let message = match (schedule.deprecate_on, schedule.retire_on) {
                (None, None) => format!("“{name}” has no schedule now"),
                (Some(d), None) => format!("“{name}” will be deprecated on {d}"),
                (None, Some(r)) => format!("“{name}” will be retired on {r}"),
                (Some(d), Some(r)) => format!("“{name}” will be deprecated on {d} and retired on {r}"),
            };
            done(&req, Some(image_view(&user, row)), &message)
        }
        Err(ChangeError::Invalid(errors)) => {
            // The dialog again, as typed, with each problem at its field, at
            // the version it was read at: a change made meanwhile is a
            // conflict at the next save, never overwritten by it.
            let (row, _) = target(&user, &state, id, ImageAction::Schedule).await?;
            let dialog = ScheduleDialog {
                version: form.version.to_string(),
                deprecate_on: form.deprecate_on.clone(),
                retire_on: form.retire_on.clone(),
                errors,
                ..ScheduleDialog::new(&req, &user, &row)
            };
            dialog.respond(&req, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(ChangeError::Refused(Refusal::StaleVersion { .. })) => {
            let now = current(&user, &state, id).await?;
            let (row, _) = target(&user, &state, id, ImageAction::Schedule).await?;
            let dialog = ScheduleDialog {
                error: Some(format!(
                    "Someone else changed this image (“{}”) meanwhile. Here is its schedule as it is now.",
                    now.name
                )),
                ..ScheduleDialog::new(&req, &user, &row)
            };
            dialog.respond(&req, StatusCode::CONFLICT)
        }
        Err(e) => Err(e.into()),
    }
}
