//! The Roles page (`/admin/roles`): the company's roles, adding and editing
//! them, and the Access Rights dialog (a table of Resource | Action |
//! Qualifier with Delete per row, and a row of three selects to add one).
//!
//! Rights (`domain::admin`): `ROLE Access` to see the page, `ROLE Configure`
//! to add and edit roles and their access rights. Adding a right the acting
//! user does not hold, in this account or in any account where a group has
//! the role, is refused with 403 (no escalation).
//! `ROLE Delete` deletes a role. The default roles keep their names and
//! cannot be deleted; a role a group has in some account cannot be deleted
//! until no group has it; the default Admin role's rights
//! cannot be reduced; and deleting a right is refused with 409 when the
//! company would be left without an active administrator. Each change and
//! its audit event are one transaction.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use diesel_async::AsyncConnection as _;
use serde::Deserialize;

use super::groups::{EditDialog, NameForm, NameInput};
use super::users::{AdminError, admin_must_remain, changed, escalation_check, event, require, this_account_and};
use crate::auth::CurrentUser;
use crate::db::{self, admin::RoleRow};
use crate::domain::ValidationError;
use crate::domain::access::{AccessRight, Action, Qualifier, Resource};
use crate::domain::admin::{AdminAction, may};
use crate::web::dialog::{self, Confirm};
use crate::web::error::WebError;
use crate::web::layout::Frame;
use crate::web::respond::{FlashFragment, html};
use crate::web::{AppState, is_htmx, see_other};

const PAGE: &str = "/admin/roles";

/// The default role whose rights cannot be reduced.
fn is_admin_role(role: &RoleRow) -> bool {
    role.is_default && role.name == "Admin"
}

/// A row of the list.
pub struct RoleView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub is_default: bool,
    pub rights: i64,
}

#[derive(Template)]
#[template(path = "admin/roles.html", blocks = ["form", "list"])]
struct RolesPage {
    frame: Frame,
    may_change: bool,
    may_delete: bool,
    name_locked: bool,
    form: NameForm,
    rows: Vec<RoleView>,
    oob: bool,
}

async fn page(user: &CurrentUser, state: &AppState, form: NameForm) -> Result<RolesPage, WebError> {
    let mut conn = state.pool.get().await?;
    let rows = db::admin::list_roles(&mut conn, user.account.company_id)
        .await?
        .into_iter()
        .map(|(role, rights)| RoleView {
            id: role.id,
            name: role.name,
            description: role.description,
            is_default: role.is_default,
            rights,
        })
        .collect();
    Ok(RolesPage {
        frame: Frame::new(user, PAGE),
        may_change: may(&user.rights, Resource::Role, AdminAction::Change),
        may_delete: may(&user.rights, Resource::Role, AdminAction::Delete),
        name_locked: false,
        form,
        rows,
        oob: false,
    })
}

async fn list_for(req: &HttpRequest, user: &CurrentUser, state: &AppState, oob: bool) -> Result<String, WebError> {
    if !is_htmx(req) {
        return Ok(String::new());
    }
    let mut page = page(user, state, NameForm::default()).await?;
    page.oob = oob;
    Ok(page.as_list().render()?)
}

#[get("/admin/roles")]
pub async fn index(req: HttpRequest, user: CurrentUser, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    require(&user, Resource::Role, AdminAction::See)?;
    let page = page(&user, &state, NameForm::default()).await?;
    let partial = req.headers().get("HX-Target").is_some_and(|t| t == "role-list");
    let body = if partial { page.as_list().render()? } else { page.render()? };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Vary", "HX-Request, HX-Target"))
        .body(body))
}

fn taken(name: &str) -> AdminError {
    AdminError::Invalid(ValidationError::new("name", format!("Your company has a role named “{name}” already.")))
}

