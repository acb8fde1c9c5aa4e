//! `POST /api/v1/images/{id}/launch`: the launch dialog's launch, checked
//! by the same rules (`domain::launch::validate` against
//! `changes::launch::options`) and written by `changes::launch::launch`.
//! Every field's problem comes back at once in one 422.
//!
//! An `Idempotency-Key` header makes a retried request launch once: the
//! key (scoped to the token) becomes the launch's key, and a second request
//! with it answers with the servers of the first. The key is for one
//! request: sent again with another image or body, it is refused (422)
//! rather than answered with servers that request did not ask for.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::auth::ApiUser;
use super::problem::ApiError;
use super::servers::Server;
use crate::changes::{self, launch::Source};
use crate::db::{self, images::ImageRow, images::PublicImageRow};
use crate::domain::ValidationError;
use crate::domain::cloud_init::{ConfigForm, VolumeForm};
use crate::domain::images::Platform;
use crate::domain::launch::{LaunchInput, validate};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Catalog {
    /// `public` to launch the public catalog's image `id`; else `id` is a
    /// record of the account.
    pub catalog: Option<String>,
}

/// A volume group: several volumes in one RAID, formatted and mounted.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Volumes {
    /// Read as any integer, so that one out of range is refused at its
    /// field (422) as the dialog refuses it, not as an unreadable body.
    #[schema(minimum = 1, maximum = 8)]
    pub count: i64,
    #[schema(minimum = 1, maximum = 1000)]
    pub size_gb: i64,
    /// `none`, `0`, `1`, `5` or `10`.
    pub raid_level: String,
    /// `xfs`, `ext4`, `ext3` or `ext2`.
    pub file_system: String,
    pub mount_point: String,
    #[serde(default)]
    pub encrypt: bool,
}

/// Configuration management at first boot.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Configuration {
    /// `script`, `chef`, `puppet` or `ansible`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub script: String,
    /// The Chef or Puppet server.
    #[serde(default)]
    pub server: String,
    #[serde(default)]
    pub validation_client_name: String,
    /// The Ansible repository.
    #[serde(default)]
    pub repository: String,
    #[serde(default)]
    pub run_list: String,
    #[serde(default)]
    pub puppet_classes: String,
    #[serde(default)]
    pub playbook: String,
    #[serde(default)]
    pub environment: String,
    /// One `name=value` a line.
    #[serde(default)]
    pub parameters: String,
}

/// A launch: the launch dialog's fields.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LaunchBody {
    /// The server's name; with `count` > 1, a number is added to each.
    pub name: String,
    /// Any integer is read; one outside 1 to 20 is refused at `count`.
    #[serde(default = "one")]
    #[schema(minimum = 1, maximum = 20)]
    pub count: i64,
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// One of the user's budget codes.
    pub budget_code_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<i64>,
    /// A data center of the account; any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// The hardware size, e.g. `t3.micro`.
    pub product_id: String,
    #[serde(default)]
    pub firewall_ids: Vec<i64>,
    /// One of the account's key pairs; required for Windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_pair: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Volumes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<Configuration>,
}

fn one() -> i64 {
    1
}

impl LaunchBody {
    /// The body as the form's fields, for the form's checks.
    fn forms(&self) -> (VolumeForm, ConfigForm) {
        let volumes = match &self.volumes {
            None => VolumeForm { volumes: "none".into(), ..VolumeForm::default() },
            Some(v) => VolumeForm {
                volumes: "group".into(),
                volume_count: v.count.to_string(),
                volume_size_gb: v.size_gb.to_string(),
                raid_level: v.raid_level.clone(),
                file_system: v.file_system.clone(),
                mount_point: v.mount_point.clone(),
                encrypt: if v.encrypt { "on".into() } else { String::new() },
            },
        };
        let config = match &self.configuration {
            None => ConfigForm { config_type: "none".into(), ..ConfigForm::default() },
            Some(c) => ConfigForm {
                config_type: c.kind.clone(),
                script: c.script.clone(),
                config_server: c.server.clone(),
                validation_client_name: c.validation_client_name.clone(),
                config_repository: c.repository.clone(),
                run_list: c.run_list.clone(),
                puppet_classes: c.puppet_classes.clone(),
                playbook: c.playbook.clone(),
                config_environment: c.environment.clone(),
                config_parameters: c.parameters.clone(),
            },
        };
        (volumes, config)
    }
}

