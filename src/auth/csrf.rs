//! CSRF protection with a synchronizer token kept in the session.
//!
//! Every page renders the token: htmx sends it as the `X-CSRF-Token` header
//! (`hx-headers` on `<body>`), plain forms as the `csrf_token` field. Every
//! POST without the session's token is refused with 403 before any handler
//! runs.

use actix_session::{Session, SessionExt};
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

use super::AuthError;

/// The session key of the token.
pub const SESSION_KEY: &str = "csrf";
pub const HEADER: &str = "X-CSRF-Token";
pub const FIELD: &str = "csrf_token";

/// The session's token, made on first use.
pub fn token(session: &Session) -> Result<String, AuthError> {
    if let Some(token) = session.get::<String>(SESSION_KEY)? {
        return Ok(token);
    }
    let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    session.insert(SESSION_KEY, &token)?;
    Ok(token)
}

/// Middleware: refuses state-changing requests that do not carry the token.
pub async fn verify(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let expected = req.get_session().get::<String>(SESSION_KEY).ok().flatten();
    let mut provided = req.headers().get(HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if provided.is_none() && is_form(&req) {
        let body = req.extract::<Bytes>().await?;
        provided = form_field(&body);
        req.set_payload(Payload::from(body));
    }
    match (expected, provided) {
        (Some(expected), Some(provided)) if bool::from(expected.as_bytes().ct_eq(provided.as_bytes())) => {
            Ok(next.call(req).await?.map_into_left_body())
        }
        _ => {
            let refusal = refusal(&req);
            Ok(req.error_response(refusal).map_into_right_body())
        }
    }
}

/// Why a request without the session's token is refused: a form from
/// someone no longer signed in (their session ended: expired, signed out,
/// deactivated) sends them to sign in, as any page would; otherwise the
/// form did not come from this session. The forms of the signed-out, to
/// sign in or set up, are refused as such.
fn refusal(req: &ServiceRequest) -> AuthError {
    let signed_out_form = matches!(req.path(), "/login" | "/setup");
    let signed_in = req.get_session().get::<i64>(super::session_store::USER_ID).ok().flatten().is_some();
    if signed_out_form || signed_in {
        AuthError::CsrfRejected
    } else {
        AuthError::SignedOut { session_ended: req.cookie(super::SESSION_COOKIE).is_some() }
    }
}

fn is_form(req: &ServiceRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
}

fn form_field(body: &[u8]) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find_map(|(name, value)| (name == FIELD).then_some(value))
}
