//! The one place where errors become HTTP responses.
//!
//! Full-page requests get an HTML error page with the right status; htmx
//! requests get a small fragment swapped into the page's flash area
//! (`htmx_errors` re-targets it), so a message appears where the user looks.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::auth::AuthError;
use crate::changes::ChangeError;
use crate::cloud::CloudError;
use crate::db::{Outage, PoolError};
use crate::domain::ValidationError;
use crate::domain::access::Forbidden;
use crate::domain::refusal::Refusal;

/// Where someone without an account who may connect one is sent.
pub const FIRST_ACCOUNT: &str = "/admin/accounts?first=1";

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Not signed in; `session_ended` when the browser had a session that is
    /// gone (expired or ended elsewhere).
    #[error("not signed in")]
    Unauthorized { session_ended: bool },
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    /// Signed in without an account, and allowed to connect one: sent to
    /// Cloud Accounts.
    #[error("no cloud account yet")]
    NoAccountYet,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    InvalidInput(#[from] ValidationError),
    #[error("{0}")]
    TooManyRequests(String),
    /// A form body larger than the most a form may send.
    #[error("form too large")]
    FormTooLarge,
    /// Someone else changed it first (a stale version).
    #[error("{0}")]
    Conflict(String),
    /// A form that fails validation, told where no field can show it.
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    /// The rules refuse the change (its status: [`refusal_status`]).
    #[error(transparent)]
    Refused(Refusal),
    /// The provider refused a call the request waited for (502), or did not
    /// answer (503).
    #[error(transparent)]
    Provider(CloudError),
    #[error("the database is not available")]
    Unavailable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for WebError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::Error;
        match e {
            Error::NotFound => WebError::NotFound,
            other => match Outage::of(&other) {
                Some(_) => WebError::Unavailable,
                None => WebError::Internal(other.into()),
            },
        }
    }
}

impl From<Forbidden> for WebError {
    fn from(e: Forbidden) -> Self {
        WebError::Forbidden(e.message().to_owned())
    }
}

impl From<AuthError> for WebError {
    fn from(e: AuthError) -> Self {
        web_error(&e)
    }
}

/// The one mapping of a change's outcome to HTTP: a field's problem is 422,
/// a refusal has its status, a provider's refusal is 502.
impl From<ChangeError> for WebError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::Invalid(errors) => {
                WebError::Unprocessable(errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join(" "))
            }
            ChangeError::Refused(refusal) => WebError::Refused(refusal),
            ChangeError::Forbidden(e) => e.into(),
            ChangeError::NotFound => WebError::NotFound,
            ChangeError::Provider(e) => WebError::Provider(e),
            ChangeError::Db(e) => e.into(),
            ChangeError::Unavailable(e) => e.into(),
        }
    }
}

/// The status of a refusal: a field's (a taken name) is 422, one that only a
/// higher role could overcome (escalation, a user who outranks the actor, a
/// right withdrawn that the actor lacks) is 403, the others (and a budget
/// code that changed under the launch form) are conflicts with the current
/// state (409).
pub fn refusal_status(refusal: &Refusal) -> StatusCode {
    match refusal {
        Refusal::Escalation { .. }
        | Refusal::Widening { .. }
        | Refusal::Outranked { .. }
        | Refusal::Withdrawal { .. } => StatusCode::FORBIDDEN,
        // Shown at the budget field, but the code changed under the form: a
        // conflict with the current state, as a stale version is.
        Refusal::BudgetWithdrawn | Refusal::PastHardQuota { .. } => StatusCode::CONFLICT,
        _ if refusal.field().is_some() => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::CONFLICT,
    }
}

/// The status of a change that was not made, for pages that answer it in
/// their own form or dialog.
pub fn change_status(e: &ChangeError) -> StatusCode {
    match e {
        ChangeError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ChangeError::Refused(refusal) => refusal_status(refusal),
        ChangeError::Forbidden(_) => StatusCode::FORBIDDEN,
        ChangeError::NotFound => StatusCode::NOT_FOUND,
        ChangeError::Provider(e) => provider_status(e),
        ChangeError::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
        ChangeError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// 503 when the provider does not answer or asks for a later try (try
/// again later), 502 when it answers with a refusal or a failure.
fn provider_status(e: &CloudError) -> StatusCode {
    match e {
        CloudError::Unreachable(_) | CloudError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_GATEWAY,
    }
}

/// A template that fails to render is a bug: a 500.
impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        WebError::Internal(e.into())
    }
}

