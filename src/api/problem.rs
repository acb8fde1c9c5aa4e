//! Errors as RFC 9457 problem documents (`application/problem+json`): the
//! API's one mapping of a change's outcome to a status, beside the pages'
//! (`web::error`), whose statuses it shares.

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::changes::ChangeError;
use crate::cloud::CloudError;
use crate::db::{Outage, PoolError};
use crate::domain::ValidationError;
use crate::domain::access::Forbidden;
use crate::domain::refusal::Refusal;
use crate::web::error::refusal_status;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// A problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status and title say what happened.
    #[serde(rename = "type")]
    #[schema(example = "about:blank")]
    pub kind: &'static str,
    #[schema(example = "Not found")]
    pub title: &'static str,
    #[schema(example = 404)]
    pub status: u16,
    /// What happened, in words for a person.
    pub detail: String,
    /// Every field's problem, for 422.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// The resource as it now is, for 409 after a stale `version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<serde_json::Value>,
}

/// A field's problem.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    /// A path of the API asked with a method it does not answer.
    #[error("method not allowed")]
    MethodNotAllowed { allowed: &'static [Method] },
    #[error("{0}")]
    BadRequest(String),
    /// A body that is not JSON by its `Content-Type`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("invalid input")]
    Invalid(Vec<ValidationError>),
    /// Changed meanwhile: a stale version, with the resource as it now is.
    #[error("{detail}")]
    Stale { detail: String, current: Option<serde_json::Value> },
    #[error(transparent)]
    Refused(Refusal),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error(transparent)]
    Provider(CloudError),
    #[error("the database is not available")]
    Unavailable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A stale version, told with the resource as it now is.
    pub fn stale(current: impl Serialize) -> Self {
        ApiError::Stale {
            detail: "It was changed meanwhile: here it is as it now is; send your change again with its version."
                .into(),
            current: serde_json::to_value(current).ok(),
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "Unauthorized",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::NotFound => "Not found",
            ApiError::MethodNotAllowed { .. } => "Method not allowed",
            ApiError::BadRequest(_) => "Bad request",
            ApiError::UnsupportedMediaType => "Unsupported media type",
            ApiError::PayloadTooLarge => "Content too large",
            ApiError::Invalid(_) => "Invalid input",
            ApiError::Stale { .. } => "Changed meanwhile",
            // A refusal at a field is answered as invalid input, as its status says.
            ApiError::Refused(refusal) if refusal_status(refusal) == StatusCode::UNPROCESSABLE_ENTITY => {
                "Invalid input"
            }
            ApiError::Refused(refusal) if refusal_status(refusal) == StatusCode::FORBIDDEN => "Forbidden",
            ApiError::Refused(_) => "Refused",
            ApiError::TooManyRequests { .. } => "Too many requests",
            ApiError::Provider(_) => "The cloud provider did not do it",
            ApiError::Unavailable => "Temporarily unavailable",
            ApiError::Internal(_) => "Internal error",
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::Unauthorized(m) | ApiError::Forbidden(m) | ApiError::BadRequest(m) => m.clone(),
            ApiError::NotFound => "There is no such resource in the token's account.".into(),
            ApiError::MethodNotAllowed { allowed } => format!("This path answers {} only.", method_list(allowed)),
            ApiError::UnsupportedMediaType => "Send the body as JSON, with `Content-Type: application/json`.".into(),
            ApiError::PayloadTooLarge => format!("The body is larger than {} KiB.", BODY_LIMIT / 1024),
            ApiError::Invalid(errors) => errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join(" "),
            ApiError::Stale { detail, .. } => detail.clone(),
            ApiError::Refused(refusal) => refusal.message(),
            ApiError::TooManyRequests { retry_after_secs } => {
                format!("This token sent more requests than its rate allows; try again in {retry_after_secs} s.")
            }
            ApiError::Provider(e) => e.to_string(),
            ApiError::Unavailable => "The database is not answering. Try again in a moment.".into(),
            ApiError::Internal(_) => "The console could not complete this request. It has been logged.".into(),
        }
    }

    fn errors(&self) -> Vec<FieldProblem> {
        let problem = |field: &str, message: String| FieldProblem { field: field.to_owned(), message };
        match self {
            ApiError::Invalid(errors) => errors.iter().map(|e| problem(e.field, e.message.clone())).collect(),
            ApiError::Refused(refusal) => {
                refusal.field().map(|f| vec![problem(f, refusal.message())]).unwrap_or_default()
            }
            _ => Vec::new(),
        }
    }

    pub fn problem(&self) -> Problem {
        Problem {
            kind: "about:blank",
            title: self.title(),
            status: self.status_code().as_u16(),
            detail: self.detail(),
            errors: self.errors(),
            current: match self {
                ApiError::Stale { current, .. } => current.clone(),
                _ => None,
            },
        }
    }
}

