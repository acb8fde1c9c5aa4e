//! Pages: one module per page, each with its routes, handlers, forms and
//! askama structs; `templates/` mirrors this folder.

pub mod account;
pub mod admin;
pub mod assets;
pub mod audit_log;
pub mod client_addr;
pub mod dialog;
pub mod error;
pub mod firewalls;
pub mod health;
pub mod images;
pub mod jobs;
pub mod keypairs;
pub mod launch;
pub mod layout;
pub mod login;
pub mod pager;
pub mod resources;
pub mod respond;
pub mod servers;
pub mod settings;
pub mod setup;
pub mod utf8;

use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, web};

use error::WebError;

use crate::auth::CurrentUser;
pub use crate::htmx::is_htmx;
pub use crate::state::AppState;

/// Middleware: a HEAD request is answered as the GET it asks about, without
/// the body (RFC 9110 §9.3.2), so every page and `/healthz` answer a load
/// balancer's or a monitor's HEAD. It is routed as a GET; HTTP/1's encoder,
/// which saw HEAD when it read the request, sends the answer's head only,
/// its `Content-Length` that of the body left out.
pub async fn head_as_get(
    mut req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody + 'static>, actix_web::Error> {
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    next.call(req).await
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(assets::serve)
        .service(health::healthz)
        .service(setup::show)
        .service(setup::submit)
        .service(login::show)
        .service(login::submit)
        .service(login::logout)
        .service(account::switch)
        .service(images::index)
        .service(images::apply_bulk)
        .service(images::ask_bulk_delete)
        .service(images::show)
        .service(images::edit_name)
        .service(images::show_name)
        .service(images::save_name)
        .service(images::label_picker)
        .service(images::actions_menu)
        .service(images::relabel)
        .service(images::confirm_deprecate)
        .service(images::deprecate)
        .service(images::undeprecate)
        .service(images::show_schedule)
        .service(images::save_schedule)
        .service(images::protect)
        .service(images::unprotect)
        .service(images::restore)
        .service(images::confirm_purge)
        .service(images::purge)
        .service(images::confirm_delete)
        .service(images::delete)
        .service(images::show_sharing)
        .service(images::save_sharing)
        .service(launch::show)
        .service(launch::submit)
        .service(launch::estimate)
        .service(launch::create_key)
        .service(servers::index)
        .service(servers::show)
        .service(servers::change)
        .service(servers::confirm_terminate)
        .service(servers::terminate)
        .service(servers::make_image_form)
        .service(servers::make_image)
        .service(keypairs::index)
        .service(keypairs::create)
        .service(keypairs::confirm_delete)
        .service(keypairs::delete)
        .service(firewalls::index)
        .service(firewalls::create)
        .service(firewalls::confirm_delete)
        .service(firewalls::delete)
        .service(firewalls::show)
        .service(firewalls::add_rule)
        .service(firewalls::remove_rule)
        .service(jobs::index)
        .service(admin::users::index)
        .service(admin::users::create)
        .service(admin::users::edit::edit)
        .service(admin::users::edit::update)
        .service(admin::users::row_actions::confirm_row_action)
        .service(admin::users::row_actions::row_action)
        .service(admin::groups::index)
        .service(admin::groups::create)
        .service(admin::groups::edit)
        .service(admin::groups::role_form)
        .service(admin::groups::confirm_delete)
        .service(admin::groups::update)
        .service(admin::groups::set_role)
        .service(admin::groups::delete)
        .service(admin::roles::index)
        .service(admin::roles::create)
        .service(admin::roles::edit)
        .service(admin::roles::rights_form)
        .service(admin::roles::update)
        .service(admin::roles::add_right)
        .service(admin::roles::delete_right)
        .service(admin::roles::confirm_delete)
        .service(admin::roles::delete)
        .service(admin::accounts::index)
        .service(admin::accounts::set_retention)
        .service(admin::accounts::connect)
        .service(admin::accounts::edit)
        .service(admin::accounts::update)
        .service(admin::accounts::set_enabled)
        .service(admin::accounts::delete)
        .service(admin::budget_codes::index)
        .service(admin::budget_codes::create)
        .service(admin::budget_codes::edit)
        .service(admin::budget_codes::update)
        .service(admin::budget_codes::confirm_deactivate)
        .service(admin::budget_codes::deactivate)
        .service(admin::budget_codes::reactivate)
        .service(audit_log::index)
        .service(settings::index)
        .service(settings::create)
        .service(settings::revoke_dialog)
        .service(settings::revoke)
        .route("/", web::get().to(root))
        .default_service(web::to(|| async { Err::<HttpResponse, _>(WebError::NotFound) }));
}

