//! The JSON API under `/api/v1` (PRODUCT 7.3): the pages' lists and
//! changes for scripts and pipelines. Every handler calls the very change
//! function its page calls (`changes::*`), with the same access decision;
//! none writes a change of its own.
//!
//! Authentication is a personal access token (`auth`), errors are problem
//! documents (`problem`), and the OpenAPI 3.1 description is derived from
//! these handlers and their types ([`ApiDoc`]), served at
//! `/api/v1/openapi.json` and rendered for people at `/api/docs` (`docs`).

pub mod activity;
pub mod auth;
mod docs;
pub mod images;
pub mod launch;
pub mod problem;
pub mod resources;
pub mod servers;

use std::sync::LazyLock;

use actix_web::dev::ResourceDef;
use actix_web::http::Method;
use actix_web::{HttpResponse, get, web};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, ResponseBuilder};

pub use auth::{ApiUser, RateLimit};
pub use problem::ApiError;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Stratus Console API",
        description = "Machine images, servers and what they need, for scripts and pipelines. \
            Authenticate with a personal access token (Settings › API tokens) as `Authorization: Bearer stc_…`. \
            A token acts for its user in one account, with that user's rights there; a read-only token changes nothing. \
            Errors are RFC 9457 problem documents.",
        version = "1"
    ),
    paths(
        images::list, images::get, images::update, images::deprecate, images::undeprecate, images::protect, images::unprotect,
        images::restore, images::purge, images::schedule, images::remove,
        images::sharing, images::share, images::search_public, launch::launch_options, launch::launch,
        servers::list, servers::get, servers::pause, servers::start, servers::reboot, servers::terminate,
        servers::make_image,
        resources::key_pairs, resources::create_key_pair, resources::delete_key_pair,
        resources::firewalls, resources::create_firewall, resources::delete_firewall,
        resources::get_firewall, resources::add_firewall_rule, resources::remove_firewall_rule,
        activity::get_job, activity::audit_events,
    ),
    components(schemas(problem::Problem, problem::FieldProblem)),
    modifiers(&Conventions),
    security(("bearer" = [])),
    tags(
        (name = "images", description = "Image records of the token's account, the public catalog, and launching"),
        (name = "servers", description = "Servers of the token's account and their actions"),
        (name = "key pairs and firewalls", description = "What a launch uses"),
        (name = "activity", description = "Provider jobs (poll a change until the provider has done it) and the audit log"),
    )
)]
pub struct ApiDoc;

/// The problems an operation may answer, in order of status; those in
/// [`CHANGES_ONLY`] only from a change, those in [`BODIES_ONLY`] only from
/// an operation with a request body.
pub const PROBLEMS: &[(&str, &str)] = &[
    ("400", "The request could not be read"),
    ("401", "No token, or one that is malformed, unknown, expired or revoked"),
    ("403", "The token's user may not do this here, or the token is read-only"),
    ("404", "Not in the token's account"),
    ("409", "Changed meanwhile (`current` has it as it now is), or refused by the rules now"),
    ("413", "The body is larger than 256 KiB"),
    ("415", "The body is not sent as `application/json`"),
    ("422", "A field breaks a rule; every field's problem is in `errors`"),
    ("429", "Past the token's rate; `Retry-After` says when to try again"),
    ("502", "The provider refused or failed a call this change waited for"),
    ("503", "The database or the provider is not answering; try again"),
];
const CHANGES_ONLY: &[&str] = &["409", "502"];
/// Those only an operation that takes a body answers.
const BODIES_ONLY: &[&str] = &["413", "415"];

/// What every operation shares: the bearer scheme, and the problem
/// documents any request may answer (and a change's conflicts).
struct Conventions;

impl utoipa::Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("stc_…").build()),
        );
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(problem::CONTENT_TYPE, Content::new(Some(Ref::from_schema_name("Problem"))))
                .build()
        };
        let of = |list: &[&str], status: &str| list.contains(&status);
        for item in openapi.paths.paths.values_mut() {
            let reads = [&mut item.get].into_iter().flatten();
            let writes = [&mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten();
            for (operation, changing) in reads.map(|o| (o, false)).chain(writes.map(|o| (o, true))) {
                let body = operation.request_body.is_some();
                let add = PROBLEMS.iter().filter(|(status, _)| {
                    (changing || !of(CHANGES_ONLY, status)) && (body || !of(BODIES_ONLY, status))
                });
                for &(status, description) in add {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| problem(description).into());
                }
            }
        }
    }
}

/// The API's routes, with their own extractors' error handling: every
/// error, a body that cannot be read included, is a problem document.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(problem::json_config())
        .app_data(problem::query_config())
        .app_data(problem::path_config())
        .service(openapi_json)
        .service(docs::page)
        .service(images::list)
        .service(images::search_public)
        .service(images::get)
        .service(images::update)
        .service(images::remove)
        .service(images::deprecate)
        .service(images::undeprecate)
        .service(images::protect)
        .service(images::unprotect)
        .service(images::restore)
        .service(images::purge)
        .service(images::schedule)
        .service(images::sharing)
        .service(images::share)
        .service(launch::launch_options)
        .service(launch::launch)
        .service(servers::list)
        .service(servers::get)
        .service(servers::pause)
        .service(servers::start)
        .service(servers::reboot)
        .service(servers::terminate)
        .service(servers::make_image)
        .service(resources::key_pairs)
        .service(resources::create_key_pair)
        .service(resources::delete_key_pair)
        .service(resources::firewalls)
        .service(resources::create_firewall)
        .service(resources::delete_firewall)
        .service(resources::get_firewall)
        .service(resources::add_firewall_rule)
        .service(resources::remove_firewall_rule)
        .service(activity::get_job)
        .service(activity::audit_events);
}

/// The OpenAPI 3.1 description of this API.
#[get("/v1/openapi.json")]
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

/// The methods each path of the API answers: its description's, and GET
/// for the description itself and its page.
static METHODS: LazyLock<Vec<(ResourceDef, Vec<Method>)>> = LazyLock::new(|| {
    let described = ApiDoc::openapi().paths.paths.into_iter().map(|(path, item)| {
        let methods = [
            (Method::GET, item.get.is_some()),
            (Method::POST, item.post.is_some()),
            (Method::PUT, item.put.is_some()),
            (Method::PATCH, item.patch.is_some()),
            (Method::DELETE, item.delete.is_some()),
        ];
        (
            ResourceDef::new(path),
            methods.into_iter().filter_map(|(method, answered)| answered.then_some(method)).collect(),
        )
    });
    let open = auth::OPEN_PATHS.map(|path| (ResourceDef::new(path), vec![Method::GET]));
    described.chain(open).collect()
});

/// The methods `path` answers, or `None` when it is no path of the API: a
/// path asked with another method is answered 405, not 404.
pub fn methods_of(path: &str) -> Option<&'static [Method]> {
    METHODS.iter().find(|(def, _)| def.is_match(path)).map(|(_, methods)| methods.as_slice())
}

/// Anything else under `/api/`: a problem, not a page.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
