//! The Roles page (`/admin/roles`): the company's roles, adding and editing
//! them, and the Access Rights dialog (a table of Resource | Action |
//! Qualifier with Delete per row, and a row of three selects to add one).
//! The changes are `changes::admin` (create and rename, shared with groups)
//! and `changes::admin::roles`, with the rules they keep.
//!
//! Rights: `ROLE Access` to see the page and a role's rights, `ROLE
//! Configure` to add and edit roles and their access rights, `ROLE Delete`
//! to delete a role. An escalation is refused with 403, the other rules
//! (default roles, roles in use, the Admin role's rights, the last
//! administrator) with 409 and their reason in the dialog.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use diesel::QueryResult;
use diesel_async::AsyncPgConnection;

use super::{NameForm, NamedPage, Shown, Subject, named_parts, named_routes, shown};
use crate::auth::CurrentUser;
use crate::changes::admin::{self as change, Named};
use crate::changes::{Actor, ChangeError};
use crate::db::{self, admin::RoleRow};
use crate::domain::access::{AccessRight, Action, Qualifier, Resource};
use crate::domain::admin::{is_admin_role, role_deletion};
use crate::domain::refusal::Refusal;
use crate::web::dialog;
use crate::web::error::WebError;
use crate::web::layout::Frame;
use crate::web::respond::{FlashFragment, html};
use crate::web::{AppState, is_htmx, see_other};

const PAGE: &str = "/admin/roles";

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

named_parts!(RolesPage);

impl NamedPage for RolesPage {
    const KIND: Named = Named::Role;
    const PATH: &'static str = PAGE;
    const LIST: &'static str = "role-list";
    const DELETE_WORDS: (&'static str, &'static str) =
        ("cannot be deleted.", "Its access rights go with it. No group has it.");
    type Row = RoleRow;

    async fn page(user: &CurrentUser, state: &AppState, form: NameForm) -> Result<Self, WebError> {
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
            may_change: user.rights.may(Resource::Role, Action::Configure),
            may_delete: user.rights.may(Resource::Role, Action::Delete),
            name_locked: false,
            form,
            rows,
            oob: false,
        })
    }

    fn added(name: &str) -> String {
        format!("Added role “{name}”; give it access rights with Access Rights")
    }

    fn subject(role: &RoleRow) -> Subject<'_> {
        Subject {
            id: role.id,
            name: &role.name,
            description: &role.description,
            name_locked: role.is_default,
            version: role.version,
        }
    }

    async fn find(conn: &mut AsyncPgConnection, company: i64, id: i64) -> QueryResult<RoleRow> {
        db::admin::find_role(conn, company, id).await
    }

    async fn deletion(conn: &mut AsyncPgConnection, role: &RoleRow) -> QueryResult<Option<Refusal>> {
        Ok(role_deletion(role.is_default, db::admin::role_use_count(conn, role.id).await?).err())
    }

    async fn delete(conn: &mut AsyncPgConnection, actor: &Actor<'_>, id: i64) -> Result<String, ChangeError> {
        change::roles::delete(conn, actor, id).await.map(|deleted| deleted.name)
    }
}

named_routes!(RolesPage {
    list: "/admin/roles",
    edit: "/admin/roles/{id}/edit",
    update: "/admin/roles/{id}",
    delete: "/admin/roles/{id}/delete",
});

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
        locked: is_admin_role(role.is_default, &role.name),
        may_change: user.rights.may(Resource::Role, Action::Configure),
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
    let mut response = html(status, dialog.as_dialog().render().map(|body| body + &extra))?;
    crate::htmx::retarget(&mut response, "#modal", "innerHTML");
    Ok(response)
}

#[get("/admin/roles/{id}/rights")]
pub async fn rights_form(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Role, Action::Access)?;
    let role = super::target::<RolesPage>(&state, &user, id.into_inner()).await?;
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
    let mut page = RolesPage::page(user, state, NameForm::default()).await?;
    page.oob = true;
    let extra = page.as_list().render()? + &FlashFragment::done(message).render()?;
    respond_rights(req, &dialog, StatusCode::OK, extra)
}

fn parse_right(form: &RightForm) -> Result<AccessRight, WebError> {
    let bad = |what: &str| WebError::BadRequest(format!("Choose {what} from the list."));
    Ok(AccessRight::new(
        form.resource.parse().map_err(|_| bad("a resource"))?,
        form.action.parse().map_err(|_| bad("an action"))?,
        form.qualifier.parse().map_err(|_| bad("a qualifier"))?,
    ))
}

#[post("/admin/roles/{id}/rights")]
pub async fn add_right(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<RightForm>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Role, Action::Configure)?;
    let role = super::target::<RolesPage>(&state, &user, id.into_inner()).await?;
    let right = parse_right(&form)?;
    // The connection goes back before the dialog takes one.
    let added = change::roles::add_right(&mut *state.pool.get().await?, &user.actor(), role.id, &right).await;
    match added {
        Ok(role) => {
            let message = format!("{} has {} {} {} now", role.name, right.resource, right.action, right.qualifier);
            rights_changed(&req, &user, &state, &role, &message).await
        }
        Err(e) => rights_refused(&req, &user, &state, &role, &form, e).await,
    }
}

/// The dialog again with the reason a change of the rights was refused.
async fn rights_refused(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    role: &RoleRow,
    typed: &RightForm,
    e: ChangeError,
) -> Result<HttpResponse, WebError> {
    let (reason, status) = match shown(e, &["action", "qualifier"])? {
        Shown::Refused(reason, status) => (reason, status),
        // A right its resource cannot have: the selects offer every name.
        Shown::Fields(errors) => {
            (errors.into_iter().map(|e| e.message).collect::<Vec<_>>().join(" "), StatusCode::UNPROCESSABLE_ENTITY)
        }
    };
    let dialog = rights_dialog(req, user, state, role, typed, Some(reason)).await?;
    respond_rights(req, &dialog, status, String::new())
}

#[post("/admin/roles/{id}/rights/{right_id}/delete")]
pub async fn delete_right(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Role, Action::Configure)?;
    let (id, right_id) = path.into_inner();
    let role = super::target::<RolesPage>(&state, &user, id).await?;
    let deleted = change::roles::delete_right(&mut *state.pool.get().await?, &user.actor(), role.id, right_id).await;
    match deleted {
        Ok(row) => {
            let message = format!("{} no longer has {} {} {}", role.name, row.resource, row.action, row.qualifier);
            rights_changed(&req, &user, &state, &role, &message).await
        }
        Err(e) => rights_refused(&req, &user, &state, &role, &RightForm::default(), e).await,
    }
}