/// `GET /`: Machine Images, as PRODUCT has it; for a user whose rights in
/// the current account do not open that page, the first page they do (as
/// signing in leads there), never a 403.
async fn root(user: Option<CurrentUser>) -> HttpResponse {
    see_other(user.map_or("/images", |user| layout::home(&user.rights)))
}

/// A 303 redirect: after a POST, the browser GETs the target.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((actix_web::http::header::LOCATION, location)).finish()
}

/// Security headers on every response. No inline script anywhere: htmx is
/// configured through a `<meta>` tag and its indicator styles live in our CSS.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        ))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"))
}

/// Malformed forms and query strings are 400s with a readable message.
/// The most a form may send: its fields, and the script or key it carries.
pub const FORM_LIMIT: usize = 64 * 1024;

pub fn form_config() -> web::FormConfig {
    use actix_web::error::UrlencodedError;
    web::FormConfig::default().limit(FORM_LIMIT).error_handler(|e, _| {
        match e {
            UrlencodedError::Overflow { .. } => WebError::FormTooLarge,
            e => WebError::BadRequest(unreadable("form", &e)),
        }
        .into()
    })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|e, _| WebError::BadRequest(unreadable("address", &e)).into())
}

/// What a person is told of a form or an address the console cannot read:
/// the field the parser names, in words, never the parser's own message
/// (kept in the log). A form the console rendered reads; one changed by
/// hand, or left open across a change of the console, may not.
fn unreadable(what: &str, e: &dyn std::fmt::Display) -> String {
    let detail = e.to_string();
    tracing::debug!(what, %detail, "unreadable request");
    let field =
        detail.split('`').nth(1).filter(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    let problem = match field {
        Some(field) if detail.contains("missing field") => format!("it has no “{field}”"),
        Some(field) if detail.contains("duplicate field") => format!("it gives “{field}” more than once"),
        Some(field) if detail.contains("unknown field") => format!("“{field}” is not one of its fields"),
        _ => {
            "one of its values is not of the kind its field takes (a whole number, a date or one of its choices)".into()
        }
    };
    let next = if what == "form" { "Reload the page and send it again." } else { "Open the page from its links." };
    format!("The {what} could not be read: {problem}. {next}")
}

/// An id in the path that is not a number (`/images/abc`, or one past
/// `i64`) names nothing: the page's 404, as an id that does not exist.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_, _| WebError::NotFound.into())
}

/// A urlencoded form whose fields may repeat (`account_ids=1&account_ids=2`,
/// as checkboxes and multiple selects send them), which `web::Form` cannot
/// read. A malformed form is a 400.
pub struct HtmlForm<T>(pub T);

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for HtmlForm<T> {
    type Error = actix_web::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &actix_web::HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = body.await.map_err(|e| match e.as_error::<actix_web::error::PayloadError>() {
                Some(actix_web::error::PayloadError::Overflow) => WebError::FormTooLarge,
                _ => WebError::BadRequest(unreadable("form", &e)),
            })?;
            serde_html_form::from_bytes(&body)
                .map(HtmlForm)
                .map_err(|e| WebError::BadRequest(unreadable("form", &e)).into())
        })
    }
}
