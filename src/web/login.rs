//! Sign in and out.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::Utc;
use serde::Deserialize;

use super::{AppState, client_addr, see_other};
use crate::auth::{csrf, current, password, throttle};
use crate::db::{self, audit_log::NewAuditEvent};
use crate::web::error::WebError;

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    csrf_token: String,
    email: String,
    error: Option<String>,
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    ended: Option<String>,
    signed_out: Option<String>,
}

#[get("/login")]
pub async fn show(session: Session, query: web::Query<LoginQuery>) -> Result<impl actix_web::Responder, WebError> {
    let notice = if query.ended.is_some() {
        Some("Your session has ended. Please sign in again.")
    } else if query.signed_out.is_some() {
        Some("You have signed out.")
    } else {
        None
    };
    Ok(LoginPage { csrf_token: csrf::token(&session)?, email: String::new(), error: None, notice })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

const WRONG: &str = "Wrong email or password.";

#[post("/login")]
pub async fn submit(
    req: HttpRequest,
    session: Session,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, WebError> {
    let LoginForm { email, password: given } = form.into_inner();
    let email = email.trim().to_owned();
    let ip =
        client_addr::client_ip(&req, &state.trusted_proxies).map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let mut conn = state.pool.get().await?;
    let again = |error: String, status| -> Result<HttpResponse, WebError> {
        let page =
            LoginPage { csrf_token: csrf::token(&session)?, email: email.clone(), error: Some(error), notice: None };
        let body = page.render()?;
        Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body))
    };

    // An address PostgreSQL cannot hold (NUL) or nobody can type is no
    // address: refused before it reaches a query.
    if email.chars().any(|c| c.is_control() || crate::domain::text::is_invisible(c)) {
        return again(
            "An email address cannot contain control or invisible characters.".into(),
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        );
    }

    // Longer than any user's address (`Email`): nobody's, and too long for
    // the index of sign-in attempts. Answered as any unknown address is.
    if email.len() > crate::domain::admin::Email::MAX_BYTES {
        return again(WRONG.into(), actix_web::http::StatusCode::UNAUTHORIZED);
    }

    // The attempt is written first, as a failure, and counted with the
    // others: sign-ins at the same moment each see those written before
    // them, so guesses sent in parallel cannot pass the limit while their
    // passwords are hashed. A refused attempt is not counted.
    let attempt = db::login_attempts::record(&mut conn, &email, &ip).await?;
    let since = Utc::now() - throttle::window();
    let by_email = db::login_attempts::failures_for_email(&mut conn, &email, since).await?;
    let by_ip = db::login_attempts::failures_for_ip(&mut conn, &ip, since).await?;
    let locked = throttle::check(by_email, throttle::MAX_FAILURES_PER_EMAIL)
        .and(throttle::check(by_ip, throttle::MAX_FAILURES_PER_IP));
    if let Err(retry_at) = locked {
        db::login_attempts::forget(&mut conn, attempt).await?;
        let message = format!("Too many failed sign-ins. Try again after {} UTC.", retry_at.format("%H:%M"));
        let mut response = again(message, actix_web::http::StatusCode::TOO_MANY_REQUESTS)?;
        let seconds = (retry_at - Utc::now()).num_seconds().max(1);
        response
            .headers_mut()
            .insert(actix_web::http::header::RETRY_AFTER, actix_web::http::header::HeaderValue::from(seconds));
        return Ok(response);
    }

    let user = db::users::find_by_email(&mut conn, &email).await?;
    let hash = user.as_ref().map_or(password::dummy_hash(), |u| u.password_hash.as_str()).to_owned();
    let matches =
        web::block(move || password::verify(&given, &hash)).await.map_err(|e| WebError::Internal(e.into()))?;
    let user = match user {
        Some(user) if matches && user.is_active() => user,
        Some(user) if matches => {
            audit_sign_in(&mut conn, Some(user.id), "failure").await?;
            return again(
                "This user is inactive. Ask an administrator of your company to reactivate it.".into(),
                actix_web::http::StatusCode::FORBIDDEN,
            );
        }
        _ => return again(WRONG.into(), actix_web::http::StatusCode::UNAUTHORIZED),
    };
    db::login_attempts::succeeded(&mut conn, attempt).await?;
    audit_sign_in(&mut conn, Some(user.id), "success").await?;
    // The first account the user can work in (see `current::load`).
    let context = db::access::auth_context(&mut conn, user.id).await?;
    let first_account = context.and_then(|c| c.workable_accounts().first().map(|a| a.id));
    current::sign_in(&session, user.id, first_account)?;
    Ok(see_other(super::account::home_in(&mut conn, user.id, first_account, "").await?))
}

async fn audit_sign_in(
    conn: &mut diesel_async::AsyncPgConnection,
    user_id: Option<i64>,
    outcome: &str,
) -> Result<(), WebError> {
    let event = NewAuditEvent {
        account_id: None,
        user_id,
        action: "sign_in",
        resource: "USER",
        resource_id: user_id.map(|id| id.to_string()),
        outcome,
        changes: serde_json::json!({}),
    };
    Ok(db::audit_log::record(conn, &event).await?)
}

#[post("/logout")]
pub async fn logout(session: Session) -> HttpResponse {
    session.purge();
    see_other("/login?signed_out=1")
}