impl From<PoolError> for WebError {
    fn from(e: PoolError) -> Self {
        Outage::from(e).into()
    }
}

impl From<Outage> for WebError {
    fn from(_: Outage) -> Self {
        WebError::Unavailable
    }
}

impl WebError {
    fn title(&self) -> &'static str {
        match self {
            WebError::Unauthorized { .. } => "Please sign in",
            WebError::Forbidden(_) => "Not allowed",
            WebError::NotFound => "Not found",
            WebError::NoAccountYet => "Connect a cloud account",
            WebError::BadRequest(_) | WebError::InvalidInput(_) => "That request was not understood",
            WebError::TooManyRequests(_) => "Too many attempts",
            WebError::FormTooLarge => "That form is too large",
            WebError::Conflict(_) => "Changed meanwhile",
            WebError::Unprocessable(_) => "That could not be saved",
            // Said of a page (a dialog that cannot open) as of a change.
            WebError::Refused(_) => "That cannot be done",
            WebError::Provider(_) => "The cloud provider did not do it",
            WebError::Unavailable => "Temporarily unavailable",
            WebError::Internal(_) => "Something went wrong",
        }
    }

    /// What the person reading the page is told. Internal details go to the
    /// log, never to the page.
    pub fn message(&self) -> String {
        match self {
            WebError::Unauthorized { .. } => "Sign in to continue.".into(),
            WebError::NotFound => "There is nothing here, or it is not in your current account.".into(),
            WebError::NoAccountYet => "Connect your first cloud account to use this page.".into(),
            WebError::FormTooLarge => format!(
                "A form may send at most {} KiB; shorten the longest text in it (a script or a key) and send it again.",
                super::FORM_LIMIT / 1024
            ),
            WebError::Forbidden(m)
            | WebError::BadRequest(m)
            | WebError::TooManyRequests(m)
            | WebError::Conflict(m)
            | WebError::Unprocessable(m) => m.clone(),
            WebError::InvalidInput(e) => e.message.clone(),
            WebError::Refused(refusal) => refusal.message(),
            WebError::Provider(e) => e.to_string(),
            WebError::Unavailable => "The database is not answering. Try again in a moment.".into(),
            WebError::Internal(_) => "The console could not complete this request. It has been logged.".into(),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html", blocks = ["flash"])]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::NoAccountYet => StatusCode::SEE_OTHER,
            WebError::BadRequest(_) | WebError::InvalidInput(_) => StatusCode::BAD_REQUEST,
            WebError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            WebError::FormTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            WebError::Refused(refusal) => refusal_status(refusal),
            WebError::Provider(e) => provider_status(e),
            WebError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        match self {
            WebError::Internal(e) => tracing::error!(error = ?e, "request failed"),
            WebError::Provider(e) => tracing::warn!(error = %e, "the provider failed a request"),
            _ => {}
        }
        if let WebError::Unauthorized { session_ended } = self {
            let to = if *session_ended { "/login?ended=1" } else { "/login" };
            return HttpResponse::SeeOther().insert_header((header::LOCATION, to)).finish();
        }
        if let WebError::NoAccountYet = self {
            return HttpResponse::SeeOther().insert_header((header::LOCATION, FIRST_ACCOUNT)).finish();
        }
        let status = self.status_code();
        let message = self.message();
        let page = ErrorPage { status: status.as_u16(), title: self.title(), message: &message };
        retry_later(html(status, page.render()))
    }
}

/// The `auth` layer's errors answer as the web's do.
impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        web_error(self).status_code()
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        web_error(self).error_response()
    }
}