/// The body's name for a field of the form.
fn field(form_field: &'static str) -> &'static str {
    match form_field {
        "key_choice" | "new_key_name" => "key_pair",
        "volume_count" => "volumes.count",
        "volume_size_gb" => "volumes.size_gb",
        "raid_level" => "volumes.raid_level",
        "file_system" => "volumes.file_system",
        "mount_point" => "volumes.mount_point",
        "encrypt" => "volumes.encrypt",
        "config_type" => "configuration.type",
        "config_server" => "configuration.server",
        "config_repository" => "configuration.repository",
        "config_environment" => "configuration.environment",
        "config_parameters" => "configuration.parameters",
        "script" => "configuration.script",
        "run_list" => "configuration.run_list",
        "puppet_classes" => "configuration.puppet_classes",
        "playbook" => "configuration.playbook",
        "validation_client_name" => "configuration.validation_client_name",
        other => other,
    }
}

/// What a launch queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct Launched {
    pub servers: Vec<Server>,
    /// The launch jobs, one per server: poll `/api/v1/jobs/{id}`.
    pub jobs: Vec<i64>,
    /// This request repeated an `Idempotency-Key` already used: nothing
    /// more was launched, and these are the first request's servers.
    pub replayed: bool,
}

/// The client's `Idempotency-Key` scoped to the token, when it sent one.
fn launch_key(req: &HttpRequest, token: i64) -> Result<Option<uuid::Uuid>, ApiError> {
    let Some(header) = req.headers().get("Idempotency-Key") else { return Ok(None) };
    let key = header.to_str().ok().filter(|k| !k.is_empty() && k.len() <= 255).ok_or_else(|| {
        ApiError::BadRequest("The Idempotency-Key header is 1 to 255 visible ASCII characters.".into())
    })?;
    let digest = Sha256::digest(format!("{token}:{key}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Ok(Some(uuid::Builder::from_random_bytes(bytes).into_uuid()))
}

/// What a launch request asks, as a digest: the image, whether it is the
/// public catalog's, and the body as read, an empty label or zone being
/// none (so spacing, key order, defaults written out and absent options,
/// a field added later among them, do not make another request).
fn request_digest(id: i64, catalog: &Catalog, body: &LaunchBody) -> Vec<u8> {
    let public = catalog.catalog.as_deref() == Some("public");
    let empty_is_none = |o: &Option<String>| o.clone().filter(|v| !v.is_empty());
    let body = LaunchBody { label: empty_is_none(&body.label), zone: empty_is_none(&body.zone), ..body.clone() };
    Sha256::digest(serde_json::to_vec(&(id, public, body)).unwrap_or_default()).to_vec()
}

/// A retried launch: its key must have been used for this request.
async fn same_request(
    conn: &mut diesel_async::AsyncPgConnection,
    key: uuid::Uuid,
    digest: &[u8],
) -> Result<(), ApiError> {
    match db::launch::launch_key_matches(conn, key, digest).await? {
        Some(false) => Err(ApiError::Invalid(vec![ValidationError::new(
            "Idempotency-Key",
            "This Idempotency-Key was used for another launch request: nothing was launched. Send a new key \
             for a new request.",
        )])),
        _ => Ok(()),
    }
}

/// The image a launch starts from: a record of the token's account, or an
/// image of the public catalog of its provider and region.
enum Launchable {
    Record(Box<ImageRow>),
    Public(PublicImageRow),
}

impl Launchable {
    fn source(&self) -> Source<'_> {
        match self {
            Launchable::Record(row) => Source::Record(row),
            Launchable::Public(row) => Source::Public(row),
        }
    }

    fn architecture(&self) -> &str {
        match self {
            Launchable::Record(row) => &row.architecture,
            Launchable::Public(row) => &row.architecture,
        }
    }

    fn windows(&self) -> bool {
        let platform = match self {
            Launchable::Record(row) => &row.platform,
            Launchable::Public(row) => &row.platform,
        };
        Platform::from_stored(platform) == Platform::Windows
    }
}

/// Image `id` as a launch finds it (404 outside the token's account or
/// catalog; an own image in the recycle bin is refused by name, 409), once
/// the user may launch it (the page's rule).
async fn launchable(
    conn: &mut diesel_async::AsyncPgConnection,
    user: &ApiUser,
    id: i64,
    catalog: &Catalog,
) -> Result<Launchable, ApiError> {
    let account = &user.account;
    let image = if catalog.catalog.as_deref() == Some("public") {
        Launchable::Public(db::images::find_public(conn, &account.provider, &account.region, id).await?)
    } else {
        Launchable::Record(Box::new(db::images::find_listed(conn, account.id, id).await?))
    };
    changes::launch::authorize(&user.actor(), image.source())?;
    Ok(image)
}

/// A choice by id.
#[derive(Debug, Serialize, ToSchema)]
pub struct Choice {
    pub id: i64,
    pub name: String,
}

/// A hardware size.
#[derive(Debug, Serialize, ToSchema)]
pub struct Product {
    /// What `product_id` takes, e.g. `t3.micro`.
    pub id: String,
    pub title: String,
    /// US dollars an hour, as a decimal string.
    pub hourly_rate: String,
    /// Why it cannot run this image, if it cannot.
    pub unfit: Option<String>,
}

/// What a launch of this image may choose, as the launch dialog offers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LaunchOptions {
    pub products: Vec<Product>,
    /// For `zone`.
    pub zones: Vec<String>,
    /// For `firewall_ids`: the account's ready firewalls.
    pub firewalls: Vec<Choice>,
    /// For `key_pair`: the account's ready key pairs.
    pub key_pairs: Vec<String>,
    /// For `group_id`.
    pub groups: Vec<Choice>,
    /// For `budget_code_id`: the user's codes that may take a launch now.
    pub budget_codes: Vec<Choice>,
}

