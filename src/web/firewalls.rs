//! The Firewalls page: `GET /firewalls`, `POST /firewalls` (`name`,
//! `description`), and Delete (`GET`/`POST /firewalls/{id}/delete`).
//!
//! Pages never wait on the provider (PRODUCT 4): a new firewall is written
//! as pending, without its group id, with its audit event and a
//! `create_security_group` job in one transaction; the list shows it as
//! "creating" (and polls) until the job has stored the id. Delete hides the
//! row and queues `delete_security_group`; the provider's `default` group
//! and firewalls of live servers cannot be deleted (`domain::resource`).
//! Names are checked for use in the account under a lock on the account's
//! row (`db::firewalls::lock_names`), as the database cannot hold them
//! unique (see there).
//!
//! Rights: `FIREWALL Access` to see, `Configure` to create, `Delete` to
//! delete. Its Delete dialog is the Key Pairs page's (`keypairs::delete_dialog`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use diesel_async::AsyncConnection as _;
use serde::Deserialize;

use super::dialog::{Confirm, done};
use super::images::{FlashFragment, html};
use super::keypairs::delete_dialog;
use super::layout::Frame;
use super::{AppState, is_htmx, see_other};
use crate::auth::CurrentUser;
use crate::db::{self, audit::NewAuditEvent, firewalls::FirewallRow};
use crate::domain::access::Resource;
use crate::domain::firewall::{DEFAULT, FirewallDescription, FirewallName};
use crate::domain::resource::{DeleteFacts, Deletion, ResourceAction, ResourceState, deletion, may};
use crate::jobs::resources::{CreateSecurityGroup, DeleteSecurityGroup};
use crate::web::error::WebError;

const PAGE: &str = "/firewalls";

fn forbidden(what: &str) -> WebError {
    WebError::Forbidden(format!("Your role in this account does not allow {what} firewalls."))
}

fn event<'a>(user: &CurrentUser, action: &'a str, id: i64, changes: serde_json::Value) -> NewAuditEvent<'a> {
    NewAuditEvent {
        account_id: Some(user.account.id),
        user_id: Some(user.user.id),
        action,
        resource: "FIREWALL",
        resource_id: Some(id.to_string()),
        outcome: "success",
        changes,
    }
}

/// A row of the list.
pub struct FirewallView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub provider_id: Option<String>,
    pub state: ResourceState,
    pub last_error: Option<String>,
    /// Live servers behind it.
    pub used_by: i64,
    pub can_delete: bool,
}

fn delete_facts(row: &FirewallRow, used_by: i64) -> DeleteFacts {
    DeleteFacts { state: ResourceState::from_stored(&row.state), live_servers: used_by, permanent: row.name == DEFAULT }
}

/// The create form as typed, with its messages.
#[derive(Default)]
pub struct FormView {
    pub name: String,
    pub description: String,
    pub name_error: Option<String>,
    pub description_error: Option<String>,
}

#[derive(Template)]
#[template(path = "firewalls/index.html", blocks = ["form", "list"])]
struct FirewallsPage {
    frame: Frame,
    may_create: bool,
    form: FormView,
    rows: Vec<FirewallView>,
    /// Some rows wait for the provider: the list refreshes itself.
    polling: bool,
    /// The list replaces the page's list out of band (after a change).
    oob: bool,
}

async fn page(user: &CurrentUser, state: &AppState, form: FormView) -> Result<FirewallsPage, WebError> {
    let mut conn = state.pool.get().await?;
    let used = db::firewalls::live_servers(&mut conn, user.account.id).await?;
    let rows: Vec<FirewallView> = db::firewalls::list(&mut conn, user.account.id)
        .await?
        .into_iter()
        .map(|row| {
            let used_by = used.get(&row.id).copied().unwrap_or(0);
            let can_delete = deletion(&user.rights, Resource::Firewall, &delete_facts(&row, used_by)).allowed();
            FirewallView {
                id: row.id,
                state: ResourceState::from_stored(&row.state),
                name: row.name,
                description: row.description,
                provider_id: row.provider_id,
                last_error: row.last_error,
                used_by,
                can_delete,
            }
        })
        .collect();
    Ok(FirewallsPage {
        frame: Frame::new(user, PAGE),
        may_create: may(&user.rights, Resource::Firewall, ResourceAction::Create),
        form,
        polling: rows.iter().any(|r| r.state == ResourceState::Pending),
        rows,
        oob: false,
    })
}

