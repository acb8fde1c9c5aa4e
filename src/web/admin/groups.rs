//! The Groups page (`/admin/groups`): the company's groups with their role
//! in the current account; add, edit, delete (refused while the group has
//! members) and Set Role (0 or 1 role per group per account). The changes
//! are `changes::admin` (create and rename, shared with roles) and
//! `changes::admin::groups`.
//!
//! Rights: `GROUP Access` to see the page, `GROUP Configure` to add, edit
//! and set the role, `GROUP Delete` to delete. Setting a role is refused
//! with 403 when the role holds a right the acting user does not hold in
//! this account (no escalation), and with 409 when taking a role away would
//! leave the company without an active administrator.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::{NameForm, NameInput, NamedPage, Shown, named_parts, shown};
use crate::auth::CurrentUser;
use crate::changes::ChangeError;
use crate::changes::admin::{self as change, Named};
use crate::db::{self, admin::GroupRow};
use crate::domain::access::{Action, Resource};
use crate::domain::admin::group_deletion;
use crate::domain::refusal::Refusal;
use crate::web::dialog::{self, Confirm, done};
use crate::web::error::WebError;
use crate::web::layout::Frame;
use crate::web::respond::page_or_list;
use crate::web::{AppState, is_htmx};

const PAGE: &str = "/admin/groups";
const NAMED: NamedPage = NamedPage { kind: Named::Group, path: PAGE, list: "#group-list" };

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

named_parts!(GroupsPage);

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
        may_change: user.rights.may(Resource::Group, Action::Configure),
        may_delete: user.rights.may(Resource::Group, Action::Delete),
        name_locked: false,
        form,
        rows,
        oob: false,
    })
}

/// The list for an htmx answer; nothing for a plain form (it redirects).
async fn list_for(req: &HttpRequest, user: &CurrentUser, state: &AppState) -> Result<String, WebError> {
    if !is_htmx(req) {
        return Ok(String::new());
    }
    Ok(page(user, state, NameForm::default()).await?.as_list().render()?)
}

#[get("/admin/groups")]
pub async fn index(req: HttpRequest, user: CurrentUser, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    user.require(Resource::Group, Action::Access)?;
    let page = page(&user, &state, NameForm::default()).await?;
    page_or_list(&req, "group-list", || page.render(), || page.as_list().render())
}

#[post("/admin/groups")]
pub async fn create(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: web::Form<NameInput>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Group, Action::Configure)?;
    let message = |name: &str| format!("Added group “{name}”");
    let render = async |form, part| Ok(page(&user, &state, form).await?.part(part)?);
    NAMED.create(&req, &user, &state, &form, message, render).await
}

// ---------------------------------------------------------------- edit

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
    user.require(Resource::Group, Action::Configure)?;
    let group = target(&state, &user, id.into_inner()).await?;
    let form = NameForm { name: group.name.clone(), description: group.description.clone(), ..NameForm::default() };
    NAMED.edit_dialog(&req, &user, (group.id, &group.name), false, form).respond(&req, StatusCode::OK)
}

#[post("/admin/groups/{id}")]
pub async fn update(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<NameInput>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Group, Action::Configure)?;
    let group = target(&state, &user, id.into_inner()).await?;
    let this = (group.id, group.name.as_str(), false);
    NAMED.update(&req, &user, &state, this, &form, async || list_for(&req, &user, &state).await).await
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

/// The Set Role dialog with `selected` chosen and `error` above it; its
/// answer with `status`.
async fn role_dialog(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    group: &GroupRow,
    selected: Option<i64>,
    (error, status): (Option<String>, StatusCode),
) -> Result<HttpResponse, WebError> {
    let mut conn = state.pool.get().await?;
    let roles = db::admin::list_roles(&mut conn, user.account.company_id)
        .await?
        .into_iter()
        .map(|(role, _)| RoleOption { selected: Some(role.id) == selected, id: role.id, name: role.name })
        .collect();
    let dialog = RoleDialog {
        frame: Frame::new(user, PAGE),
        modal: is_htmx(req),
        id: group.id,
        title: format!("{}: Set Role", group.name),
        account_name: user.account.name.clone(),
        roles,
        none_selected: selected.is_none(),
        error,
        csrf_token: user.csrf_token.clone(),
    };
    dialog::respond(req, status, if is_htmx(req) { dialog.as_dialog().render() } else { dialog.render() })
}

#[get("/admin/groups/{id}/role")]
pub async fn role_form(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Group, Action::Configure)?;
    let group = target(&state, &user, id.into_inner()).await?;
    let current =
        db::admin::group_role(&mut *state.pool.get().await?, group.id, user.account.id).await?.map(|(id, _)| id);
    role_dialog(&req, &user, &state, &group, current, (None, StatusCode::OK)).await
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
    user.require(Resource::Group, Action::Configure)?;
    let group = target(&state, &user, id.into_inner()).await?;
    let wanted: Option<i64> = match form.role_id.trim() {
        "" => None,
        id => Some(id.parse().map_err(|_| WebError::BadRequest("The role is not a number.".into()))?),
    };
    let mut conn = state.pool.get().await?;
    match change::groups::set_role(&mut conn, &user.actor(), group.id, wanted).await {
        Ok(set) => {
            let message = match set.role {
                Some(role) => format!("“{}” has the role {role} in {}", set.group, user.account.name),
                None => format!("“{}” has no role in {} now", set.group, user.account.name),
            };
            let list = list_for(&req, &user, &state).await?;
            done(&req, list, &message, PAGE)
        }
        Err(e) => match shown(e, &[])? {
            Shown::Refused(reason, status) => {
                role_dialog(&req, &user, &state, &group, wanted, (Some(reason), status)).await
            }
            Shown::Fields(errors) => Err(ChangeError::Invalid(errors).into()),
        },
    }
}

// ---------------------------------------------------------------- delete

fn delete_dialog(req: &HttpRequest, user: &CurrentUser, group: &GroupRow, refusal: Option<Refusal>) -> Confirm {
    let words =
        ("cannot be deleted now.", "Its roles in every account go with it. Images and servers it owns keep no group.");
    NAMED.delete_dialog(req, user, (group.id, &group.name), refusal, words)
}

#[get("/admin/groups/{id}/delete")]
pub async fn confirm_delete(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Group, Action::Delete)?;
    let group = target(&state, &user, id.into_inner()).await?;
    let members = db::admin::group_member_count(&mut *state.pool.get().await?, group.id).await?;
    delete_dialog(&req, &user, &group, group_deletion(members).err()).respond(&req, StatusCode::OK)
}

#[post("/admin/groups/{id}/delete")]
pub async fn delete(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Group, Action::Delete)?;
    let group = target(&state, &user, id.into_inner()).await?;
    let mut conn = state.pool.get().await?;
    let deleted = change::groups::delete(&mut conn, &user.actor(), group.id).await.map(|deleted| deleted.name);
    drop(conn);
    let dialog = |refusal| delete_dialog(&req, &user, &group, Some(refusal));
    NAMED.deleted(&req, deleted, dialog, async || list_for(&req, &user, &state).await).await
}
