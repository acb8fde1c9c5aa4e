//! The audit log: one event per change, written in the change's transaction
//! (`record`), and read for an account newest first, filtered by user,
//! resource and action, one keyset page at a time.
//!
//! The order is `(created_at DESC, id DESC)`, which `audit_events_account`
//! answers for the unfiltered log and `audit_events_account_{user,resource,
//! action}` for each filter (migration `000010`). The page after a row is
//! the rows below it, `(created_at, id) < (row)`; the page before it is read
//! upwards and turned around by `Page::from_fetched`.
//!
//! The choices of the filter selects are what the account's log holds,
//! `SELECT DISTINCT` over those indexes. That reads each index entry of the
//! account once; if the log grows to millions of events per account a
//! skip-scan (recursive CTE) or a small table of seen values would replace it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::keyset::{beyond, limited};
use super::schema::{audit_events, users};
use crate::domain::page::{Cursor, PAGE_SIZE, Page, PageRequest};

/// Which events to show; `None` shows all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub user_id: Option<i64>,
    pub resource: Option<String>,
    pub action: Option<String>,
}

/// An event with the name of who did it.
#[derive(Debug, Clone, Queryable)]
pub struct AuditRow {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub user_id: Option<i64>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub action: String,
    pub resource: String,
    pub resource_id: Option<String>,
    pub outcome: String,
    pub changes: serde_json::Value,
}

impl AuditRow {
    pub fn cursor(&self) -> Cursor {
        Cursor::by_time(self.id, self.created_at)
    }
}

/// One page of the account's events, newest first.
pub async fn page(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    filter: &AuditFilter,
    request: &PageRequest,
) -> QueryResult<Page<AuditRow>> {
    let mut query = audit_events::table
        .left_join(users::table.on(users::id.nullable().eq(audit_events::user_id)))
        .filter(audit_events::account_id.eq(account_id))
        .select((
            audit_events::id,
            audit_events::created_at,
            audit_events::user_id,
            users::given_name.nullable(),
            users::family_name.nullable(),
            audit_events::action,
            audit_events::resource,
            audit_events::resource_id,
            audit_events::outcome,
            audit_events::changes,
        ))
        .into_boxed();
    if let Some(user) = filter.user_id {
        query = query.filter(audit_events::user_id.eq(user));
    }
    if let Some(resource) = &filter.resource {
        query = query.filter(audit_events::resource.eq(resource.clone()));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_events::action.eq(action.clone()));
    }
    // Newest first: forward pages walk down, the previous page walks up.
    let upwards = matches!(request, PageRequest::Before(_));
    if let PageRequest::After(cursor) | PageRequest::Before(cursor) = request {
        let at = cursor.at.unwrap_or_default();
        query = query.filter(beyond(
            audit_events::created_at,
            audit_events::id,
            diesel::IntoSql::into_sql::<diesel::sql_types::Timestamptz>(at),
            diesel::IntoSql::into_sql::<diesel::sql_types::BigInt>(cursor.id),
            upwards,
        ));
    }
    query = if upwards {
        query.order_by((audit_events::created_at.asc(), audit_events::id.asc()))
    } else {
        query.order_by((audit_events::created_at.desc(), audit_events::id.desc()))
    };
    let rows = limited(query, PAGE_SIZE + 1).load(conn).await?;
    Ok(Page::from_fetched(rows, request))
}

/// The latest `limit` events of one resource of the account (an image's
/// history on its page), newest first.
pub async fn of_resource(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    resource: &str,
    resource_id: &str,
    limit: i64,
) -> QueryResult<Vec<AuditRow>> {
    audit_events::table
        .left_join(users::table.on(users::id.nullable().eq(audit_events::user_id)))
        .filter(audit_events::account_id.eq(account_id))
        .filter(audit_events::resource.eq(resource))
        .filter(audit_events::resource_id.eq(resource_id))
        .select((
            audit_events::id,
            audit_events::created_at,
            audit_events::user_id,
            users::given_name.nullable(),
            users::family_name.nullable(),
            audit_events::action,
            audit_events::resource,
            audit_events::resource_id,
            audit_events::outcome,
            audit_events::changes,
        ))
        .order_by((audit_events::created_at.desc(), audit_events::id.desc()))
        .limit(limit)
        .load(conn)
        .await
}

/// What the filter selects offer: the users, resources and actions the
/// account's log holds.
#[derive(Debug, Clone, Default)]
pub struct FilterChoices {
    /// `(user id, "Given Family")`, by name.
    pub users: Vec<(i64, String)>,
    pub resources: Vec<String>,
    pub actions: Vec<String>,
}

pub async fn choices(conn: &mut AsyncPgConnection, account_id: i64) -> QueryResult<FilterChoices> {
    let user_ids = audit_events::table
        .filter(audit_events::account_id.eq(account_id))
        .filter(audit_events::user_id.is_not_null())
        .select(audit_events::user_id)
        .distinct();
    let mut users: Vec<(i64, String)> = users::table
        .filter(users::id.nullable().eq_any(user_ids))
        .select((users::id, users::given_name, users::family_name))
        .load::<(i64, String, String)>(conn)
        .await?
        .into_iter()
        .map(|(id, given, family)| (id, format!("{given} {family}")))
        .collect();
    users.sort_by(|a, b| a.1.to_lowercase().cmp(&b.1.to_lowercase()).then(a.0.cmp(&b.0)));
    let resources = audit_events::table
        .filter(audit_events::account_id.eq(account_id))
        .select(audit_events::resource)
        .distinct()
        .order_by(audit_events::resource)
        .load(conn)
        .await?;
    let actions = audit_events::table
        .filter(audit_events::account_id.eq(account_id))
        .select(audit_events::action)
        .distinct()
        .order_by(audit_events::action)
        .load(conn)
        .await?;
    Ok(FilterChoices { users, resources, actions })
}

/// An event to record.
#[derive(Debug, Insertable)]
#[diesel(table_name = audit_events)]
pub struct NewAuditEvent<'a> {
    pub account_id: Option<i64>,
    pub user_id: Option<i64>,
    pub action: &'a str,
    pub resource: &'a str,
    pub resource_id: Option<String>,
    pub outcome: &'a str,
    pub changes: serde_json::Value,
}

pub async fn record(conn: &mut AsyncPgConnection, event: &NewAuditEvent<'_>) -> QueryResult<()> {
    diesel::insert_into(audit_events::table).values(event).execute(conn).await.map(drop)
}
