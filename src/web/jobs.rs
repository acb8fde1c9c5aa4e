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
    pub created: Moment,
    pub finished: Option<Moment>,
}

/// What a job kind does, as a person would say it.
fn describe(kind: &str) -> String {
    match kind {
        crate::jobs::sync::OWN_IMAGES => "Sync machine images".into(),
        crate::jobs::sync::PUBLIC_CATALOG => "Sync the public catalog".into(),
        crate::jobs::sync::PRODUCTS => "Sync hardware sizes".into(),
        crate::jobs::sync::ZONES => "Sync data centers".into(),
        crate::jobs::sync::FIREWALLS => "Sync firewalls".into(),
        crate::jobs::sync::KEY_PAIRS => "Sync key pairs".into(),
        "noop" => "No-op".into(),
        crate::jobs::RUN_INSTANCE => "Start a server".into(),
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
            what: describe(&job.kind),
            attempts: format!("{} of {}", job.attempts, job.max_attempts),
            error: job.last_error.unwrap_or_default(),
            created: Moment::new(job.created_at),
            finished: job.finished_at.map(Moment::new),
            state: job.state,
        })
        .collect();
    let page = JobsPage { frame: Frame::new(&user, "/jobs"), jobs };
    let body = page.render().map_err(|e| WebError::Internal(e.into()))?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body))
}
