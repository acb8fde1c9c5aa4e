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
            what: crate::jobs::describe(&job),
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
