//! `GET /jobs`: the current account's work at its provider: what is queued,
//! running, done, and what failed and why; 50 a page, newest first
//! (`?after=`/`?before=` a job). A user reads the jobs they asked for, the
//! account's own upkeep, and those about the images, servers, key pairs and
//! firewalls their role lets them see (`Rights::jobs_reach`).

use std::collections::HashMap;

use actix_web::{HttpResponse, get, web};
use askama::Template;

use super::AppState;
use super::layout::{Frame, Moment};
use crate::auth::CurrentUser;
use crate::db::{self, jobs::Job};
use crate::domain::access::{Action, Resource};
use crate::domain::page::{KeyKind, PageRequest};
use crate::web::error::WebError;
use crate::web::pager::{self, PageParams};

pub struct JobView {
    pub id: i64,
    pub what: String,
    /// Who asked for it, by name; "Console" for the console's own work.
    pub asked_by: String,
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
    first_page: bool,
    prev_url: Option<String>,
    next_url: Option<String>,
}

#[get("/jobs")]
pub async fn index(
    user: CurrentUser,
    state: web::Data<AppState>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Console, Action::Access)?;
    let request = params.request(KeyKind::Time)?;
    let mut conn = state.pool.get().await?;
    let page = db::jobs::page_for_account(&mut conn, user.account.id, &user.rights.jobs_reach(), &request).await?;
    let mut askers: Vec<i64> = page.rows.iter().filter_map(|job| job.requested_by).collect();
    askers.sort_unstable();
    askers.dedup();
    let names: HashMap<i64, String> = db::users::names(&mut conn, &askers).await?.into_iter().collect();
    drop(conn);
    let (prev_url, next_url) = pager::links("/jobs", &page, Job::cursor);
    let jobs = page
        .rows
        .into_iter()
        .map(|job| JobView {
            id: job.id,
            what: crate::jobs::describe(&job),
            asked_by: match job.requested_by {
                Some(id) => names.get(&id).cloned().unwrap_or_default(),
                None => "Console".into(),
            },
            note: job.result.as_ref().and_then(|r| r.get("note")).and_then(|n| n.as_str()).unwrap_or_default().into(),
            attempts: format!("{} of {}", job.attempts, job.max_attempts),
            error: job.last_error.unwrap_or_default(),
            created: Moment::new(job.created_at),
            finished: job.finished_at.map(Moment::new),
            state: job.state,
        })
        .collect();
    let first_page = request == PageRequest::First;
    let page = JobsPage { frame: Frame::new(&user, "/jobs"), jobs, first_page, prev_url, next_url };
    let body = page.render()?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body))
}
