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
//! leave this account without an active administrator.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use diesel::QueryResult;
use diesel_async::AsyncPgConnection;

use super::{NameForm, NamedPage, Shown, Subject, list_for, named_parts, named_routes, shown};
use crate::auth::CurrentUser;
use crate::changes::admin::{self as change, Named};
use crate::changes::{Actor, ChangeError};
use crate::db::{self, admin::GroupRow};
use crate::domain::access::{Action, Resource};
use crate::domain::admin::group_deletion;
use crate::domain::refusal::Refusal;
use crate::web::dialog::{self, done};
use crate::web::error::WebError;
use crate::web::layout::Frame;
use crate::web::{AppState, is_htmx};

const PAGE: &str = "/admin/groups";

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

impl NamedPage for GroupsPage {
    const KIND: Named = Named::Group;
    const PATH: &'static str = PAGE;
    const LIST: &'static str = "group-list";
    const DELETE_WORDS: (&'static str, &'static str) =
        ("cannot be deleted now.", "Its roles in every account go with it. Images and servers it owns keep no group.");
    type Row = GroupRow;

    async fn page(user: &CurrentUser, state: &AppState, form: NameForm) -> Result<Self, WebError> {
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

    fn added(name: &str) -> String {
        format!("Added group “{name}”")
    }

    fn subject(group: &GroupRow) -> Subject<'_> {
        Subject {
            id: group.id,
            name: &group.name,
            description: &group.description,
            name_locked: false,
            version: group.version,
        }
    }

    async fn find(conn: &mut AsyncPgConnection, company: i64, id: i64) -> QueryResult<GroupRow> {
        db::admin::find_group(conn, company, id).await
    }

    async fn deletion(conn: &mut AsyncPgConnection, group: &GroupRow) -> QueryResult<Option<Refusal>> {
        Ok(group_deletion(db::admin::group_member_count(conn, group.id).await?).err())
    }

    async fn delete(conn: &mut AsyncPgConnection, actor: &Actor<'_>, id: i64) -> Result<String, ChangeError> {
        change::groups::delete(conn, actor, id).await.map(|deleted| deleted.name)
    }
}

named_routes!(GroupsPage {
    list: "/admin/groups",
    edit: "/admin/groups/{id}/edit",
    update: "/admin/groups/{id}",
    delete: "/admin/groups/{id}/delete",
});

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
    /// The role the group has now (empty: none), sent back as
    /// `shown_role_id` so that a role set meanwhile is not replaced unseen.
    shown_role: String,
    error: Option<String>,
    csrf_token: String,
}

/// The Set Role dialog with `selected` chosen (`None`: the role the group
/// has now) and `error` above it; its answer with `status`.
async fn role_dialog(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    group: &GroupRow,
    selected: Option<Option<i64>>,
    (error, status): (Option<String>, StatusCode),
) -> Result<HttpResponse, WebError> {
    let mut conn = state.pool.get().await?;
    let current = db::admin::group_role(&mut conn, group.id, user.account.id).await?.map(|(id, _)| id);
    let selected = selected.unwrap_or(current);
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
        shown_role: current.map(|id| id.to_string()).unwrap_or_default(),
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
    let group = super::target::<GroupsPage>(&state, &user, id.into_inner()).await?;
    role_dialog(&req, &user, &state, &group, None, (None, StatusCode::OK)).await
}

#[derive(Deserialize)]
pub struct RoleForm {
    /// Empty: no role in this account. Required: a form without it is
    /// malformed, never a request to take the role away.
    role_id: String,
    /// The role the dialog showed (empty: none). A form without it (one
    /// opened before the dialog sent it, or a script) sets the role as
    /// asked, whatever it is now.
    #[serde(default)]
    shown_role_id: Option<String>,
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
    let group = super::target::<GroupsPage>(&state, &user, id.into_inner()).await?;
    // Only the "No role" option's empty value takes the role away: a value
    // of spaces is as malformed as any other that is not a role's id.
    let role = |id: &str| -> Result<Option<i64>, WebError> {
        match id {
            "" => Ok(None),
            id => id.parse().map(Some).map_err(|_| WebError::BadRequest("The role is not a number.".into())),
        }
    };
    let wanted = role(&form.role_id)?;
    let shown_role = match form.shown_role_id.as_deref() {
        Some(id) => change::groups::ShownRole::Was(role(id)?),
        None => change::groups::ShownRole::Unknown,
    };
    // The connection goes back before the list or the dialog takes one.
    let set =
        change::groups::set_role(&mut *state.pool.get().await?, &user.actor(), group.id, shown_role, wanted).await;
    match set {
        Ok(set) => {
            let message = match set.role {
                Some(role) => format!("“{}” has the role {role} in {}", set.group, user.account.name),
                None => format!("“{}” has no role in {} now", set.group, user.account.name),
            };
            let list = list_for::<GroupsPage>(&req, &user, &state).await?;
            done(&req, list, &message, PAGE)
        }
        // Set meanwhile: the dialog again, showing the role as it is now.
        Err(ChangeError::Refused(changed @ Refusal::GroupRoleChanged { .. })) => {
            let why = (Some(changed.message()), StatusCode::CONFLICT);
            role_dialog(&req, &user, &state, &group, None, why).await
        }
        Err(e) => match shown(e, &[])? {
            Shown::Refused(reason, status) => {
                role_dialog(&req, &user, &state, &group, Some(wanted), (Some(reason), status)).await
            }
            Shown::Fields(errors) => Err(ChangeError::Invalid(errors).into()),
        },
    }
}