#[post("/admin/roles")]
pub async fn create(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: web::Form<NameInput>,
) -> Result<HttpResponse, WebError> {
    require(&user, Resource::Role, AdminAction::Change)?;
    let company = user.account.company_id;
    let result = async {
        let (name, description) = form.parse("role name")?;
        let mut conn = state.pool.get().await?;
        conn.transaction::<_, AdminError, _>(async |conn| {
            db::admin::lock_company(conn, company).await?;
            if db::admin::role_name_taken(conn, company, &name, None).await? {
                return Err(taken(&name));
            }
            let id = db::admin::insert_role(conn, company, &name, &description).await?;
            let changes = serde_json::json!({ "name": name, "description": description });
            db::audit::record(conn, &event(&user, "create", "ROLE", id, changes)).await?;
            Ok(name)
        })
        .await
    }
    .await;
    match result {
        Ok(name) => {
            let message = format!("Added role “{name}”; give it access rights with Access Rights");
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

async fn target(state: &AppState, user: &CurrentUser, id: i64) -> Result<RoleRow, WebError> {
    let mut conn = state.pool.get().await?;
    Ok(db::admin::find_role(&mut conn, user.account.company_id, id).await?)
}

fn edit_dialog(req: &HttpRequest, user: &CurrentUser, role: &RoleRow, form: NameForm) -> EditDialog {
    EditDialog {
        frame: Frame::new(user, PAGE),
        modal: is_htmx(req),
        title: format!("{}: Edit", role.name),
        action_url: format!("{PAGE}/{}", role.id),
        target: "#role-list",
        back_url: PAGE,
        name_locked: role.is_default,
        form,
        csrf_token: user.csrf_token.clone(),
    }
}

#[get("/admin/roles/{id}/edit")]
pub async fn edit(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    require(&user, Resource::Role, AdminAction::Change)?;
    let role = target(&state, &user, id.into_inner()).await?;
    let form = NameForm { name: role.name.clone(), description: role.description.clone(), ..NameForm::default() };
    edit_dialog(&req, &user, &role, form).respond(&req, StatusCode::OK)
}

#[post("/admin/roles/{id}")]
pub async fn update(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<NameInput>,
) -> Result<HttpResponse, WebError> {
    require(&user, Resource::Role, AdminAction::Change)?;
    let role = target(&state, &user, id.into_inner()).await?;
    let company = user.account.company_id;
    let result = async {
        let (name, description) = form.parse("role name")?;
        if role.is_default && name != role.name {
            return Err(AdminError::Invalid(ValidationError::new("name", "A default role keeps its name.")));
        }
        let mut conn = state.pool.get().await?;
        conn.transaction::<_, AdminError, _>(async |conn| {
            db::admin::lock_company(conn, company).await?;
            if db::admin::role_name_taken(conn, company, &name, Some(role.id)).await? {
                return Err(taken(&name));
            }
            db::admin::update_role(conn, role.id, &name, &description).await?;
            let changes = serde_json::json!({
                "name": { "from": role.name, "to": name },
                "description": { "from": role.description, "to": description },
            });
            db::audit::record(conn, &event(&user, "update", "ROLE", role.id, changes)).await?;
            Ok(name)
        })
        .await
    }
    .await;
    match result {
        Ok(name) => {
            let list = list_for(&req, &user, &state, false).await?;
            changed(&req, PAGE, list, &format!("Saved role “{name}”"))
        }
        Err(e) => {
            let mut view = NameForm::typed(&form);
            let status = view.set_error(e)?;
            edit_dialog(&req, &user, &role, view).respond(&req, status)
        }
    }
}

// ---------------------------------------------------------------- access rights

pub struct RightView {
    pub id: i64,
    pub resource: String,
    pub action: String,
    pub qualifier: String,
}

/// An option of one of the three selects.
pub struct SelectOption {
    pub value: &'static str,
    pub selected: bool,
}

fn options(all: impl Iterator<Item = &'static str>, selected: &str) -> Vec<SelectOption> {
    all.map(|value| SelectOption { value, selected: value == selected }).collect()
}

#[derive(Template)]
#[template(path = "admin/roles_rights.html", blocks = ["dialog"])]
struct RightsDialog {
    frame: Frame,
    modal: bool,
    id: i64,
    title: String,
    /// Admin's rights cannot be reduced: no Delete buttons.
    locked: bool,
    /// `ROLE Configure`: the Delete buttons and the add row are offered.
    may_change: bool,
    rights: Vec<RightView>,
    resources: Vec<SelectOption>,
    actions: Vec<SelectOption>,
    qualifiers: Vec<SelectOption>,
    error: Option<String>,
    csrf_token: String,
}

#[derive(Deserialize, Default)]
pub struct RightForm {
    #[serde(default)]
    resource: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    qualifier: String,
}

async fn rights_dialog(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    role: &RoleRow,
    typed: &RightForm,
    error: Option<String>,
) -> Result<RightsDialog, WebError> {
    let mut conn = state.pool.get().await?;
    let rights = db::admin::role_rights(&mut conn, role.id)
        .await?
        .into_iter()
        .map(|r| RightView { id: r.id, resource: r.resource, action: r.action, qualifier: r.qualifier })
        .collect();
    let qualifier = if typed.qualifier.is_empty() { "ANY" } else { typed.qualifier.as_str() };
    Ok(RightsDialog {
        frame: Frame::new(user, PAGE),
        modal: is_htmx(req),
        id: role.id,
        title: format!("{}: Access Rights", role.name),
        locked: is_admin_role(role),
        may_change: may(&user.rights, Resource::Role, AdminAction::Change),
        rights,
        resources: options(Resource::ALL.iter().map(|r| r.as_str()), &typed.resource),
        actions: options(Action::ALL.iter().map(|a| a.as_str()), &typed.action),
        qualifiers: options(Qualifier::ALL.iter().map(|q| q.as_str()), qualifier),
        error,
        csrf_token: user.csrf_token.clone(),
    })
}

/// The dialog (again) in `#modal`, whatever the form targeted.
fn respond_rights(
    req: &HttpRequest,
    dialog: &RightsDialog,
    status: StatusCode,
    extra: String,
) -> Result<HttpResponse, WebError> {
    if !is_htmx(req) {
        return html(status, dialog.render());
    }
    let body = dialog.as_dialog().render()? + &extra;
    let mut response = HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body);
    let headers = response.headers_mut();
    headers.insert(HeaderName::from_static("hx-retarget"), HeaderValue::from_static("#modal"));
    headers.insert(HeaderName::from_static("hx-reswap"), HeaderValue::from_static("innerHTML"));
    Ok(response)
}

#[get("/admin/roles/{id}/rights")]
pub async fn rights_form(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    require(&user, Resource::Role, AdminAction::See)?;
    let role = target(&state, &user, id.into_inner()).await?;
    let dialog = rights_dialog(&req, &user, &state, &role, &RightForm::default(), None).await?;
    dialog::respond(&req, StatusCode::OK, if is_htmx(&req) { dialog.as_dialog().render() } else { dialog.render() })
}

/// After a change of the rights: htmx gets the dialog again, the list and a
/// flash; a plain form goes back to the dialog's page.
async fn rights_changed(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    role: &RoleRow,
    message: &str,
) -> Result<HttpResponse, WebError> {
    if !is_htmx(req) {
        crate::auth::current::flash_next(req, message)?;
        return Ok(see_other(&format!("{PAGE}/{}/rights", role.id)));
    }
    let dialog = rights_dialog(req, user, state, role, &RightForm::default(), None).await?;
    let extra = list_for(req, user, state, true).await? + &FlashFragment { message }.render()?;
    respond_rights(req, &dialog, StatusCode::OK, extra)
}

fn parse_right(form: &RightForm) -> Result<AccessRight, WebError> {
    let bad = |what: &str| WebError::BadRequest(format!("Choose a {what} from the list."));
    Ok(AccessRight::new(
        form.resource.parse().map_err(|_| bad("resource"))?,
        form.action.parse().map_err(|_| bad("action"))?,
        form.qualifier.parse().map_err(|_| bad("qualifier"))?,
    ))
}

fn right_json(right: &AccessRight) -> serde_json::Value {
    serde_json::json!({ "resource": right.resource.as_str(), "action": right.action.as_str(), "qualifier": right.qualifier.as_str() })
}

#[post("/admin/roles/{id}/rights")]
pub async fn add_right(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<RightForm>,
) -> Result<HttpResponse, WebError> {
    require(&user, Resource::Role, AdminAction::Change)?;
    let role = target(&state, &user, id.into_inner()).await?;
    let right = parse_right(&form)?;
    let company = user.account.company_id;
    let mut conn = state.pool.get().await?;
    let result = conn
        .transaction::<_, AdminError, _>(async |conn| {
            db::admin::lock_company(conn, company).await?;
            // A role is company-wide: the right reaches every account
            // where a group has the role.
            for account in this_account_and(&user, db::admin::role_accounts(conn, role.id).await?) {
                escalation_check(conn, &user, account, &[right]).await?;
            }
            if !db::admin::add_right(conn, role.id, &right).await? {
                return Err(AdminError::Refused(format!(
                    "{} has {} {} {} already.",
                    role.name, right.resource, right.action, right.qualifier
                )));
            }
            let changes = serde_json::json!({ "added_right": right_json(&right) });
            db::audit::record(conn, &event(&user, "add_right", "ROLE", role.id, changes)).await?;
            Ok(())
        })
        .await;
    match result {
        Ok(()) => {
            let message = format!("{} has {} {} {} now", role.name, right.resource, right.action, right.qualifier);
            rights_changed(&req, &user, &state, &role, &message).await
        }
        Err(AdminError::Refused(reason)) => {
            let dialog = rights_dialog(&req, &user, &state, &role, &form, Some(reason)).await?;
            respond_rights(&req, &dialog, StatusCode::CONFLICT, String::new())
        }
        Err(AdminError::Invalid(e)) => Err(e.into()),
        Err(AdminError::Web(e)) => Err(e),
    }
}

#[post("/admin/roles/{id}/rights/{right_id}/delete")]
pub async fn delete_right(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, WebError> {
    require(&user, Resource::Role, AdminAction::Change)?;
    let (id, right_id) = path.into_inner();
    let role = target(&state, &user, id).await?;
    let company = user.account.company_id;
    let mut conn = state.pool.get().await?;
    let result = conn
        .transaction::<_, AdminError, _>(async |conn| {
            db::admin::lock_company(conn, company).await?;
            let row = db::admin::find_right(conn, role.id, right_id).await?;
            if is_admin_role(&role) {
                return Err(AdminError::Refused("The rights of the default Admin role cannot be reduced.".into()));
            }
            db::admin::delete_right(conn, row.id).await?;
            admin_must_remain(conn, company).await?;
            let changes = serde_json::json!({
                "deleted_right": { "resource": row.resource, "action": row.action, "qualifier": row.qualifier },
            });
            db::audit::record(conn, &event(&user, "delete_right", "ROLE", role.id, changes)).await?;
            Ok(format!("{} no longer has {} {} {}", role.name, row.resource, row.action, row.qualifier))
        })
        .await;
    match result {
        Ok(message) => rights_changed(&req, &user, &state, &role, &message).await,
        Err(AdminError::Refused(reason)) => {
            let dialog = rights_dialog(&req, &user, &state, &role, &RightForm::default(), Some(reason)).await?;
            respond_rights(&req, &dialog, StatusCode::CONFLICT, String::new())
        }
        Err(AdminError::Invalid(e)) => Err(e.into()),
        Err(AdminError::Web(e)) => Err(e),
    }
}

// ---------------------------------------------------------------- delete

/// Why the role cannot be deleted now, if it cannot.
fn undeletable(role: &RoleRow, groups: i64) -> Option<String> {
    if role.is_default {
        return Some("The default roles cannot be deleted.".into());
    }
    (groups > 0).then(|| {
        let (n, them) = if groups == 1 { ("1 group".to_owned(), "it") } else { (format!("{groups} groups"), "them") };
        format!(
            "{n} {} this role in an account. Set another role for {them} first (Groups, Set Role).",
            if groups == 1 { "has" } else { "have" }
        )
    })
}

fn delete_dialog(req: &HttpRequest, user: &CurrentUser, role: &RoleRow, groups: i64) -> Confirm {
    let mut dialog = Confirm::new(req, user, PAGE, format!("{}: Delete", role.name));
    dialog.action_url = format!("{PAGE}/{}/delete", role.id);
    dialog.target = "#role-list".into();
    dialog.submit = "Delete";
    dialog.danger = true;
    match undeletable(role, groups) {
        Some(reason) => {
            dialog.allowed = false;
            dialog.question = format!("{} cannot be deleted.", role.name);
            dialog.error = Some(reason);
        }
        None => {
            dialog.question = format!("Are you sure you want to delete {}?", role.name);
            dialog.detail = Some("Its access rights go with it. No group has it.".into());
        }
    }
    dialog
}

#[get("/admin/roles/{id}/delete")]
pub async fn confirm_delete(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    require(&user, Resource::Role, AdminAction::Delete)?;
    let role = target(&state, &user, id.into_inner()).await?;
    let groups = db::admin::role_use_count(&mut *state.pool.get().await?, role.id).await?;
    delete_dialog(&req, &user, &role, groups).respond(&req, StatusCode::OK)
}

#[post("/admin/roles/{id}/delete")]
pub async fn delete(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    require(&user, Resource::Role, AdminAction::Delete)?;
    let role = target(&state, &user, id.into_inner()).await?;
    let company = user.account.company_id;
    let mut conn = state.pool.get().await?;
    let groups = conn
        .transaction::<_, WebError, _>(async |conn| {
            db::admin::lock_company(conn, company).await?;
            let groups = db::admin::role_use_count(conn, role.id).await?;
            if undeletable(&role, groups).is_some() {
                return Ok(groups);
            }
            let rights: Vec<String> = db::admin::role_rights(conn, role.id)
                .await?
                .into_iter()
                .map(|r| format!("{} {} {}", r.resource, r.action, r.qualifier))
                .collect();
            db::admin::delete_role(conn, role.id).await?;
            let changes = serde_json::json!({ "name": role.name, "description": role.description, "rights": rights });
            db::audit::record(conn, &event(&user, "delete", "ROLE", role.id, changes)).await?;
            Ok(0)
        })
        .await?;
    if undeletable(&role, groups).is_some() {
        return delete_dialog(&req, &user, &role, groups).respond(&req, StatusCode::CONFLICT);
    }
    let list = list_for(&req, &user, &state, false).await?;
    changed(&req, PAGE, list, &format!("Deleted role “{}”", role.name))
}
