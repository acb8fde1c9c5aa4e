//! `GET /servers`: the account's servers with live progress, 50 a page,
//! newest first (`?after=`/`?before=` a server), and what can be done to
//! them: pause, start, reboot, terminate (after a confirm), and make an image
//! of one.
//!
//! `GET /servers/{id}` is a server's own page, with the same actions.
//!
//! A row that is still changing asks for itself every two seconds
//! (`GET /servers/{id}` answers htmx with the row) and stops once it
//! settles; so does the live part of a server's page (`HX-Target:
//! server-live`). Every action is allowed by `domain::servers::server_actions`,
//! the rule that builds the row's menu, and made by `changes::servers`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::dialog::{self, Confirm, VersionForm};
use super::layout::{Frame, Moment};
use super::respond::{FlashFragment, html};
use super::{AppState, is_htmx};
use crate::auth::CurrentUser;
use crate::changes::servers::{NewImage, check, ownership, progress};
use crate::changes::{self, ChangeError};
use crate::db::{self, servers::ServerRow};
use crate::domain::ValidationError;
use crate::domain::access::{Action, Resource};
use crate::domain::images::{Label, MadeImageName, Platform};
use crate::domain::page::{KeyKind, PageRequest};
use crate::domain::refusal::Refusal;
use crate::domain::servers::{KeptConfig, KeptVolumes, Progress, ServerAction, server_actions};
use crate::web::audit_log::EventView;
use crate::web::error::WebError;
use crate::web::pager::{self, PageParams};

/// A server as its row shows it.
pub struct ServerView {
    pub id: i64,
    pub name: String,
    pub label: Label,
    pub platform: Platform,
    pub instance_id: String,
    pub image: String,
    pub address: String,
    pub product: String,
    pub progress: Progress,
    pub error: Option<String>,
    pub launched: Moment,
    pub budget_code: String,
    pub actions: Vec<ServerAction>,
    pub version: i32,
    pub csrf_token: String,
}

impl ServerView {
    /// The launch's progress bar: steps done of 4, while launching.
    pub fn step(&self) -> Option<u8> {
        self.progress.launch_step()
    }

    /// Whether the launch has got as far as step `n`.
    pub fn reached(&self, n: u8) -> bool {
        self.step().is_some_and(|step| step >= n)
    }
}

fn view(user: &CurrentUser, row: ServerRow) -> ServerView {
    let progress = progress(&row);
    let image = row
        .image_record_seen_by(&user.rights)
        .map_or_else(|| row.provider_image_id.clone(), |(_, name)| name.to_owned());
    ServerView {
        id: row.id,
        actions: server_actions(&user.rights, &ownership(&row), progress),
        label: row.label.parse().unwrap_or(Label::None),
        platform: Platform::from_stored(&row.platform),
        instance_id: row.provider_instance_id.unwrap_or_default(),
        image,
        address: row.public_ip.or(row.private_ip).unwrap_or_default(),
        product: row.product_id,
        progress,
        error: row.last_error,
        launched: Moment::new(row.launched_at),
        budget_code: row.budget_code,
        version: row.version,
        csrf_token: user.csrf_token.clone(),
        name: row.name,
    }
}

#[derive(Template)]
#[template(path = "servers/index.html")]
struct ServersPage {
    frame: Frame,
    rows: Vec<ServerView>,
    first_page: bool,
    prev_url: Option<String>,
    next_url: Option<String>,
}

#[derive(Template)]
#[template(path = "servers/row.html")]
struct RowFragment {
    row: ServerView,
}

fn row_html(row: ServerView) -> Result<String, WebError> {
    Ok(RowFragment { row }.render()?)
}

#[get("/servers")]
pub async fn index(
    user: CurrentUser,
    state: web::Data<AppState>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Server, Action::Access)?;
    let request = params.request(KeyKind::Id)?;
    let mut conn = state.pool.get().await?;
    let page =
        db::servers::page(&mut conn, user.account.id, &user.rights.reach(Resource::Server, Action::Access), &request)
            .await?;
    drop(conn);
    let (prev_url, next_url) = pager::links("/servers", &page, ServerRow::cursor);
    html(
        StatusCode::OK,
        ServersPage {
            frame: Frame::new(&user, "/servers"),
            rows: page.rows.into_iter().map(|r| view(&user, r)).collect(),
            first_page: request == PageRequest::First,
            prev_url,
            next_url,
        }
        .render(),
    )
}

