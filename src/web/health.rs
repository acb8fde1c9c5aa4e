//! `GET /healthz`: 200 when the database answers, else 503. It also tells
//! whether the cloud providers answered the last time the workers asked;
//! that never turns the answer into a 503 (pages still work without them).

use actix_web::{HttpResponse, get, web};
use diesel::dsl::{count_star, min};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::AppState;
use crate::db::{self, schema::accounts};

#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let outage = db::outage::read::<_, anyhow::Error>(&state.pool, async |conn| {
        accounts::table
            .filter(accounts::unreachable_since.is_not_null())
            .select((count_star(), min(accounts::unreachable_since)))
            .first::<(i64, Option<chrono::DateTime<chrono::Utc>>)>(conn)
            .await
    })
    .await;
    match outage {
        Ok((0, _)) => HttpResponse::Ok().json(serde_json::json!({ "database": "ok", "provider": "ok" })),
        Ok((accounts, since)) => HttpResponse::Ok().json(serde_json::json!({
            "database": "ok",
            "provider": "unreachable",
            "accounts_affected": accounts,
            "unreachable_since": since,
        })),
        Err(_) => HttpResponse::ServiceUnavailable()
            .insert_header((actix_web::http::header::RETRY_AFTER, "2"))
            .json(serde_json::json!({ "database": "unavailable" })),
    }
}