/// What a launch of an image may choose: sizes, zones, firewalls, key
/// pairs, groups and budget codes.
#[utoipa::path(get, operation_id = "get_launch_options", path = "/api/v1/images/{id}/launch", tag = "images",
    params(("id" = i64, Path), Catalog),
    responses((status = 200, description = "The choices", body = LaunchOptions),
              (status = 409, description = "The image is not available at the provider (pending, failed…)",
               body = super::problem::Problem, content_type = "application/problem+json")))]
#[get("/v1/images/{id}/launch")]
pub async fn launch_options(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    catalog: web::Query<Catalog>,
) -> Result<web::Json<LaunchOptions>, ApiError> {
    let mut conn = state.pool.get().await?;
    let image = launchable(&mut conn, &user, id.into_inner(), &catalog).await?;
    let options = changes::launch::options(&mut conn, &user.actor(), image.architecture(), image.windows()).await?;
    let choices = |list: Vec<(i64, String)>| list.into_iter().map(|(id, name)| Choice { id, name }).collect();
    Ok(web::Json(LaunchOptions {
        products: options
            .products
            .into_iter()
            .map(|p| Product { id: p.id, title: p.title, hourly_rate: p.rate.normalized().to_string(), unfit: p.unfit })
            .collect(),
        zones: options.zones,
        firewalls: options.firewalls.into_iter().map(|(id, name, _)| Choice { id, name }).collect(),
        key_pairs: options.key_pairs,
        groups: choices(options.groups),
        budget_codes: options.codes.into_iter().map(|c| Choice { id: c.id, name: c.name }).collect(),
    }))
}

