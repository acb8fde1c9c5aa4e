//! `GET /jobs`: the current account's work at its provider: what is queued,
//! running, done, and what failed and why.

use actix_web::{HttpResponse, get, web};
use askama::Template;

use super::AppState;
use super::layout::{Frame, Moment};
use crate::auth::CurrentUser;
use crate::db;
use crate::domain::access::{Action, Resource};
use crate::web::error::WebError;

pub struct JobView {
    pub id: i64,
    pub what: String,
    pub state: String,
    pub attempts: String,
    pub error: String,
    /// How a completed job went, when there is more to say.
    pub note: String,
    pub created: Moment,
    pub finished: Option<Moment>,
}

/// What a job does, as a person would say it.
fn describe(job: &db::jobs::Job) -> String {
    use crate::jobs::{images, servers};
    let text = |field: &str| job.payload.get(field).and_then(|v| v.as_str()).unwrap_or_default();
    let image = job.payload.get("image_id").and_then(|v| v.as_str()).unwrap_or("an image");
    match job.kind.as_str() {
        images::DEREGISTER_IMAGE => format!("Deregister {image}"),
        images::SET_DEPRECATION if job.payload.get("deprecated_at").is_some_and(|v| !v.is_null()) => {
            format!("Deprecate {image}")
        }
        images::SET_DEPRECATION => format!("Undeprecate {image}"),
        images::LAUNCH_PERMISSION => {
            let grant = job.payload.get("grant").and_then(serde_json::Value::as_bool).unwrap_or(false);
            let who = match job.payload.get("account_number").and_then(|v| v.as_str()) {
                Some(number) => format!("account {number}"),
                None => "everyone".into(),
            };
            if grant { format!("Share {image} with {who}") } else { format!("Stop sharing {image} with {who}") }
        }
        crate::jobs::sync::OWN_IMAGES => "Sync machine images".into(),
        crate::jobs::sync::PUBLIC_CATALOG => "Sync the public catalog".into(),
        crate::jobs::sync::PRODUCTS => "Sync hardware sizes".into(),
        crate::jobs::sync::ZONES => "Sync data centers".into(),
        crate::jobs::sync::FIREWALLS => "Sync firewalls".into(),
        crate::jobs::sync::KEY_PAIRS => "Sync key pairs".into(),
        "noop" => "No-op".into(),
        servers::RUN_INSTANCE => format!("Launch server {}", text("name")),
        servers::SYNC_SERVERS => "Sync servers".into(),
        servers::SERVER_ACTION => {
            let command = match text("command") {
                "pause" => "Pause",
                "start" => "Start",
                "reboot" => "Reboot",
                _ => "Terminate",
            };
            format!("{command} server {}", text("instance_id"))
        }
        servers::CREATE_IMAGE => format!("Make image {} from server {}", text("name"), text("instance_id")),
        other => other.replace('_', " "),
    }
}

#[derive(Template)]
#[template(path = "jobs/index.html")]
struct JobsPage {
    frame: Frame,
    jobs: Vec<JobView>,
}

#[get("/jobs")]
pub async fn index(user: CurrentUser, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    user.require(Resource::Console, Action::Access)?;
    let mut conn = state.pool.get().await?;
    let jobs = db::jobs::recent_for_account(&mut conn, user.account.id, 100)
        .await?
        .into_iter()
        .map(|job| JobView {
            id: job.id,
            what: describe(&job),
            note: job.result.as_ref().and_then(|r| r.get("note")).and_then(|n| n.as_str()).unwrap_or_default().into(),
            attempts: format!("{} of {}", job.attempts, job.max_attempts),
            error: job.last_error.unwrap_or_default(),
            created: Moment::new(job.created_at),
            finished: job.finished_at.map(Moment::new),
            state: job.state,
        })
        .collect();
    let page = JobsPage { frame: Frame::new(&user, "/jobs"), jobs };
    let body = page.render()?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body))
}