/// A server's own page: its state (live while it changes), where it runs
/// and how it was launched, who keeps it and what it costs, its history.
#[derive(Template)]
#[template(path = "servers/show.html", blocks = ["live"])]
struct ServerPage {
    frame: Frame,
    server: ServerView,
    since: Moment,
    ready: Option<Moment>,
    terminated: Option<Moment>,
    /// The image record's page and name, when the user may see it.
    image_record: Option<(String, String)>,
    provider_image_id: String,
    /// "2 CPUs, 8 GiB of memory", while the account's sizes list it.
    size: Option<String>,
    zone: Option<String>,
    private_ip: Option<String>,
    public_ip: Option<String>,
    key_pair: Option<String>,
    firewalls: Vec<String>,
    firewalls_gone: usize,
    /// Whether the role sees key pairs and firewalls (their pages' right):
    /// else the page leaves their names out.
    sees_key_pairs: bool,
    sees_firewalls: bool,
    description: String,
    keeper: Option<String>,
    group: Option<String>,
    hourly_rate: String,
    volumes: Option<KeptVolumes>,
    config: Option<KeptConfig>,
    history: Vec<EventView>,
}

/// How many of a server's events its page shows, newest first.
const HISTORY_SHOWN: i64 = 50;

/// `GET /servers/{id}`: the server's page; for htmx, the part that is
/// polled (the page's live part, or the list's row).
#[get("/servers/{id}")]
pub async fn show(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Server, Action::Access)?;
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    let row = db::servers::find(&mut conn, user.account.id, id).await?;
    let row = changes::servers::seen(&user.rights, row).ok_or(WebError::NotFound)?;
    if is_htmx(&req) && !crate::htmx::targets(&req, "server-live") {
        drop(conn);
        return html(StatusCode::OK, RowFragment { row: view(&user, row) }.render());
    }
    let (facts, firewalls) = db::servers::facts(&mut conn, user.account.id, id).await?;
    let history = db::audit_log::of_resource(
        &mut conn,
        user.account.id,
        Resource::Server.as_str(),
        &id.to_string(),
        HISTORY_SHOWN,
    )
    .await?;
    drop(conn);
    let (keeper, volumes, config) = (facts.keeper(), facts.volumes(), facts.configuration());
    let page = ServerPage {
        frame: Frame::new(&user, "/servers"),
        since: Moment::new(facts.state_since),
        ready: row.ready_at.map(Moment::new),
        terminated: facts.terminated_at.map(Moment::new),
        image_record: row
            .image_record_seen_by(&user.rights)
            .map(|(id, name)| (format!("/images/{id}"), name.to_owned())),
        provider_image_id: row.provider_image_id.clone(),
        size: facts.cpus.zip(facts.ram_mb).map(|(cpus, ram)| size(cpus, ram)),
        zone: facts.zone,
        private_ip: row.private_ip.clone(),
        public_ip: row.public_ip.clone(),
        key_pair: facts.key_pair_name,
        sees_key_pairs: user.rights.may(Resource::Keypair, Action::Access),
        sees_firewalls: user.rights.may(Resource::Firewall, Action::Access),
        firewalls_gone: facts.firewall_ids.len().saturating_sub(firewalls.len()),
        firewalls,
        description: facts.description,
        keeper,
        group: facts.group,
        hourly_rate: facts.hourly_rate.with_scale_round(4, bigdecimal::RoundingMode::HalfUp).to_string(),
        volumes,
        config,
        history: crate::web::audit_log::history_for(&user, history),
        server: view(&user, row),
    };
    let rendered = if is_htmx(&req) { page.as_live().render() } else { page.render() };
    html(StatusCode::OK, rendered)
}

/// "2 CPUs, 8 GiB of memory".
fn size(cpus: i32, ram_mb: i64) -> String {
    let cpus = if cpus == 1 { "1 CPU".to_owned() } else { format!("{cpus} CPUs") };
    format!("{cpus}, {} GiB of memory", crate::domain::launch::gib(ram_mb))
}

/// Where an action on server `id` leads back to: its own page when it was
/// started there (`?from=server`), else the list.
fn back(req: &HttpRequest, id: i64) -> String {
    if from_page(req) { format!("/servers/{id}") } else { "/servers".to_owned() }
}

