//! Text arrives as UTF-8 or not at all.
//!
//! A urlencoded form or query string whose percent-decoded bytes are not
//! UTF-8 would be read with U+FFFD in place of each bad byte (both
//! `serde_urlencoded` and `serde_html_form` decode lossily), so a name the
//! user never typed could be saved. This middleware answers such a request
//! 400 before any handler reads it.

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::CONTENT_TYPE;
use actix_web::middleware::Next;
use actix_web::web;

use crate::api::problem::ApiError;
use crate::web::error::WebError;

/// Middleware for the pages: refuses a query string or form body that is
/// not UTF-8 with an error page.
pub async fn require(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    if let Some(error) = unreadable(&mut req).await? {
        return Ok(req.error_response(error).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// The same for the API, which answers with a problem document. It reads
/// JSON bodies only (serde_json refuses bad UTF-8 itself): the query string
/// is what needs checking.
pub async fn require_for_api(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    if !is_utf8_urlencoded(req.query_string().as_bytes()) {
        let error = ApiError::BadRequest("The address is not valid UTF-8 text; send it as UTF-8.".into());
        return Ok(req.error_response(error).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Why the request cannot be read, if it cannot: its address (query string)
/// or its urlencoded form body is not UTF-8, or the body is larger than a
/// form may be ([`crate::web::FORM_LIMIT`]). The body is read and put back.
async fn unreadable(req: &mut ServiceRequest) -> Result<Option<WebError>, actix_web::Error> {
    let not_utf8 = |what: &str| WebError::BadRequest(format!("The {what} is not valid UTF-8 text; send it as UTF-8."));
    if !is_utf8_urlencoded(req.query_string().as_bytes()) {
        return Ok(Some(not_utf8("address")));
    }
    let form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if form {
        let Ok(body) = req.extract::<web::Payload>().await?.to_bytes_limited(crate::web::FORM_LIMIT).await else {
            return Ok(Some(WebError::FormTooLarge));
        };
        let body = body?;
        let ok = is_utf8_urlencoded(&body);
        req.set_payload(Payload::from(body));
        if !ok {
            return Ok(Some(not_utf8("form")));
        }
    }
    Ok(None)
}

/// Whether every name and value of `application/x-www-form-urlencoded`
/// text decodes to UTF-8.
fn is_utf8_urlencoded(raw: &[u8]) -> bool {
    raw.split(|b| *b == b'&' || *b == b'=').all(|part| percent_encoding::percent_decode(part).decode_utf8().is_ok())
}

#[cfg(test)]
mod tests {
    use super::is_utf8_urlencoded;

    #[test]
    fn only_utf8_passes() {
        assert!(is_utf8_urlencoded(b"name=caf%C3%A9&q=a+b&empty=&flag"));
        assert!(is_utf8_urlencoded("name=café".as_bytes()));
        assert!(!is_utf8_urlencoded(b"name=caf%E9"), "Latin-1");
        assert!(!is_utf8_urlencoded(b"a=1&%FF%FE=2"), "a bad name");
        assert!(!is_utf8_urlencoded(b"name=\xff"), "a raw bad byte");
    }
}
