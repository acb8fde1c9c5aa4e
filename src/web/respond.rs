//! The kit every page answers with: HTML bodies, the flash, a page or one of
//! its blocks, and the answer to a form that added a row. Pages share this
//! module (and `dialog`) instead of importing each other.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

pub use crate::htmx::{is_htmx, targets};

use super::error::WebError;
use super::see_other;

/// An HTML answer with `status`.
pub fn html(status: StatusCode, body: askama::Result<String>) -> Result<HttpResponse, WebError> {
    Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body?))
}

/// Renders `template` into a buffer of `capacity` bytes: a long page is then
/// written once, instead of copied each time a small buffer doubles.
pub fn render_sized(template: &impl Template, capacity: usize) -> askama::Result<String> {
    let mut html = String::with_capacity(capacity);
    template.render_into(&mut html)?;
    Ok(html)
}

/// A flash message swapped into the page's flash area out of band.
#[derive(Template)]
#[template(
    source = r#"<div id="flash" class="flash-area" aria-live="polite" hx-swap-oob="true"><p class="flash{% if warning %} flash-warn{% endif %}">{{ message }}</p></div>"#,
    ext = "html"
)]
pub struct FlashFragment<'a> {
    message: &'a str,
    warning: bool,
}

impl<'a> FlashFragment<'a> {
    /// What a change did.
    pub fn done(message: &'a str) -> Self {
        Self { message, warning: false }
    }

    /// Why a change was not made (it met a change made meanwhile), shown as
    /// a warning beside the state it met.
    pub fn warning(message: &'a str) -> Self {
        Self { message, warning: true }
    }
}

/// A page, or only its list when htmx asks for the element `list_id` (a list
/// that refreshes itself). The answer varies with those headers.
pub fn page_or_list(
    req: &HttpRequest,
    list_id: &str,
    page: impl FnOnce() -> askama::Result<String>,
    list: impl FnOnce() -> askama::Result<String>,
) -> Result<HttpResponse, WebError> {
    let body = if targets(req, list_id) { list()? } else { page()? };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Vary", "HX-Request, HX-Target"))
        .body(body))
}

/// A form that added something: htmx gets the empty form, the list (out of
/// band) and the flash; a plain form goes back to `page` with the flash.
/// The renderers run only for htmx.
pub async fn added<F>(req: &HttpRequest, page: &str, message: &str, fragments: F) -> Result<HttpResponse, WebError>
where
    F: AsyncFnOnce() -> Result<(String, String), WebError>,
{
    if !is_htmx(req) {
        crate::auth::current::flash_next(req, message)?;
        return Ok(see_other(page));
    }
    let (form, list) = fragments().await?;
    let flash = FlashFragment::done(message).render()?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(form + &list + &flash))
}

/// A form again with its messages (422): the form alone for htmx, else the
/// whole page.
pub fn form_again(
    req: &HttpRequest,
    form: impl FnOnce() -> askama::Result<String>,
    page: impl FnOnce() -> askama::Result<String>,
) -> Result<HttpResponse, WebError> {
    html(StatusCode::UNPROCESSABLE_ENTITY, if is_htmx(req) { form() } else { page() })
}

/// Marks an answer that must not be kept (it shows a secret once).
pub fn no_store(mut response: HttpResponse) -> HttpResponse {
    response
        .headers_mut()
        .insert(actix_web::http::header::CACHE_CONTROL, actix_web::http::header::HeaderValue::from_static("no-store"));
    response
}
