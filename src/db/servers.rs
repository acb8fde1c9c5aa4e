//! Servers launched from image records.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::servers;

/// States in which a server still exists at the provider (or is about to).
pub const ALIVE: &[&str] = &["PENDING", "RUNNING", "PAUSING", "PAUSED", "REBOOTING", "STOPPING"];

/// Servers launched from this record that are pending, running or paused.
pub async fn alive_from_record(conn: &mut AsyncPgConnection, record_id: i64) -> QueryResult<i64> {
    servers::table
        .filter(servers::image_record_id.eq(record_id))
        .filter(servers::state.eq_any(ALIVE))
        .count()
        .get_result(conn)
        .await
}

/// Servers launched from this provider image, in any account, that are
/// pending, running or paused.
pub async fn alive_from_image(conn: &mut AsyncPgConnection, image_pk: i64) -> QueryResult<i64> {
    servers::table
        .filter(servers::provider_image_id.eq(image_pk))
        .filter(servers::state.eq_any(ALIVE))
        .count()
        .get_result(conn)
        .await
}

/// A server as it is recorded at launch.
#[derive(Debug, Insertable)]
#[diesel(table_name = servers)]
pub struct NewServer<'a> {
    pub account_id: i64,
    pub image_record_id: Option<i64>,
    pub provider_image_id: i64,
    pub name: &'a str,
    pub description: &'a str,
    pub product_id: &'a str,
    pub zone: Option<&'a str>,
    pub owner_user_id: Option<i64>,
    pub owner_group_id: Option<i64>,
    pub budget_code_id: i64,
    pub hourly_rate: bigdecimal::BigDecimal,
    pub provider_instance_id: Option<&'a str>,
    pub private_ip: Option<&'a str>,
    pub state: &'a str,
}

pub async fn insert(conn: &mut AsyncPgConnection, server: &NewServer<'_>) -> QueryResult<i64> {
    diesel::insert_into(servers::table).values(server).returning(servers::id).get_result(conn).await
}
