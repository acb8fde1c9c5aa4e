//! Dialogs: a question before an action (or the reason it cannot be done),
//! and the answers every dialog shares. With htmx a dialog opens as a modal
//! in `#modal`; without it, it is a page of its own.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::layout::Frame;
use super::respond::{FlashFragment, html};
use super::{is_htmx, see_other};
use crate::auth::CurrentUser;
use crate::web::error::WebError;

/// The form of an action confirmed in a dialog: the version of the thing
/// it changes, so a stale dialog is a conflict.
#[derive(serde::Deserialize)]
pub struct VersionForm {
    pub version: i32,
}

/// A question before an action, or the reason it cannot be done.
#[derive(Template)]
#[template(path = "confirm.html", blocks = ["dialog"])]
pub struct Confirm {
    pub frame: Frame,
    /// Shown as a modal over the page (htmx) rather than as a page.
    pub modal: bool,
    pub title: String,
    pub question: String,
    /// The provider's ID of what the question is about, shown whole under it.
    pub provider_id: Option<String>,
    pub detail: Option<String>,
    pub error: Option<String>,
    /// Where the form posts, and what the answer replaces (a row).
    pub action_url: String,
    pub target: String,
    /// Where Cancel leads without htmx.
    pub back_url: String,
    pub submit: &'static str,
    pub danger: bool,
    /// False when the action is refused: the dialog only explains.
    pub allowed: bool,
    pub version: i32,
    pub csrf_token: String,
}

impl Confirm {
    /// A question with the page's frame; fill in the rest.
    pub fn new(req: &HttpRequest, user: &CurrentUser, page: &'static str, title: String) -> Self {
        Self {
            frame: Frame::new(user, page),
            modal: is_htmx(req),
            title,
            question: String::new(),
            provider_id: None,
            detail: None,
            error: None,
            action_url: String::new(),
            target: String::new(),
            back_url: page.to_owned(),
            submit: "OK",
            danger: false,
            allowed: true,
            version: 0,
            csrf_token: user.csrf_token.clone(),
        }
    }

    pub fn render_for(&self, req: &HttpRequest) -> askama::Result<String> {
        if is_htmx(req) { self.as_dialog().render() } else { self.render() }
    }

    pub fn respond(&self, req: &HttpRequest, status: StatusCode) -> Result<HttpResponse, WebError> {
        respond(req, status, self.render_for(req))
    }
}

/// A dialog, or its page for browsers without htmx. Problems come back into
/// the dialog (its form targets a row of the page).
pub fn respond(req: &HttpRequest, status: StatusCode, body: askama::Result<String>) -> Result<HttpResponse, WebError> {
    let mut response = html(status, body)?;
    if is_htmx(req) && !status.is_success() {
        crate::htmx::retarget(&mut response, "#modal", "innerHTML");
    }
    Ok(response)
}

/// Done: the changed fragment (a row, or nothing when it is gone) and a
/// flash, and the dialog closes. Without htmx: back to `page` with the flash.
pub fn done(req: &HttpRequest, fragment: String, message: &str, page: &str) -> Result<HttpResponse, WebError> {
    if !is_htmx(req) {
        crate::auth::current::flash_next(req, message)?;
        return Ok(see_other(page));
    }
    let flash = FlashFragment::done(message).render()?;
    let mut response = html(StatusCode::OK, Ok(fragment + &flash))?;
    crate::htmx::close_dialog(&mut response);
    Ok(response)
}
