//! The Groups page (`/admin/groups`): the company's groups with their role
//! in the current account; add, edit, delete (refused while the group has
//! members) and Set Role (0 or 1 role per group per account).
//!
//! Rights (`domain::admin`): `GROUP Access` to see the page, `GROUP
//! Configure` to add, edit and set the role, `GROUP Delete` to delete. Setting
//! a role is refused with 403 when the role holds a right the acting user
//! does not hold in this account (no escalation), and with 409 when taking
//! a role away would leave the company without an active administrator.
//! Each change and its audit event are one transaction.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use diesel_async::AsyncConnection as _;
use serde::Deserialize;

use super::users::{AdminError, admin_must_remain, changed, escalation_check, event, require};
use crate::auth::CurrentUser;
use crate::db::{self, admin::GroupRow};
use crate::domain::ValidationError;
use crate::domain::access::{AccessRight, Resource};
use crate::domain::admin::{AdminAction, description, may, name};
use crate::web::dialog::{self, Confirm};
use crate::web::error::WebError;
use crate::web::layout::Frame;
use crate::web::respond::{FlashFragment, html};
use crate::web::{AppState, is_htmx, see_other};

const PAGE: &str = "/admin/groups";

/// A name-and-description form (groups and roles) as typed, with its
/// messages.
#[derive(Default)]
pub struct NameForm {
    pub name: String,
    pub description: String,
    pub name_error: Option<String>,
    pub description_error: Option<String>,
    pub error: Option<String>,
}

impl NameForm {
    pub(super) fn typed(form: &NameInput) -> Self {
        Self { name: form.name.clone(), description: form.description.clone(), ..Self::default() }
    }

    /// Puts the error where it belongs; its status, or the error itself
    /// when no form shows it.
    pub(super) fn set_error(&mut self, e: AdminError) -> Result<StatusCode, WebError> {
        match e {
            AdminError::Invalid(invalid) if invalid.field == "description" => {
                self.description_error = Some(invalid.message);
                Ok(StatusCode::UNPROCESSABLE_ENTITY)
            }
            AdminError::Invalid(invalid) => {
                self.name_error = Some(invalid.message);
                Ok(StatusCode::UNPROCESSABLE_ENTITY)
            }
            AdminError::Refused(reason) => {
                self.error = Some(reason);
                Ok(StatusCode::CONFLICT)
            }
            AdminError::Web(e) => Err(e),
        }
    }
}

#[derive(Deserialize)]
pub struct NameInput {
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) description: String,
}

impl NameInput {
    /// `(name, description)` when both pass the rules; `what` names the
    /// thing in messages ("group name").
    pub(super) fn parse(&self, what: &str) -> Result<(String, String), AdminError> {
        let name = name("name", &self.name, what).map_err(AdminError::Invalid)?;
        let description = description(&self.description).map_err(AdminError::Invalid)?;
        Ok((name, description))
    }
}

/// A row of the list.
pub struct GroupView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub role: Option<String>,
    pub members: i64,
}

#[derive(Template)]
#[template(path = "admin/groups.html", blocks = ["form", "list"])]
struct GroupsPage {
    frame: Frame,
    may_change: bool,
    may_delete: bool,
    /// Always false here: the shared name field locks only default roles.
    name_locked: bool,
    form: NameForm,
    rows: Vec<GroupView>,
    oob: bool,
}

async fn page(user: &CurrentUser, state: &AppState, form: NameForm) -> Result<GroupsPage, WebError> {
    let mut conn = state.pool.get().await?;
    let rows = db::admin::list_groups(&mut conn, user.account.company_id, user.account.id)
        .await?
        .into_iter()
        .map(|row| GroupView {
            id: row.group.id,
            name: row.group.name,
            description: row.group.description,
            role: row.role.map(|(_, name)| name),
            members: row.members,
        })
        .collect();
    Ok(GroupsPage {
        frame: Frame::new(user, PAGE),
        may_change: may(&user.rights, Resource::Group, AdminAction::Change),
        may_delete: may(&user.rights, Resource::Group, AdminAction::Delete),
        name_locked: false,
        form,
        rows,
        oob: false,
    })
}

async fn list_for(req: &HttpRequest, user: &CurrentUser, state: &AppState) -> Result<String, WebError> {
    if !is_htmx(req) {
        return Ok(String::new());
    }
    Ok(page(user, state, NameForm::default()).await?.as_list().render()?)
}