/// Whether the action was started from the server's own page.
fn from_page(req: &HttpRequest) -> bool {
    #[derive(Deserialize)]
    struct From {
        from: String,
    }
    web::Query::<From>::from_query(req.query_string()).is_ok_and(|q| q.from == "server")
}

/// The server `id` of the account, if the user may do `action` to it now.
async fn target(
    user: &CurrentUser,
    state: &AppState,
    id: i64,
    action: ServerAction,
) -> Result<(ServerRow, ServerView), WebError> {
    let mut conn = state.pool.get().await?;
    let row = db::servers::find(&mut conn, user.account.id, id).await?;
    check(&user.actor(), &row, action)?;
    let shown = view(user, row.clone());
    Ok((row, shown))
}

/// Starts an action at the provider: the server shows the state it moves
/// through, and the job does the rest.
async fn act(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    id: i64,
    version: i32,
    action: ServerAction,
) -> Result<HttpResponse, WebError> {
    let mut conn = state.pool.get().await?;
    let current = match changes::servers::act(&mut conn, &user.actor(), &state.jobs, id, version, action).await {
        Ok(row) => view(user, row),
        // Changed since the page was read: the row as it now is (its menu
        // carries the current version) in place of the stale one, and why,
        // so that trying again can succeed.
        Err(ChangeError::Refused(changed @ Refusal::ServerChanged { .. })) if is_htmx(req) => {
            let now = view(user, db::servers::find(&mut conn, user.account.id, id).await?);
            let flash = FlashFragment::warning(&changed.to_string()).render()?;
            let mut response = html(StatusCode::CONFLICT, Ok(row_html(now)? + &flash))?;
            crate::htmx::close_dialog(&mut response);
            return Ok(response);
        }
        Err(e) => return Err(e.into()),
    };
    let message = match action {
        ServerAction::Pause => format!("Pausing {}", current.name),
        ServerAction::Start => format!("Starting {}", current.name),
        ServerAction::Reboot => format!("Rebooting {}", current.name),
        _ => format!("Terminating {}", current.name),
    };
    let back = back(req, current.id);
    let fragment = if is_htmx(req) { row_html(current)? } else { String::new() };
    dialog::done(req, fragment, &message, &back)
}

/// Pause, Start and Reboot: `POST /servers/{id}/pause`, `/start`, `/reboot`.
#[post("/servers/{id}/{action:pause|start|reboot}")]
pub async fn change(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    form: web::Form<VersionForm>,
) -> Result<HttpResponse, WebError> {
    let (id, action) = path.into_inner();
    let action = match action.as_str() {
        "pause" => ServerAction::Pause,
        "start" => ServerAction::Start,
        _ => ServerAction::Reboot,
    };
    act(&req, &user, &state, id, form.version, action).await
}

#[get("/servers/{id}/terminate")]
pub async fn confirm_terminate(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let (_, shown) = target(&user, &state, id.into_inner(), ServerAction::Terminate).await?;
    let query = if from_page(&req) { "?from=server" } else { "" };
    let dialog = Confirm {
        question: format!("Are you sure you want to terminate {}?", shown.name),
        detail: Some(format!(
            "The server {} is shut down and deleted at the provider, with its volumes. This cannot be undone.",
            if shown.instance_id.is_empty() { &shown.name } else { &shown.instance_id }
        )),
        action_url: format!("/servers/{}/terminate{query}", shown.id),
        target: format!("#server-{}", shown.id),
        back_url: back(&req, shown.id),
        submit: "Terminate",
        danger: true,
        version: shown.version,
        ..Confirm::new(&req, &user, "/servers", format!("{}: Terminate", shown.name))
    };
    dialog.respond(&req, StatusCode::OK)
}

#[post("/servers/{id}/terminate")]
pub async fn terminate(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<VersionForm>,
) -> Result<HttpResponse, WebError> {
    act(&req, &user, &state, id.into_inner(), form.version, ServerAction::Terminate).await
}

/// The Make Image dialog: name, budget code and group of the new image.
#[derive(Template)]
#[template(path = "servers/make_image.html", blocks = ["dialog"])]
struct MakeImageDialog {
    frame: Frame,
    modal: bool,
    server: ServerView,
    name: String,
    budget_code_id: String,
    group_id: String,
    codes: Vec<(i64, String)>,
    groups: Vec<(i64, String)>,
    errors: Vec<ValidationError>,
    csrf_token: String,
    /// Where it posts, and where Cancel leads: the list, or the server's page.
    action_url: String,
    back_url: String,
}

