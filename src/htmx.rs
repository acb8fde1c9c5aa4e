//! What htmx tells the server about a request.

/// Whether htmx sent the request (it then wants a fragment, not a page).
pub fn is_htmx(req: &actix_web::HttpRequest) -> bool {
    req.headers().contains_key("HX-Request")
}

/// Whether htmx asked for the element `id` alone (its `HX-Target`), as a
/// list that refreshes itself does.
pub fn targets(req: &actix_web::HttpRequest, id: &str) -> bool {
    req.headers().get("HX-Target").is_some_and(|t| t == id)
}