#[get("/admin/groups")]
pub async fn index(req: HttpRequest, user: CurrentUser, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    require(&user, Resource::Group, AdminAction::See)?;
    let page = page(&user, &state, NameForm::default()).await?;
    let partial = req.headers().get("HX-Target").is_some_and(|t| t == "group-list");
    let body = if partial { page.as_list().render()? } else { page.render()? };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Vary", "HX-Request, HX-Target"))
        .body(body))
}

fn taken(what: &str, name: &str) -> AdminError {
    AdminError::Invalid(ValidationError::new("name", format!("Your company has a {what} named “{name}” already.")))
}

#[post("/admin/groups")]
pub async fn create(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: web::Form<NameInput>,
) -> Result<HttpResponse, WebError> {
    require(&user, Resource::Group, AdminAction::Change)?;
    let company = user.account.company_id;
    let result = async {
        let (name, description) = form.parse("group name")?;
        let mut conn = state.pool.get().await?;
        conn.transaction::<_, AdminError, _>(async |conn| {
            db::admin::lock_company(conn, company).await?;
            if db::admin::group_name_taken(conn, company, &name, None).await? {
                return Err(taken("group", &name));
            }
            let id = db::admin::insert_group(conn, company, &name, &description).await?;
            let changes = serde_json::json!({ "name": name, "description": description });
            db::audit::record(conn, &event(&user, "create", "GROUP", id, changes)).await?;
            Ok(name)
        })
        .await
    }
    .await;
    match result {
        Ok(name) => {
            let message = format!("Added group “{name}”");
            if !is_htmx(&req) {
                crate::auth::current::flash_next(&req, &message)?;
                return Ok(see_other(PAGE));
            }
            let mut page = page(&user, &state, NameForm::default()).await?;
            let form = page.as_form().render()?;
            page.oob = true;
            let list = page.as_list().render()?;
            let flash = FlashFragment { message: &message }.render()?;
            Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(form + &list + &flash))
        }
        Err(e) => {
            let mut view = NameForm::typed(&form);
            let status = view.set_error(e)?;
            let page = page(&user, &state, view).await?;
            html(status, if is_htmx(&req) { page.as_form().render() } else { page.render() })
        }
    }
}

// ---------------------------------------------------------------- edit

/// The edit dialog of a group or a role.
#[derive(Template)]
#[template(path = "admin/groups_edit.html", blocks = ["dialog"])]
pub(super) struct EditDialog {
    pub frame: Frame,
    pub modal: bool,
    pub title: String,
    pub action_url: String,
    pub target: &'static str,
    pub back_url: &'static str,
    /// The name cannot be changed (a default role).
    pub name_locked: bool,
    pub form: NameForm,
    pub csrf_token: String,
}

impl EditDialog {
    pub(super) fn respond(&self, req: &HttpRequest, status: StatusCode) -> Result<HttpResponse, WebError> {
        dialog::respond(req, status, if is_htmx(req) { self.as_dialog().render() } else { self.render() })
    }
}

fn edit_dialog(req: &HttpRequest, user: &CurrentUser, group: &GroupRow, form: NameForm) -> EditDialog {
    EditDialog {
        frame: Frame::new(user, PAGE),
        modal: is_htmx(req),
        title: format!("{}: Edit", group.name),
        action_url: format!("{PAGE}/{}", group.id),
        target: "#group-list",
        back_url: PAGE,
        name_locked: false,
        form,
        csrf_token: user.csrf_token.clone(),
    }
}

async fn target(state: &AppState, user: &CurrentUser, id: i64) -> Result<GroupRow, WebError> {
    let mut conn = state.pool.get().await?;
    Ok(db::admin::find_group(&mut conn, user.account.company_id, id).await?)
}

#[get("/admin/groups/{id}/edit")]
pub async fn edit(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    require(&user, Resource::Group, AdminAction::Change)?;
    let group = target(&state, &user, id.into_inner()).await?;
    let form = NameForm { name: group.name.clone(), description: group.description.clone(), ..NameForm::default() };
    edit_dialog(&req, &user, &group, form).respond(&req, StatusCode::OK)
}

