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
use actix_web::web::Bytes;

use crate::api::problem::ApiError;
use crate::web::error::WebError;

/// Middleware for the pages: refuses a query string or form body that is
/// not UTF-8 with an error page.
pub async fn require(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    if let Some(what) = not_utf8(&mut req).await? {
        let error = WebError::BadRequest(format!("The {what} is not valid UTF-8 text; send it as UTF-8."));
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

/// What of the request is not UTF-8 text, if any: its address (query
/// string) or its urlencoded form body, which is read and put back.
async fn not_utf8(req: &mut ServiceRequest) -> Result<Option<&'static str>, actix_web::Error> {
    if !is_utf8_urlencoded(req.query_string().as_bytes()) {
        return Ok(Some("address"));
    }
    let form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if form {
        let body = req.extract::<Bytes>().await?;
        let ok = is_utf8_urlencoded(&body);
        req.set_payload(Payload::from(body));
        if !ok {
            return Ok(Some("form"));
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
