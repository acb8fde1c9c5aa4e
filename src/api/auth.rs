//! Who calls the API: a personal access token in `Authorization: Bearer`,
//! acting for its user in its account with that user's rights there now
//! (the same `AuthContext` and access decision as the pages), none that
//! change when the token is read-only.
//!
//! Cookies are not read: a request that brings a session cookie and no
//! token is refused (401), so the API is never a way around the pages'
//! CSRF protection.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, web::Data};

use super::problem::ApiError;
use crate::changes::Actor;
use crate::db::{self, accounts::Account, tokens::TokenRow, users::User};
use crate::domain::access::{Action, Resource, Rights};
use crate::domain::tokens::{TokenAccess, presented};
use crate::state::AppState;

/// The caller of an API request.
pub struct ApiUser {
    pub user: User,
    /// The token's account: every request acts in it.
    pub account: Account,
    pub accounts: Vec<Account>,
    pub rights: Rights,
    pub token: TokenRow,
}

impl ApiUser {
    pub fn actor(&self) -> Actor<'_> {
        Actor { user: &self.user, account: &self.account, accounts: &self.accounts, rights: &self.rights }
    }

    /// The one way a handler asks for a right (`Rights::require`).
    pub fn require(&self, resource: Resource, action: Action) -> Result<(), ApiError> {
        Ok(self.rights.require(resource, action)?)
    }
}

impl FromRequest for ApiUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Found by [`authenticate_first`] before the handler was called.
        if let Some(user) = req.extensions_mut().remove::<ApiUser>() {
            return Box::pin(std::future::ready(Ok(user)));
        }
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

/// The API's description, its document and its page: read without a token.
pub(super) const OPEN_PATHS: [&str; 2] = ["/api/v1/openapi.json", "/api/docs"];

/// Authenticates every request to an API route but the description's
/// before its handler reads anything, and hands the handler its
/// [`ApiUser`]. A handler's extractors run together, so without it a
/// malformed body could be answered (400) before the token's refusal (401,
/// or 403 for a read-only token): a token that may not make a request is
/// told so whatever the request holds.
pub async fn authenticate_first(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    // A path asked with a method it does not answer is told so, and an
    // address that names no route is not found, token or not.
    if let Some(allowed) = super::methods_of(req.path())
        && !allowed.contains(req.method())
    {
        return Ok(req.error_response(ApiError::MethodNotAllowed { allowed }).map_into_right_body());
    }
    if !OPEN_PATHS.contains(&req.path()) && req.resource_map().has_resource(req.path()) {
        match authenticate(req.request()).await {
            Ok(user) => drop(req.extensions_mut().insert(user)),
            Err(refused) => return Ok(req.error_response(refused).map_into_right_body()),
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::Unauthorized(message.to_owned())
}

async fn authenticate(req: &HttpRequest) -> Result<ApiUser, ApiError> {
    let state = req.app_data::<Data<AppState>>().expect("AppState is registered in Application::build");
    let header = req.headers().get(header::AUTHORIZATION).map(|v| v.to_str().unwrap_or_default());
    let Some(header) = header else {
        return Err(unauthorized(if req.cookie(crate::auth::SESSION_COOKIE).is_some() {
            "The API does not accept the console's session cookie: send a personal access token \
             (Settings › API tokens) as “Authorization: Bearer stc_…”."
        } else {
            "Send a personal access token as “Authorization: Bearer stc_…” (Settings › API tokens)."
        }));
    };
    // The scheme is case-insensitive (RFC 9110).
    let token = header
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("bearer "))
        .map(|_| &header[7..])
        .ok_or_else(|| unauthorized("The Authorization header must be “Bearer ” and a token."))?;
    let hash = presented(token.trim()).ok_or_else(|| unauthorized("That is not a Stratus Console API token."))?;

    let found = db::outage::read::<_, ApiError>(&state.pool, async |conn| db::tokens::find_by_hash(conn, &hash).await);
    let (token, access_version) =
        found.await?.ok_or_else(|| unauthorized("This token is not known: it may have been mistyped or deleted."))?;
    if token.revoked_at.is_some() {
        return Err(unauthorized("This token was revoked."));
    }
    if token.expires_at <= chrono::Utc::now() {
        return Err(unauthorized(&format!("This token expired on {}.", token.expires_at.format("%Y-%m-%d %H:%M UTC"))));
    }
    state.api_rate.take(token.id)?;
    let context = crate::auth::current::context_of::<ApiError>(state, token.user_id, Some(access_version)).await?;
    let Some(context) = context else {
        return Err(unauthorized("This token's user is no longer active."));
    };
    let Some(account) = context.accounts.iter().find(|a| a.id == token.account_id).cloned() else {
        return Err(ApiError::Forbidden(
            "This token's account is no longer open to its user (left, or disabled).".into(),
        ));
    };
    let rights = context.rights_in(account.id);
    if !rights.allows_some(Resource::Console, Action::Access) {
        return Err(ApiError::Forbidden(format!("Your role in {} does not open the console.", account.name)));
    }
    let reads = matches!(*req.method(), Method::GET | Method::HEAD);
    if !reads && TokenAccess::from_stored(&token.access) == TokenAccess::Read {
        return Err(ApiError::Forbidden("This token is read-only: it cannot change anything.".into()));
    }
    if db::tokens::needs_touch(&token) {
        db::tokens::touch(&mut *state.pool.get().await?, token.id).await?;
    }
    let (user, accounts) = (context.user.clone(), context.workable_accounts());
    Ok(ApiUser { user, account, accounts, rights, token })
}

/// A token bucket per API token: up to `per_minute` requests at once,
/// refilled at `per_minute` a minute. Kept in the process (a second
/// console process keeps its own).
pub struct RateLimit {
    per_minute: f64,
    buckets: Mutex<HashMap<i64, (f64, Instant)>>,
}

impl RateLimit {
    pub fn new(per_minute: u32) -> Self {
        Self { per_minute: f64::from(per_minute.max(1)), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request from the token's allowance, or says in how many
    /// seconds the next one is allowed.
    pub fn take(&self, token: i64) -> Result<(), ApiError> {
        let now = Instant::now();
        let per_second = self.per_minute / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > 100_000 {
            // Forget full buckets: they are what a new one starts as.
            buckets.retain(|_, (left, at)| *left + at.elapsed().as_secs_f64() * per_second < self.per_minute);
        }
        let (left, at) = buckets.entry(token).or_insert((self.per_minute, now));
        *left = (*left + now.duration_since(*at).as_secs_f64() * per_second).min(self.per_minute);
        *at = now;
        if *left >= 1.0 {
            *left -= 1.0;
            Ok(())
        } else {
            // Whole seconds, rounded up: a client that waits that long is let in.
            let wait = ((1.0 - *left) / per_second).ceil();
            Err(ApiError::TooManyRequests { retry_after_secs: wait.max(1.0) as u64 })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_past_its_rate_waits_and_others_do_not() {
        let limit = RateLimit::new(3);
        for _ in 0..3 {
            assert!(limit.take(1).is_ok());
        }
        match limit.take(1) {
            Err(ApiError::TooManyRequests { retry_after_secs }) => assert!((1..=20).contains(&retry_after_secs)),
            other => panic!("expected 429, got {other:?}"),
        }
        assert!(limit.take(2).is_ok());
    }
}