/// Launch servers from an image of the account, or from the public catalog
/// (`?catalog=public`).
#[utoipa::path(post, operation_id = "launch_image", path = "/api/v1/images/{id}/launch", tag = "images",
    params(("id" = i64, Path), Catalog,
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried request launch once; the same key with another request is refused (422)")),
    request_body = LaunchBody,
    responses((status = 202, description = "Launching", body = Launched)))]
#[post("/v1/images/{id}/launch")]
pub async fn launch(
    req: HttpRequest,
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    catalog: web::Query<Catalog>,
    body: web::Json<LaunchBody>,
) -> Result<HttpResponse, ApiError> {
    let given = launch_key(&req, user.token.id)?;
    let key = given.unwrap_or_else(uuid::Uuid::new_v4);
    let id = id.into_inner();
    let body = body.into_inner();
    let digest = request_digest(id, &catalog, &body);
    let actor = user.actor();
    let account = &user.account;
    let mut conn = state.pool.get().await?;
    let image = launchable(&mut conn, &user, id, &catalog).await?;
    // A retry of a launch that was made answers as it did, whatever the
    // budget says now (the first launch is in it).
    if db::jobs::key_used(&mut conn, &format!("{key}/1")).await? {
        same_request(&mut conn, key, &digest).await?;
        return launched_answer(&user, &mut conn, key, true).await;
    }
    let windows = image.windows();
    let options = changes::launch::options(&mut conn, &actor, image.architecture(), windows).await?;

    let (volumes, config) = body.forms();
    let strings = |ids: &[i64]| ids.iter().map(i64::to_string).collect::<Vec<_>>();
    let firewall_ids = strings(&body.firewall_ids);
    let (count, budget_code_id) = (body.count.to_string(), body.budget_code_id.to_string());
    let group_id = body.group_id.map(|g| g.to_string()).unwrap_or_default();
    let input = LaunchInput {
        name: &body.name,
        count: &count,
        description: &body.description,
        label: body.label.as_deref().unwrap_or_default(),
        budget_code_id: &budget_code_id,
        group_id: &group_id,
        zone: body.zone.as_deref().unwrap_or_default(),
        product_id: &body.product_id,
        firewall_ids: &firewall_ids,
        key_choice: if body.key_pair.is_some() { "existing" } else { "none" },
        key_pair: body.key_pair.as_deref().unwrap_or_default(),
        volumes: &volumes,
        config: &config,
    };
    let checked = validate(&input, windows, &options, changes::launch::encryption(account));
    let launch = checked.map_err(invalid)?;
    let request = given.map(|_| changes::launch::KeyedRequest { token_id: user.token.id, digest: &digest });
    let done = changes::launch::launch(&mut conn, &actor, &state.jobs, image.source(), &launch, key, request.as_ref())
        .await
        .map_err(|e| match e {
            changes::ChangeError::Invalid(errors) => invalid(errors),
            other => other.into(),
        })?;
    // Launched meanwhile under the key, by a request that committed its
    // digest with its jobs: this one must be the same.
    if done.again {
        same_request(&mut conn, key, &digest).await?;
    }
    launched_answer(&user, &mut conn, key, done.again).await
}

/// The servers and jobs a launch made under `key`.
async fn launched_answer(
    user: &ApiUser,
    conn: &mut diesel_async::AsyncPgConnection,
    key: uuid::Uuid,
    replayed: bool,
) -> Result<HttpResponse, ApiError> {
    let account = user.account.id;
    let mut servers = Vec::new();
    let mut jobs = Vec::new();
    for (job, server) in db::jobs::launched_under(conn, account, &key.to_string()).await? {
        jobs.push(job);
        if let Some(server) = server {
            servers.push(Server::of(user, db::servers::find(conn, account, server).await?));
        }
    }
    Ok(HttpResponse::Accepted().json(Launched { servers, jobs, replayed }))
}

/// The form's field problems under the body's names.
fn invalid(errors: Vec<ValidationError>) -> ApiError {
    ApiError::Invalid(errors.into_iter().map(|e| ValidationError { field: field(e.field), ..e }).collect())
}
