//! `/api/v1/jobs/{id}` (poll a change until the provider has done it) and
//! `/api/v1/audit-events` (the account's audit log, as the Audit Log page
//! filters and pages it).

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::ApiUser;
use super::problem::ApiError;
use crate::db::{self, jobs::Job};
use crate::domain::access::{Action, Resource};
use crate::domain::audit_log::{masked, may_read};
use crate::state::AppState;
use crate::web::audit_log::AuditParams;

/// A provider job: what a change asked the provider to do, and how it went.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobState {
    pub id: i64,
    pub kind: String,
    /// What it does, in words.
    pub what: String,
    /// `QUEUED`, `RUNNING`, `COMPLETE` or `ERROR` (attempts left are tried
    /// again; `ERROR` once none are).
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    /// Why the last attempt failed, if it did.
    pub error: Option<String>,
    /// What it produced, or a note on how it went (e.g. what the provider
    /// could not keep).
    pub result: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<Job> for JobState {
    fn from(job: Job) -> Self {
        JobState {
            what: crate::jobs::describe(&job),
            id: job.id,
            kind: job.kind,
            state: job.state,
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            error: job.last_error,
            result: job.result,
            created_at: job.created_at,
            finished_at: job.finished_at,
        }
    }
}

/// A job of the account: one the user asked for, one of the account's
/// syncs, or one about an image, server, key pair or firewall their role
/// shows them. Any other answers 404, as its resource would.
#[utoipa::path(get, operation_id = "get_job", path = "/api/v1/jobs/{id}", tag = "activity", params(("id" = i64, Path)),
    responses((status = 200, description = "The job", body = JobState)))]
#[get("/v1/jobs/{id}")]
pub async fn get_job(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<JobState>, ApiError> {
    user.require(Resource::Console, Action::Access)?;
    let job =
        db::jobs::find(&mut *state.pool.get().await?, user.account.id, &user.rights.jobs_reach(), id.into_inner())
            .await?;
    Ok(web::Json(job.into()))
}

/// An event of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub user_id: Option<i64>,
    /// Who did it: a name, "(deleted user)" or "system".
    pub who: String,
    pub action: String,
    pub resource: String,
    pub resource_id: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    /// What changed; secrets are masked.
    pub changes: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEvent>,
    pub next: Option<String>,
    pub prev: Option<String>,
}

/// The audit log's filters and cursors.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// A user's id.
    pub user: Option<String>,
    /// e.g. `IMAGE`, `SERVER`, `USER`.
    pub resource: Option<String>,
    /// e.g. `rename`, `launch`, `delete`.
    pub action: Option<String>,
    pub after: Option<String>,
    pub before: Option<String>,
}

/// The account's audit log, newest first (administrators of the account).
#[utoipa::path(get, operation_id = "list_audit_events", path = "/api/v1/audit-events", tag = "activity", params(AuditQuery),
    responses((status = 200, description = "A page of events", body = AuditPage)))]
#[get("/v1/audit-events")]
pub async fn audit_events(
    user: ApiUser,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<web::Json<AuditPage>, ApiError> {
    if !may_read(&user.rights) {
        return Err(ApiError::Forbidden("Only administrators of this account may read its audit log.".into()));
    }
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let params = AuditParams {
        user: text(&query.user),
        resource: text(&query.resource),
        action: text(&query.action),
        after: text(&query.after),
        before: text(&query.before),
    };
    let (filter, request) = crate::web::audit_log::parse(&params)?;
    let page = db::audit_log::page(&mut *state.pool.get().await?, user.account.id, &filter, &request).await?;
    let (prev, next) = page.prev_and_next(db::audit_log::AuditRow::cursor);
    let items = page
        .rows
        .into_iter()
        .map(|row| AuditEvent {
            who: match (&row.given_name, &row.family_name) {
                (Some(given), Some(family)) => format!("{given} {family}"),
                _ if row.user_id.is_some() => "(deleted user)".into(),
                _ => "system".into(),
            },
            id: row.id,
            at: row.created_at,
            user_id: row.user_id,
            action: row.action,
            resource: row.resource,
            resource_id: row.resource_id,
            outcome: row.outcome,
            changes: masked(&row.changes),
        })
        .collect();
    Ok(web::Json(AuditPage { items, next, prev }))
}
