//! The Audit Log page: `GET /audit?user=&resource=&action=&after=&before=`.
//!
//! Every change in the current account, newest first, 50 a page with keyset
//! links (`after=`/`before=` carry the position of the last/first row, as on
//! `/images`; a token that does not decode is a 400). The filter selects
//! offer what the account's log holds. Who may read it, how changes read and
//! which keys are masked is `domain::audit_log`: administrators only (rights
//! that open the user administration pages), others get 403.
//!
//! Times are shown like everywhere else: UTC in the text and on hover, which
//! the page script rewrites into the reader's locale.

use actix_web::{HttpResponse, get, web};
use askama::Template;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::layout::{Frame, Moment};
use crate::auth::CurrentUser;
use crate::db::{
    self,
    audit_log::{AuditFilter, AuditRow, FilterChoices},
};
use crate::domain::ValidationError;
use crate::domain::access::Resource;
use crate::domain::audit_log::{ChangeLine, change_lines, may_read};
use crate::domain::page::{KeyKind, Page, PageRequest};
use crate::web::error::WebError;

const PAGE: &str = "/audit";

/// The query string, as typed.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct AuditParams {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub action: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub after: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub before: String,
}

/// A filter value as a stored name: short, printable.
fn name(field: &'static str, raw: &str) -> Result<Option<String>, ValidationError> {
    let value = raw.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if value.len() > 64 || value.chars().any(char::is_control) {
        return Err(ValidationError::new(field, format!("“{field}” is not a value the audit log holds.")));
    }
    Ok(Some(value.to_owned()))
}

pub fn parse(params: &AuditParams) -> Result<(AuditFilter, PageRequest), ValidationError> {
    let user_id = match params.user.trim() {
        "" => None,
        raw => Some(raw.parse().map_err(|_| ValidationError::new("user", "“user” must be a user id."))?),
    };
    // Every event names one of the resources; an action may be any word.
    let resource = name("resource", &params.resource)?;
    if resource.as_deref().is_some_and(|r| r.parse::<Resource>().is_err()) {
        return Err(ValidationError::new("resource", "“resource” must be a resource, e.g. IMAGE, SERVER or USER."));
    }
    let filter = AuditFilter { user_id, resource, action: name("action", &params.action)? };
    Ok((filter, PageRequest::from_params(&params.after, &params.before, KeyKind::Time)?))
}

/// A row of the log, ready to show.
pub struct EventView {
    pub id: i64,
    pub at: Moment,
    pub who: String,
    pub action: String,
    pub resource: String,
    pub resource_id: String,
    pub success: bool,
    pub outcome: String,
    pub changes: Vec<ChangeLine>,
}

pub fn view(row: AuditRow) -> EventView {
    let who = match (row.given_name, row.family_name) {
        (Some(given), Some(family)) => format!("{given} {family}"),
        _ if row.user_id.is_some() => "(deleted user)".into(),
        _ => "system".into(),
    };
    EventView {
        id: row.id,
        at: Moment::new(row.created_at),
        who,
        changes: change_lines(&row.changes),
        success: row.outcome == "success",
        outcome: row.outcome,
        action: row.action,
        resource: row.resource,
        resource_id: row.resource_id.unwrap_or_default(),
    }
}

/// A record's history as its page shows it to `user`: each event ready to
/// show, naming only the accounts the user works in.
pub fn history_for(user: &CurrentUser, events: Vec<AuditRow>) -> Vec<EventView> {
    let works_in = |name: &str| user.accounts.iter().any(|a| a.name == name);
    events
        .into_iter()
        .map(|mut event| {
            crate::domain::audit_log::accounts_named_for(&mut event.changes, works_in);
            view(event)
        })
        .collect()
}

#[derive(Template)]
#[template(path = "audit_log/index.html")]
struct AuditPage {
    frame: Frame,
    params: AuditParams,
    choices: FilterChoices,
    rows: Vec<EventView>,
    filtered: bool,
    prev_url: Option<String>,
    next_url: Option<String>,
}

impl AuditPage {
    fn user_selected(&self, id: &i64) -> bool {
        self.params.user.trim() == id.to_string()
    }
}

fn url_with(params: &AuditParams, change: impl FnOnce(&mut AuditParams)) -> String {
    let mut params = params.clone();
    change(&mut params);
    match serde_urlencoded::to_string(&params) {
        Ok(query) if !query.is_empty() => format!("{PAGE}?{query}"),
        _ => PAGE.into(),
    }
}

fn page_links(params: &AuditParams, page: &Page<AuditRow>) -> (Option<String>, Option<String>) {
    let (prev, next) = page.prev_and_next(AuditRow::cursor);
    let prev = prev.map(|token| {
        url_with(params, |p| {
            p.after.clear();
            p.before = token;
        })
    });
    let next = next.map(|token| {
        url_with(params, |p| {
            p.before.clear();
            p.after = token;
        })
    });
    (prev, next)
}

#[get("/audit")]
pub async fn index(
    user: CurrentUser,
    state: web::Data<AppState>,
    params: web::Query<AuditParams>,
) -> Result<HttpResponse, WebError> {
    if !may_read(&user.rights) {
        return Err(WebError::Forbidden("Only administrators of this account may read its audit log.".into()));
    }
    let params = params.into_inner();
    let (filter, request) = parse(&params)?;
    let mut conn = state.pool.get().await?;
    let page = db::audit_log::page(&mut conn, user.account.id, &filter, &request).await?;
    let choices = db::audit_log::choices(&mut conn, user.account.id).await?;
    drop(conn);
    let (prev_url, next_url) = page_links(&params, &page);
    let body = AuditPage {
        frame: Frame::new(&user, PAGE),
        filtered: filter != AuditFilter::default(),
        params,
        choices,
        rows: page.rows.into_iter().map(view).collect(),
        prev_url,
        next_url,
    }
    .render()?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body))
}