#[post("/admin/groups/{id}")]
pub async fn update(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<NameInput>,
) -> Result<HttpResponse, WebError> {
    require(&user, Resource::Group, AdminAction::Change)?;
    let group = target(&state, &user, id.into_inner()).await?;
    let company = user.account.company_id;
    let result = async {
        let (name, description) = form.parse("group name")?;
        let mut conn = state.pool.get().await?;
        conn.transaction::<_, AdminError, _>(async |conn| {
            db::admin::lock_company(conn, company).await?;
            if db::admin::group_name_taken(conn, company, &name, Some(group.id)).await? {
                return Err(taken("group", &name));
            }
            db::admin::update_group(conn, group.id, &name, &description).await?;
            let changes = serde_json::json!({
                "name": { "from": group.name, "to": name },
                "description": { "from": group.description, "to": description },
            });
            db::audit::record(conn, &event(&user, "update", "GROUP", group.id, changes)).await?;
            Ok(name)
        })
        .await
    }
    .await;
    match result {
        Ok(name) => {
            let list = list_for(&req, &user, &state).await?;
            changed(&req, PAGE, list, &format!("Saved group “{name}”"))
        }
        Err(e) => {
            let mut view = NameForm::typed(&form);
            let status = view.set_error(e)?;
            edit_dialog(&req, &user, &group, view).respond(&req, status)
        }
    }
}

// ---------------------------------------------------------------- set role

pub struct RoleOption {
    pub id: i64,
    pub name: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "admin/groups_role.html", blocks = ["dialog"])]
struct RoleDialog {
    frame: Frame,
    modal: bool,
    id: i64,
    title: String,
    account_name: String,
    roles: Vec<RoleOption>,
    none_selected: bool,
    error: Option<String>,
    csrf_token: String,
}

async fn role_dialog(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    group: &GroupRow,
    selected: Option<i64>,
    error: Option<String>,
) -> Result<RoleDialog, WebError> {
    let mut conn = state.pool.get().await?;
    let roles = db::admin::list_roles(&mut conn, user.account.company_id)
        .await?
        .into_iter()
        .map(|(role, _)| RoleOption { selected: Some(role.id) == selected, id: role.id, name: role.name })
        .collect();
    Ok(RoleDialog {
        frame: Frame::new(user, PAGE),
        modal: is_htmx(req),
        id: group.id,
        title: format!("{}: Set Role", group.name),
        account_name: user.account.name.clone(),
        roles,
        none_selected: selected.is_none(),
        error,
        csrf_token: user.csrf_token.clone(),
    })
}

fn respond_role(req: &HttpRequest, dialog: &RoleDialog, status: StatusCode) -> Result<HttpResponse, WebError> {
    dialog::respond(req, status, if is_htmx(req) { dialog.as_dialog().render() } else { dialog.render() })
}

