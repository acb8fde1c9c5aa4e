//! What htmx tells the server about a request, and what the server tells
//! htmx to do with its answer.

use actix_web::HttpResponse;
use actix_web::http::header::{HeaderName, HeaderValue};

/// Whether htmx sent the request (it then wants a fragment, not a page).
pub fn is_htmx(req: &actix_web::HttpRequest) -> bool {
    req.headers().contains_key("HX-Request")
}

/// Whether htmx asked for the element `id` alone (its `HX-Target`), as a
/// list that refreshes itself does.
pub fn targets(req: &actix_web::HttpRequest, id: &str) -> bool {
    req.headers().get("HX-Target").is_some_and(|t| t == id)
}

/// Whether htmx asked for the page it is on (a page that polls itself): the
/// request's path is that of `HX-Current-URL`.
pub fn asks_for_own_page(req: &actix_web::HttpRequest) -> bool {
    req.headers()
        .get("HX-Current-URL")
        .and_then(|current| current.to_str().ok())
        .and_then(|current| url::Url::parse(current).ok())
        .is_some_and(|current| current.path() == req.path())
}

/// Has the browser load the page it is on again, whole (`HX-Refresh`).
pub fn refresh(response: &mut HttpResponse) {
    response.headers_mut().insert(HeaderName::from_static("hx-refresh"), HeaderValue::from_static("true"));
}

/// Has htmx swap the answer into `target` (a selector) by `swap`, in place
/// of where the request aimed it: a dialog again in `#modal`, a refusal in
/// the list.
pub fn retarget(response: &mut HttpResponse, target: &'static str, swap: &'static str) {
    let headers = response.headers_mut();
    headers.insert(HeaderName::from_static("hx-retarget"), HeaderValue::from_static(target));
    headers.insert(HeaderName::from_static("hx-reswap"), HeaderValue::from_static(swap));
}

/// Has htmx swap nothing where the request aimed: the answer carries only
/// what goes elsewhere (out of band, like the flash).
pub fn swap_nothing(response: &mut HttpResponse) {
    response.headers_mut().insert(HeaderName::from_static("hx-reswap"), HeaderValue::from_static("none"));
}

/// Has htmx load the page `to` whole, in place of swapping the answer.
pub fn redirect(response: &mut HttpResponse, to: &'static str) {
    response.headers_mut().insert(HeaderName::from_static("hx-redirect"), HeaderValue::from_static(to));
}

/// Closes the dialog open over the page when the answer arrives (app.js
/// listens for the `close-dialog` event).
pub fn close_dialog(response: &mut HttpResponse) {
    response.headers_mut().insert(HeaderName::from_static("hx-trigger"), HeaderValue::from_static("close-dialog"));
}