impl MakeImageDialog {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }

    fn render_for(&self, req: &HttpRequest) -> askama::Result<String> {
        if is_htmx(req) { self.as_dialog().render() } else { self.render() }
    }
}

#[derive(Deserialize, Default)]
pub struct MakeImageForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    budget_code_id: String,
    #[serde(default)]
    group_id: String,
}

async fn make_image_dialog(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    server: ServerView,
    form: MakeImageForm,
    errors: Vec<ValidationError>,
) -> Result<MakeImageDialog, WebError> {
    let mut conn = state.pool.get().await?;
    let codes = db::budget::codes_of_user(&mut conn, user.user.id).await?.into_iter().map(|c| (c.id, c.name)).collect();
    let groups = db::launch::groups_of_user(&mut conn, user.user.id).await?;
    Ok(MakeImageDialog {
        frame: Frame::new(user, "/servers"),
        modal: is_htmx(req),
        name: form.name,
        budget_code_id: form.budget_code_id,
        group_id: form.group_id,
        codes,
        groups,
        errors,
        csrf_token: user.csrf_token.clone(),
        action_url: format!("/servers/{}/image{}", server.id, if from_page(req) { "?from=server" } else { "" }),
        back_url: back(req, server.id),
        server,
    })
}

#[get("/servers/{id}/image")]
pub async fn make_image_form(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let (row, shown) = target(&user, &state, id.into_inner(), ServerAction::MakeImage).await?;
    let today = chrono::Utc::now().format("%Y-%m-%d");
    let form = MakeImageForm {
        name: format!("{}-{today}", shown.name),
        budget_code_id: row.budget_code_id.to_string(),
        group_id: row.owner_group_id.map(|g| g.to_string()).unwrap_or_default(),
    };
    let dialog = make_image_dialog(&req, &user, &state, shown, form, Vec::new()).await?;
    dialog::respond(&req, StatusCode::OK, dialog.render_for(&req))
}

#[post("/servers/{id}/image")]
pub async fn make_image(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<MakeImageForm>,
) -> Result<HttpResponse, WebError> {
    let (row, shown) = target(&user, &state, id.into_inner(), ServerAction::MakeImage).await?;
    let form = form.into_inner();
    let mut errors = Vec::new();
    let name = MadeImageName::parse(&form.name).map_err(|e| errors.push(e)).ok();
    let mut conn = state.pool.get().await?;
    let codes = db::budget::codes_of_user(&mut conn, user.user.id).await?;
    let code = codes.iter().find(|c| c.id.to_string() == form.budget_code_id).map(|c| c.id);
    if code.is_none() {
        errors.push(ValidationError::new("budget_code_id", "Choose one of your budget codes."));
    }
    let groups = db::launch::groups_of_user(&mut conn, user.user.id).await?;
    let group = match form.group_id.as_str() {
        "" => None,
        raw => {
            let found = groups.iter().find(|(id, _)| id.to_string() == raw).map(|(id, _)| *id);
            if found.is_none() {
                errors.push(ValidationError::new("group_id", "Choose one of your groups, or none."));
            }
            found
        }
    };
    let (Some(name), Some(code), true) = (name, code, errors.is_empty()) else {
        // The connection goes back before the dialog takes one.
        drop(conn);
        let dialog = make_image_dialog(&req, &user, &state, shown, form, errors).await?;
        return dialog::respond(&req, StatusCode::UNPROCESSABLE_ENTITY, dialog.render_for(&req));
    };
    let image = NewImage { name, budget_code_id: code, group_id: group };
    let made = changes::servers::make_image(&mut conn, &user.actor(), &state.jobs, row.id, &image).await;
    drop(conn);
    let row = match made {
        Ok(made) => made.server,
        Err(ChangeError::Invalid(errors)) => {
            let dialog = make_image_dialog(&req, &user, &state, shown, form, errors).await?;
            return dialog::respond(&req, StatusCode::UNPROCESSABLE_ENTITY, dialog.render_for(&req));
        }
        Err(e) => return Err(e.into()),
    };
    let name = image.name;
    let message = format!("Making image “{}” from {}; it appears in My images as pending", name.as_str(), row.name);
    let back = back(&req, shown.id);
    let fragment = if is_htmx(&req) { row_html(shown)? } else { String::new() };
    dialog::done(&req, fragment, &message, &back)
}