/// The web's reading of an `auth` error (which is not `Clone`).
fn web_error(e: &AuthError) -> WebError {
    match e {
        AuthError::SignedOut { session_ended } => WebError::Unauthorized { session_ended: *session_ended },
        AuthError::NoAccountYet => WebError::NoAccountYet,
        AuthError::NoAccount | AuthError::NoConsoleAccess { .. } | AuthError::CsrfRejected => {
            WebError::Forbidden(e.to_string())
        }
        AuthError::Unavailable(_) => WebError::Unavailable,
        AuthError::Db(diesel::result::Error::NotFound) => WebError::NotFound,
        AuthError::Db(_) | AuthError::Session(_) => WebError::Internal(anyhow::anyhow!("{e}")),
    }
}

/// A 503 (the database or the provider is away for now) says when to try
/// again.
fn retry_later(mut response: HttpResponse) -> HttpResponse {
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("2"));
    }
    response
}

fn html(status: StatusCode, body: askama::Result<String>) -> HttpResponse {
    match body {
        Ok(body) => HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body),
        Err(e) => {
            tracing::error!(error = %e, "could not render an error page");
            HttpResponse::build(status).content_type("text/plain; charset=utf-8").body(status.to_string())
        }
    }
}

/// Middleware: for htmx requests, turns an error into a fragment for the
/// flash area, and a sign-in redirect into `HX-Redirect` (a 303 would be
/// followed by the browser and swapped in as if it were the fragment).
/// A page that polls itself and is gone (404: deleted, or the account was
/// switched in another tab) is loaded again whole instead, so it shows
/// the not-found page once rather than a flash every 2 s.
///
/// A redirect that answers an error (a signed-out request to `/login`, a
/// company without an account to its first account) is how those requests
/// are served, not a failure: it goes on without the error, which the
/// request log would record as one.
pub async fn htmx_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let is_htmx = crate::htmx::is_htmx(req.request());
    let own_page =
        is_htmx && req.method() == actix_web::http::Method::GET && crate::htmx::asks_for_own_page(req.request());
    let res = next.call(req).await?;
    let replacement = match res.response().error() {
        Some(_) if own_page && res.status() == StatusCode::NOT_FOUND => {
            let mut response = HttpResponse::NotFound().finish();
            crate::htmx::refresh(&mut response);
            Some(response)
        }
        Some(e) if is_htmx => e
            .as_error::<WebError>()
            .map(fragment)
            .or_else(|| e.as_error::<AuthError>().map(|e| fragment(&web_error(e)))),
        Some(_) if res.status().is_redirection() => {
            let mut redirect = HttpResponse::build(res.status());
            for (name, value) in res.headers() {
                redirect.append_header((name.clone(), value.clone()));
            }
            Some(redirect.finish())
        }
        _ => None,
    };
    Ok(match replacement {
        Some(response) => res.into_response(response),
        None => res.map_into_boxed_body(),
    })
}

/// Middleware around the session layer: when the session store met a
/// database outage (`auth::session_store::watch`), the answer is a 503 (try
/// again), a page or the flash fragment as for any other error, instead of
/// actix-session's bare 500 or a page served as if signed out.
pub async fn session_outage(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let is_htmx = crate::htmx::is_htmx(req.request());
    match crate::auth::session_store::watch(next.call(req)).await {
        (Ok(res), false) => Ok(res.map_into_boxed_body()),
        (Ok(res), true) => {
            let unavailable = WebError::Unavailable;
            let response = if is_htmx { fragment(&unavailable) } else { unavailable.error_response() };
            Ok(res.into_response(response))
        }
        // Saving the session failed after the request: the request is gone,
        // so actix renders the error itself (the page, without htmx's flash).
        (Err(_), true) => Err(WebError::Unavailable.into()),
        (Err(e), false) => Err(e),
    }
}

fn fragment(error: &WebError) -> HttpResponse {
    if let WebError::Unauthorized { session_ended } = error {
        let to = if *session_ended { "/login?ended=1" } else { "/login" };
        let mut response = HttpResponse::Unauthorized().finish();
        crate::htmx::redirect(&mut response, to);
        return response;
    }
    let status = error.status_code();
    let message = error.message();
    let page = ErrorPage { status: status.as_u16(), title: error.title(), message: &message };
    let body = page.as_flash().render();
    let mut response = retry_later(html(status, body));
    crate::htmx::retarget(&mut response, "#flash", "innerHTML");
    response
}
