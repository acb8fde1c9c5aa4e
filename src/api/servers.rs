//! `/api/v1/servers`: the account's servers, their actions (pause, start,
//! reboot, terminate) and Make Image, through `changes::servers` as the
//! Servers page does.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::ApiUser;
use super::images::Version;
use super::problem::ApiError;
use crate::changes::servers::{NewImage, ownership, progress};
use crate::changes::{self, ChangeError};
use crate::db::{self, servers::ServerFacts, servers::ServerRow};
use crate::domain::access::{Action, Resource};
use crate::domain::images::MadeImageName;
use crate::domain::page::{KeyKind, PageRequest};
use crate::domain::refusal::Refusal;
use crate::domain::servers::{ServerAction, server_actions};
use crate::state::AppState;

/// A server of the token's account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Server {
    pub id: i64,
    pub name: String,
    pub label: String,
    /// `requested`, `pending`, `running`, `ready`, `pausing`, `paused`,
    /// `rebooting`, `terminating`, `terminated` or `failed`.
    pub progress: String,
    /// The provider's instance id, once it has one.
    pub instance_id: Option<String>,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
    pub product_id: String,
    /// The image record it was launched from, if it is still in the
    /// account and the token's user may see it (`IMAGE Access`).
    pub image_id: Option<i64>,
    pub provider_image_id: String,
    pub platform: String,
    pub budget_code: String,
    /// Why the provider refused its last action, if it did.
    pub error: Option<String>,
    pub launched_at: DateTime<Utc>,
    pub ready_at: Option<DateTime<Utc>>,
    /// Sent back with an action (optimistic concurrency).
    pub version: i32,
    /// What the token's user may do to it now: `pause`, `start`, `reboot`,
    /// `terminate`, `make-image` (the paths of these actions under the server).
    pub actions: Vec<String>,
}

impl Server {
    pub(super) fn of(user: &ApiUser, row: ServerRow) -> Self {
        let progress = progress(&row);
        let image_id = row.image_record_seen_by(&user.rights).map(|(id, _)| id);
        Server {
            actions: server_actions(&user.rights, &ownership(&row), progress).into_iter().map(action_path).collect(),
            progress: progress.title().to_owned(),
            id: row.id,
            name: row.name,
            label: row.label,
            instance_id: row.provider_instance_id,
            private_ip: row.private_ip,
            public_ip: row.public_ip,
            product_id: row.product_id,
            image_id,
            provider_image_id: row.provider_image_id,
            platform: row.platform,
            budget_code: row.budget_code,
            error: row.last_error,
            launched_at: row.launched_at,
            ready_at: row.ready_at,
            version: row.version,
        }
    }
}

/// One server, with what its page tells beyond the list's fields: where and
/// how it was launched, who keeps it, what it costs.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerDetail {
    #[serde(flatten)]
    pub server: Server,
    pub description: String,
    /// The data center (availability zone) it was launched in; null when
    /// the provider chose one.
    pub zone: Option<String>,
    /// Its key pair's name; null also when the token's role may not see
    /// key pairs (`KEYPAIR Access`).
    pub key_pair: Option<String>,
    /// The names of its firewalls (those deleted since are left out); null
    /// when the token's role may not see firewalls (`FIREWALL Access`).
    pub firewalls: Option<Vec<String>>,
    /// The name of the user who keeps it.
    pub owner: Option<String>,
    pub group: Option<String>,
    /// What it costs an hour while it runs, in the price table's currency.
    pub hourly_rate: String,
    pub terminated_at: Option<DateTime<Utc>>,
    /// The volume group it was launched with, if any.
    pub volumes: Option<ServerVolumes>,
    /// Its configuration management, if any.
    pub configuration: Option<ServerConfiguration>,
}

/// A server's volume group. The API's own shape, apart from the one the
/// console stores (`domain::servers::KeptVolumes`), so either may change
/// without the other.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerVolumes {
    pub count: u8,
    pub size_gb: u16,
    /// `none`, `0`, `1`, `5` or `10`.
    pub raid: String,
    pub file_system: String,
    pub mount_point: String,
    /// Encrypted by the provider.
    pub encrypt: bool,
}