fn method_list(methods: &[Method]) -> String {
    methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", ")
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Stale { .. } => StatusCode::CONFLICT,
            ApiError::Refused(refusal) => refusal_status(refusal),
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Provider(CloudError::Unreachable(_) | CloudError::Busy(_)) | ApiError::Unavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Provider(_) => StatusCode::BAD_GATEWAY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Internal(e) => tracing::error!(error = ?e, "an API request failed"),
            ApiError::Provider(e) => tracing::warn!(error = %e, "the provider failed an API request"),
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.content_type(CONTENT_TYPE);
        match self {
            ApiError::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"stratus-console\""));
            }
            ApiError::TooManyRequests { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::MethodNotAllowed { allowed } => {
                response.insert_header((header::ALLOW, method_list(allowed)));
            }
            // The database or the provider is away for now: when to try again, as the pages say.
            _ if self.status_code() == StatusCode::SERVICE_UNAVAILABLE => {
                response.insert_header((header::RETRY_AFTER, "2"));
            }
            _ => {}
        }
        response.body(serde_json::to_string(&self.problem()).expect("a problem document always serializes"))
    }
}

impl From<ChangeError> for ApiError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::Invalid(errors) => ApiError::Invalid(errors),
            ChangeError::Refused(refusal) => ApiError::Refused(refusal),
            ChangeError::Forbidden(e) => e.into(),
            ChangeError::NotFound => ApiError::NotFound,
            ChangeError::Provider(e) => ApiError::Provider(e),
            ChangeError::Db(e) => e.into(),
            ChangeError::Unavailable(_) => ApiError::Unavailable,
        }
    }
}

impl From<Forbidden> for ApiError {
    fn from(e: Forbidden) -> Self {
        ApiError::Forbidden(e.message().to_owned())
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::Invalid(vec![e])
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => ApiError::NotFound,
            other if Outage::of(&other).is_some() => ApiError::Unavailable,
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<PoolError> for ApiError {
    fn from(_: PoolError) -> Self {
        ApiError::Unavailable
    }
}

impl From<Outage> for ApiError {
    fn from(_: Outage) -> Self {
        ApiError::Unavailable
    }
}

/// The largest body a request may send.
const BODY_LIMIT: usize = 256 * 1024;

/// Bodies, query strings and paths that cannot be read are problems too.
pub fn json_config() -> actix_web::web::JsonConfig {
    use actix_web::error::JsonPayloadError;
    actix_web::web::JsonConfig::default().limit(BODY_LIMIT).error_handler(|e, _| {
        match e {
            JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                ApiError::PayloadTooLarge
            }
            e => ApiError::BadRequest(format!("The JSON body could not be read: {}", plain(&e))),
        }
        .into()
    })
}

pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default()
        .error_handler(|e, _| ApiError::BadRequest(format!("The query string could not be read: {}", plain(&e))).into())
}

/// A parser's message as a client of the API reads it: what is wrong and
/// where, without the parser's name or Rust's names for number types.
fn plain(e: &dyn std::fmt::Display) -> String {
    let detail = e.to_string();
    let detail = ["Json deserialize error: ", "Query deserialize error: "]
        .iter()
        .find_map(|prefix| detail.strip_prefix(prefix))
        .unwrap_or(&detail);
    const WORDS: [(&str, &str); 10] = [
        ("expected i32", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected u16", "expected a whole number of at least 0"),
        ("expected u32", "expected a whole number of at least 0"),
        ("expected u64", "expected a whole number of at least 0"),
        ("expected usize", "expected a whole number of at least 0"),
        ("expected f64", "expected a number"),
        ("number too large to fit in target type", "a number is too large"),
        ("invalid digit found in string", "a number has a character that is not a digit"),
        ("cannot parse integer from empty string", "a number is empty"),
    ];
    WORDS.iter().fold(detail.to_owned(), |text, (from, to)| text.replace(from, to))
}

pub fn path_config() -> actix_web::web::PathConfig {
    actix_web::web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into())
}