#[get("/admin/groups/{id}/role")]
pub async fn role_form(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    require(&user, Resource::Group, AdminAction::Change)?;
    let group = target(&state, &user, id.into_inner()).await?;
    let current = db::admin::list_groups(&mut *state.pool.get().await?, user.account.company_id, user.account.id)
        .await?
        .into_iter()
        .find(|row| row.group.id == group.id)
        .and_then(|row| row.role.map(|(id, _)| id));
    let dialog = role_dialog(&req, &user, &state, &group, current, None).await?;
    respond_role(&req, &dialog, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct RoleForm {
    /// Empty: no role in this account.
    #[serde(default)]
    role_id: String,
}

#[post("/admin/groups/{id}/role")]
pub async fn set_role(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<RoleForm>,
) -> Result<HttpResponse, WebError> {
    require(&user, Resource::Group, AdminAction::Change)?;
    let group = target(&state, &user, id.into_inner()).await?;
    let wanted: Option<i64> = match form.role_id.trim() {
        "" => None,
        id => Some(id.parse().map_err(|_| WebError::BadRequest("The role is not a number.".into()))?),
    };
    let company = user.account.company_id;
    let account = user.account.id;
    let mut conn = state.pool.get().await?;
    let result = conn
        .transaction::<_, AdminError, _>(async |conn| {
            db::admin::lock_company(conn, company).await?;
            let role = match wanted {
                Some(id) => Some(db::admin::find_role(conn, company, id).await.map_err(|e| match e {
                    diesel::result::Error::NotFound => {
                        AdminError::Web(WebError::BadRequest("That role does not exist.".into()))
                    }
                    other => other.into(),
                })?),
                None => None,
            };
            if let Some(role) = &role {
                let rights: Vec<AccessRight> = db::admin::role_rights(conn, role.id)
                    .await?
                    .iter()
                    .filter_map(|r| {
                        Some(AccessRight::new(
                            r.resource.parse().ok()?,
                            r.action.parse().ok()?,
                            r.qualifier.parse().ok()?,
                        ))
                    })
                    .collect();
                escalation_check(conn, &user, account, &rights).await?;
            }
            let before = db::admin::list_groups(conn, company, account)
                .await?
                .into_iter()
                .find(|row| row.group.id == group.id)
                .and_then(|row| row.role.map(|(_, name)| name));
            db::admin::set_group_role(conn, group.id, account, role.as_ref().map(|r| r.id)).await?;
            admin_must_remain(conn, company).await?;
            let after = role.map(|r| r.name);
            let changes = serde_json::json!({ "account": user.account.name, "role": { "from": before, "to": after } });
            db::audit::record(conn, &event(&user, "set_role", "GROUP", group.id, changes)).await?;
            Ok(after)
        })
        .await;
    match result {
        Ok(after) => {
            let message = match after {
                Some(role) => format!("“{}” has the role {role} in {}", group.name, user.account.name),
                None => format!("“{}” has no role in {} now", group.name, user.account.name),
            };
            let list = list_for(&req, &user, &state).await?;
            changed(&req, PAGE, list, &message)
        }
        Err(AdminError::Refused(reason)) => {
            let dialog = role_dialog(&req, &user, &state, &group, wanted, Some(reason)).await?;
            respond_role(&req, &dialog, StatusCode::CONFLICT)
        }
        Err(AdminError::Invalid(e)) => Err(e.into()),
        Err(AdminError::Web(e)) => Err(e),
    }
}

// ---------------------------------------------------------------- delete

fn delete_dialog(req: &HttpRequest, user: &CurrentUser, group: &GroupRow, members: i64) -> Confirm {
    let mut dialog = Confirm::new(req, user, PAGE, format!("{}: Delete", group.name));
    dialog.action_url = format!("{PAGE}/{}/delete", group.id);
    dialog.target = "#group-list".into();
    dialog.submit = "Delete";
    dialog.danger = true;
    if members > 0 {
        dialog.allowed = false;
        dialog.question = format!("{} cannot be deleted now.", group.name);
        dialog.error = Some(format!(
            "It has {members} {}. Take them out of the group first (Users, Edit).",
            if members == 1 { "member" } else { "members" }
        ));
    } else {
        dialog.question = format!("Are you sure you want to delete {}?", group.name);
        dialog.detail = Some("Its roles in every account go with it. Images and servers it owns keep no group.".into());
    }
    dialog
}

#[get("/admin/groups/{id}/delete")]
pub async fn confirm_delete(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    require(&user, Resource::Group, AdminAction::Delete)?;
    let group = target(&state, &user, id.into_inner()).await?;
    let members = db::admin::group_member_count(&mut *state.pool.get().await?, group.id).await?;
    delete_dialog(&req, &user, &group, members).respond(&req, StatusCode::OK)
}

#[post("/admin/groups/{id}/delete")]
pub async fn delete(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    require(&user, Resource::Group, AdminAction::Delete)?;
    let group = target(&state, &user, id.into_inner()).await?;
    let company = user.account.company_id;
    let mut conn = state.pool.get().await?;
    let members = conn
        .transaction::<_, AdminError, _>(async |conn| {
            db::admin::lock_company(conn, company).await?;
            let members = db::admin::group_member_count(conn, group.id).await?;
            if members > 0 {
                return Ok(members);
            }
            db::admin::delete_group(conn, group.id).await?;
            let changes = serde_json::json!({ "name": group.name, "description": group.description });
            db::audit::record(conn, &event(&user, "delete", "GROUP", group.id, changes)).await?;
            Ok(0)
        })
        .await
        .map_err(|e| match e {
            AdminError::Web(e) => e,
            other => WebError::Internal(anyhow::anyhow!("{other}")),
        })?;
    if members > 0 {
        return delete_dialog(&req, &user, &group, members).respond(&req, StatusCode::CONFLICT);
    }
    let list = list_for(&req, &user, &state).await?;
    changed(&req, PAGE, list, &format!("Deleted group “{}”", group.name))
}