/// A server's configuration management, as kept: never a script's text
/// or a parameter's value.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerConfiguration {
    /// `script`, `chef`, `puppet` or `ansible`.
    pub kind: String,
    /// The Chef or Puppet server, or the Ansible repository; null for a
    /// script.
    pub source: Option<String>,
    /// Chef's run list, Puppet's classes, or Ansible's playbook.
    pub runs: Vec<String>,
    pub environment: Option<String>,
    /// The names of the parameters given (their values are not kept).
    pub parameters: Vec<String>,
}

impl ServerDetail {
    fn of(user: &ApiUser, row: ServerRow, facts: ServerFacts, firewalls: Vec<String>) -> Self {
        let (volumes, config, owner) = (facts.volumes(), facts.configuration(), facts.keeper());
        ServerDetail {
            server: Server::of(user, row),
            description: facts.description,
            zone: facts.zone,
            key_pair: facts.key_pair_name.filter(|_| user.rights.may(Resource::Keypair, Action::Access)),
            firewalls: user.rights.may(Resource::Firewall, Action::Access).then_some(firewalls),
            owner,
            group: facts.group,
            hourly_rate: facts.hourly_rate.normalized().to_string(),
            terminated_at: facts.terminated_at,
            volumes: volumes.map(|v| ServerVolumes {
                count: v.count,
                size_gb: v.size_gb,
                raid: v.raid,
                file_system: v.file_system,
                mount_point: v.mount_point,
                encrypt: v.encrypt,
            }),
            configuration: config.map(|c| ServerConfiguration {
                kind: c.kind().to_owned(),
                source: c.source().map(str::to_owned),
                runs: c.runs().to_vec(),
                environment: c.environment().map(str::to_owned),
                parameters: c.parameters().to_vec(),
            }),
        }
    }
}

/// The action's path under `/api/v1/servers/{id}/`.
fn action_path(action: ServerAction) -> String {
    match action {
        ServerAction::MakeImage => "make-image".to_owned(),
        other => other.path().to_owned(),
    }
}

/// A page of the account's servers. `next` and `prev` are cursors for
/// `after` and `before`; absent at the ends.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerList {
    /// Newest first, 50 a page: every live server, and those that ended
    /// within a day.
    pub items: Vec<Server>,
    pub next: Option<String>,
    pub prev: Option<String>,
}

/// Which page of the servers.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServerListQuery {
    /// The `next` cursor of the page before.
    pub after: Option<String>,
    /// The `prev` cursor of the page after.
    pub before: Option<String>,
}

/// The account's servers, as the Servers page lists them.
#[utoipa::path(get, operation_id = "list_servers", path = "/api/v1/servers", tag = "servers", params(ServerListQuery),
    responses((status = 200, description = "A page of servers", body = ServerList)))]
#[get("/v1/servers")]
pub async fn list(
    user: ApiUser,
    state: web::Data<AppState>,
    query: web::Query<ServerListQuery>,
) -> Result<web::Json<ServerList>, ApiError> {
    user.require(Resource::Server, Action::Access)?;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let request = PageRequest::from_params(&text(&query.after), &text(&query.before), KeyKind::Id)?;
    let reach = user.rights.reach(Resource::Server, Action::Access);
    let page = db::servers::page(&mut *state.pool.get().await?, user.account.id, &reach, &request).await?;
    let (prev, next) = page.prev_and_next(ServerRow::cursor);
    Ok(web::Json(ServerList { items: page.rows.into_iter().map(|row| Server::of(&user, row)).collect(), next, prev }))
}

/// One server of the account.
#[utoipa::path(get, operation_id = "get_server", path = "/api/v1/servers/{id}", tag = "servers", params(("id" = i64, Path)),
    responses((status = 200, description = "The server", body = ServerDetail)))]
#[get("/v1/servers/{id}")]
pub async fn get(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<ServerDetail>, ApiError> {
    user.require(Resource::Server, Action::Access)?;
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    let row = db::servers::find(&mut conn, user.account.id, id).await?;
    let row = changes::servers::seen(&user.rights, row).ok_or(ApiError::NotFound)?;
    let (facts, firewalls) = db::servers::facts(&mut conn, user.account.id, id).await?;
    Ok(web::Json(ServerDetail::of(&user, row, facts, firewalls)))
}

async fn act(
    user: ApiUser,
    state: &AppState,
    id: i64,
    version: i32,
    action: ServerAction,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    match changes::servers::act(&mut conn, &user.actor(), &state.jobs, id, version, action).await {
        Ok(row) => Ok(HttpResponse::Accepted().json(Server::of(&user, row))),
        Err(ChangeError::Refused(Refusal::ServerChanged { .. })) => {
            let now = db::servers::find(&mut conn, user.account.id, id).await?;
            Err(ApiError::stale(Server::of(&user, now)))
        }
        Err(e) => Err(e.into()),
    }
}

/// Pause a running server (at the provider, through a job).
#[utoipa::path(post, operation_id = "pause_server", path = "/api/v1/servers/{id}/pause", tag = "servers", params(("id" = i64, Path)), request_body = Version,
    responses((status = 202, description = "Pausing: the server as it now is", body = Server)))]
