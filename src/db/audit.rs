//! The audit trail: one event per change, written in the change's transaction.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::audit_events;

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