#[get("/firewalls")]
pub async fn index(req: HttpRequest, user: CurrentUser, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    if !may(&user.rights, Resource::Firewall, ResourceAction::See) {
        return Err(forbidden("seeing"));
    }
    let page = page(&user, &state, FormView::default()).await?;
    let partial = req.headers().get("HX-Target").is_some_and(|t| t == "firewall-list");
    let body = if partial { page.as_list().render()? } else { page.render()? };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Vary", "HX-Request, HX-Target"))
        .body(body))
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

/// Reads the form; every field's problem at once.
fn parse(form: &CreateForm) -> Result<(FirewallName, FirewallDescription), FormView> {
    match (FirewallName::parse(&form.name), FirewallDescription::parse(&form.description)) {
        (Ok(name), Ok(description)) => Ok((name, description)),
        (name, description) => Err(FormView {
            name: form.name.clone(),
            description: form.description.clone(),
            name_error: name.err().map(|e| e.message),
            description_error: description.err().map(|e| e.message),
        }),
    }
}

/// Why `name` cannot be used, given the state of the firewall that has it.
fn taken(name: &FirewallName, state: &str, user: &CurrentUser) -> String {
    let name = name.as_str();
    match ResourceState::from_stored(state) {
        ResourceState::Deleting => format!("A firewall named “{name}” is being deleted; try again in a moment."),
        ResourceState::Error => format!("The firewall “{name}” could not be created; delete it first to use its name."),
        _ => format!("{} already has a firewall named “{name}”.", user.account.name),
    }
}

#[post("/firewalls")]
pub async fn create(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, WebError> {
    if !may(&user.rights, Resource::Firewall, ResourceAction::Create) {
        return Err(forbidden("creating"));
    }
    let (name, description) = match parse(&form) {
        Ok(valid) => valid,
        Err(view) => return form_answer(&req, &user, &state, view).await,
    };
    let account = user.account.id;
    let mut conn = state.pool.get().await?;
    let written = conn
        .transaction::<_, WebError, _>(async |conn| {
            db::firewalls::lock_names(conn, account).await?;
            if let Some(existing) = db::firewalls::name_taken(conn, account, name.as_str()).await? {
                return Ok(Err(taken(&name, &existing, &user)));
            }
            let row = db::firewalls::NewFirewall {
                account_id: account,
                name: name.as_str(),
                description: description.as_str(),
                state: ResourceState::Pending.as_str(),
            };
            let id = db::firewalls::insert(conn, &row).await?;
            let changes = serde_json::json!({ "name": name.as_str(), "description": description.as_str() });
            db::audit::record(conn, &event(&user, "create", id, changes)).await?;
            let job = CreateSecurityGroup {
                firewall_id: id,
                name: name.as_str().to_owned(),
                description: description.as_str().to_owned(),
            };
            db::jobs::enqueue(conn, &job.job(account, state.job_attempts())).await?;
            Ok(Ok(id))
        })
        .await?;
    if let Err(message) = written {
        let view = FormView {
            name: form.name.clone(),
            description: form.description.clone(),
            name_error: Some(message),
            description_error: None,
        };
        return form_answer(&req, &user, &state, view).await;
    }
    let message = format!("Creating firewall “{}”: it is ready once the provider has it", name.as_str());
    if !is_htmx(&req) {
        crate::auth::current::flash_next(&req, &message)?;
        return Ok(see_other(PAGE));
    }
    let mut page = page(&user, &state, FormView::default()).await?;
    let form = page.as_form().render()?;
    page.oob = true;
    let list = page.as_list().render()?;
    let flash = FlashFragment { message: &message }.render()?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(form + &list + &flash))
}