#[post("/v1/servers/{id}/pause")]
pub async fn pause(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<Version>,
) -> Result<HttpResponse, ApiError> {
    act(user, &state, id.into_inner(), body.version, ServerAction::Pause).await
}

/// Start a paused server.
#[utoipa::path(post, operation_id = "start_server", path = "/api/v1/servers/{id}/start", tag = "servers", params(("id" = i64, Path)), request_body = Version,
    responses((status = 202, description = "Starting: the server as it now is", body = Server)))]
#[post("/v1/servers/{id}/start")]
pub async fn start(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<Version>,
) -> Result<HttpResponse, ApiError> {
    act(user, &state, id.into_inner(), body.version, ServerAction::Start).await
}

/// Reboot a running server.
#[utoipa::path(post, operation_id = "reboot_server", path = "/api/v1/servers/{id}/reboot", tag = "servers", params(("id" = i64, Path)), request_body = Version,
    responses((status = 202, description = "Rebooting: the server as it now is", body = Server)))]
#[post("/v1/servers/{id}/reboot")]
pub async fn reboot(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<Version>,
) -> Result<HttpResponse, ApiError> {
    act(user, &state, id.into_inner(), body.version, ServerAction::Reboot).await
}

/// Terminate a server: it is shut down and deleted at the provider, with
/// its volumes.
#[utoipa::path(post, operation_id = "terminate_server", path = "/api/v1/servers/{id}/terminate", tag = "servers", params(("id" = i64, Path)), request_body = Version,
    responses((status = 202, description = "Terminating: the server as it now is", body = Server)))]
#[post("/v1/servers/{id}/terminate")]
pub async fn terminate(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<Version>,
) -> Result<HttpResponse, ApiError> {
    act(user, &state, id.into_inner(), body.version, ServerAction::Terminate).await
}

/// The image to make of a server.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MakeImageBody {
    pub name: String,
    /// One of the user's budget codes.
    pub budget_code_id: i64,
    /// One of the user's groups, or none.
    #[serde(default)]
    pub group_id: Option<i64>,
}

/// An image being made.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImageMaking {
    /// The new record in My images (pending until the provider has made it).
    pub image_id: i64,
    /// The job that asks the provider: poll `/api/v1/jobs/{job_id}`.
    pub job_id: i64,
    pub server: Server,
}

/// Make an image of a server: its record appears in My images at once, as
/// pending, and becomes active when the provider has made it.
#[utoipa::path(post, operation_id = "make_image_of_server", path = "/api/v1/servers/{id}/make-image", tag = "servers", params(("id" = i64, Path)), request_body = MakeImageBody,
    responses((status = 202, description = "The image is being made", body = ImageMaking)))]
#[post("/v1/servers/{id}/make-image")]
pub async fn make_image(
    user: ApiUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<MakeImageBody>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    // Not found and forbidden come before a bad field, as on the page.
    let row = db::servers::find(&mut conn, user.account.id, id).await?;
    changes::servers::check(&user.actor(), &row, ServerAction::MakeImage)?;
    let name = match MadeImageName::parse(&body.name) {
        Ok(name) => name,
        Err(e) => {
            // Every field's problem at once, as the change would list them.
            let mut errors = vec![e];
            let owner = changes::servers::owner_errors(&mut conn, user.user.id, body.budget_code_id, body.group_id);
            errors.extend(owner.await?);
            return Err(ApiError::Invalid(errors));
        }
    };
    let image = NewImage { name, budget_code_id: body.budget_code_id, group_id: body.group_id };
    let made = changes::servers::make_image(&mut conn, &user.actor(), &state.jobs, id, &image).await?;
    Ok(HttpResponse::Accepted().json(ImageMaking {
        image_id: made.image_record_id,
        job_id: made.job_id,
        server: Server::of(&user, made.server),
    }))
}
