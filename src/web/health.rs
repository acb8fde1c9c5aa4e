//! `GET /healthz`: 200 when the database answers, else 503.

use actix_web::{HttpResponse, get, web};
use diesel_async::RunQueryDsl;

use super::AppState;

#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let database = match state.pool.get().await {
        Ok(mut conn) => diesel::sql_query("SELECT 1").execute(&mut conn).await.is_ok(),
        Err(_) => false,
    };
    let body = serde_json::json!({ "database": if database { "ok" } else { "unavailable" } });
    if database { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}