/// The form again with its messages (422): the form alone for htmx, else
/// the page.
async fn form_answer(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    view: FormView,
) -> Result<HttpResponse, WebError> {
    let page = page(user, state, view).await?;
    html(StatusCode::UNPROCESSABLE_ENTITY, if is_htmx(req) { page.as_form().render() } else { page.render() })
}

/// The firewall `id` of the current account, and the live servers behind
/// it; 404 for another account's id.
async fn target(user: &CurrentUser, state: &AppState, id: i64) -> Result<(FirewallRow, i64), WebError> {
    let mut conn = state.pool.get().await?;
    let row = db::firewalls::find(&mut conn, user.account.id, id).await?;
    let used = db::firewalls::live_servers_using(&mut conn, user.account.id, row.id).await?;
    Ok((row, used))
}

fn dialog(req: &HttpRequest, user: &CurrentUser, row: &FirewallRow, decision: Deletion) -> Confirm {
    let detail = match &row.provider_id {
        Some(group) => format!(
            "The security group {group} is deleted at the cloud provider, with its rules. This cannot be undone."
        ),
        None => "The provider never made it: only its row is removed.".into(),
    };
    delete_dialog(req, user, (PAGE, "#firewall-list", "firewall"), (row.id, &row.name), decision, detail)
}

#[get("/firewalls/{id}/delete")]
pub async fn confirm_delete(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let (row, used) = target(&user, &state, id.into_inner()).await?;
    let decision = deletion(&user.rights, Resource::Firewall, &delete_facts(&row, used));
    if decision == Deletion::Forbidden {
        return Err(forbidden("deleting"));
    }
    dialog(&req, &user, &row, decision).respond(&req, StatusCode::OK)
}

#[post("/firewalls/{id}/delete")]
pub async fn delete(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let (row, _) = target(&user, &state, id.into_inner()).await?;
    let account = user.account.id;
    let mut conn = state.pool.get().await?;
    let decision = conn
        .transaction::<_, WebError, _>(async |conn| {
            // Asked again inside the transaction that acts on the answer.
            let used = db::firewalls::live_servers_using(conn, account, row.id).await?;
            let decision = deletion(&user.rights, Resource::Firewall, &delete_facts(&row, used));
            match (decision, &row.provider_id) {
                (Deletion::Forbidden, _) => return Err(forbidden("deleting")),
                (Deletion::AtProvider, Some(group)) => {
                    if !db::firewalls::mark_deleting(conn, account, row.id).await? {
                        return Ok(Deletion::Busy(ResourceState::Deleting));
                    }
                    let job = DeleteSecurityGroup { firewall_id: row.id, group_id: group.clone() };
                    db::jobs::enqueue(conn, &job.job(account, state.job_attempts())).await?;
                }
                (Deletion::RowOnly, _) => {
                    if !db::firewalls::remove(conn, account, row.id, ResourceState::Error.as_str()).await? {
                        return Ok(Deletion::Busy(ResourceState::Deleting));
                    }
                }
                // An active firewall always has its group id (a CHECK holds it).
                _ => return Ok(if decision.allowed() { Deletion::Busy(ResourceState::Pending) } else { decision }),
            }
            let changes = serde_json::json!({ "name": row.name, "provider_id": row.provider_id });
            db::audit::record(conn, &event(&user, "delete", row.id, changes)).await?;
            Ok(decision)
        })
        .await?;
    if !decision.allowed() {
        return dialog(&req, &user, &row, decision).respond(&req, StatusCode::CONFLICT);
    }
    let message = match decision {
        Deletion::AtProvider => format!("Deleted firewall “{}”; the provider deletes it shortly", row.name),
        _ => format!("Removed firewall “{}”", row.name),
    };
    let list =
        if is_htmx(&req) { page(&user, &state, FormView::default()).await?.as_list().render()? } else { String::new() };
    done(&req, list, &message, PAGE)
}
