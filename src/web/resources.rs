//! What the Key Pairs and Firewalls pages share: the page itself (its rows,
//! the list that refreshes itself, the answers to the create form), and
//! the Delete flow, the dialog (`GET {page}/{id}/delete`) and the answer to
//! Delete (`POST`).
//!
//! Both pages delete through one change (`changes::resources::delete`), so
//! they answer alike too: the dialog asks, or says why the rules refuse;
//! a refusal at `POST` shows the dialog again with its status
//! (`web::error::change_status`); success flashes and replaces the page's
//! list. The lists' rows are [`Listed`] alike. Each page implements
//! [`ResourcePage`] for its row: its askama page, where its rows and their
//! servers come from, and [`DeletePage`] (where it lives, what the dialog
//! tells about the deletion). [`resource_routes!`] writes the routes that
//! are the same on both (`GET {page}` and Delete); the create form is each
//! page's own (`create` in its module), as its fields and rules differ, and
//! answers through [`form_again`] and [`created`].

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;

use super::AppState;
use super::dialog::{Confirm, done};
use super::error::{WebError, change_status};
use super::layout::Frame;
use super::respond::{added, html, is_htmx, page_or_list};
use crate::auth::CurrentUser;
use crate::changes::resources::{ProviderResource, delete_target};
use crate::changes::{self, ChangeError};
use crate::domain::refusal::Refusal;
use crate::domain::resource::{Deletion, ResourceAction, ResourceState, deletion, may};

/// A row of a Key Pairs or Firewalls list: the row, the live servers that
/// use it, and whether its menu offers Delete.
pub struct Listed<R> {
    pub row: R,
    pub used_by: i64,
    pub can_delete: bool,
}

/// The rows as a list shows them; `used_by` counts a row's live servers
/// (from one query for the whole list). Delete is offered where the one
/// rule (`domain::resource::deletion`) allows it.
fn listed<R: ProviderResource>(user: &CurrentUser, rows: Vec<R>, used_by: impl Fn(&R) -> i64) -> Vec<Listed<R>> {
    let listed = |row: R| {
        let used_by = used_by(&row);
        let can_delete = deletion(&user.rights, R::RESOURCE, &row.delete_facts(used_by)).allowed();
        Listed { row, used_by, can_delete }
    };
    rows.into_iter().map(listed).collect()
}

/// What a Key Pairs or Firewalls page shows besides its frame and its form.
pub struct ResourceList<R> {
    /// The page offers its create form.
    pub may_create: bool,
    pub rows: Vec<Listed<R>>,
    /// Some rows wait for the provider: the list refreshes itself.
    pub polling: bool,
    /// The list replaces the page's list out of band (after a change).
    pub oob: bool,
}

/// A part of a page to render: the page, or one of its blocks.
pub enum Part {
    Page,
    Form,
    List,
}

/// A Key Pairs or Firewalls page, implemented for its row: what differs
/// between the two pages besides Delete ([`DeletePage`]).
pub trait ResourcePage: DeletePage {
    /// The create form as typed, with its messages.
    type Form: Default;
    /// The page's askama template, with the blocks `form` and `list`.
    type Page;
    /// What [`ResourcePage::live_servers`] counts the servers by.
    type Used: Eq + Hash;

    /// The account's rows as the page lists them.
    fn list(conn: &mut AsyncPgConnection, account_id: i64) -> impl Future<Output = QueryResult<Vec<Self>>>;
    /// The account's live servers, counted by what names a row.
    fn live_servers(
        conn: &mut AsyncPgConnection,
        account_id: i64,
    ) -> impl Future<Output = QueryResult<HashMap<Self::Used, i64>>>;
    /// What the servers in [`ResourcePage::live_servers`] name this row by.
    fn used_as(&self) -> &Self::Used;

    /// The page of `list`, with `form`.
    fn page(frame: Frame, list: ResourceList<Self>, form: Self::Form) -> Self::Page;
    /// The page, or one of its blocks, as HTML.
    fn render(page: &Self::Page, part: Part) -> askama::Result<String>;
}

/// The parts of a [`ResourcePage`] impl that are the same for both pages:
/// `list` and `live_servers` are the functions of the same names in
/// `db::$module`, and `render` renders the page or its askama block.
macro_rules! resource_page_parts {
    ($module:ident) => {
        fn list(
            conn: &mut diesel_async::AsyncPgConnection,
            account_id: i64,
        ) -> impl std::future::Future<Output = diesel::QueryResult<Vec<Self>>> {
            crate::db::$module::list(conn, account_id)
        }

        fn live_servers(
            conn: &mut diesel_async::AsyncPgConnection,
            account_id: i64,
        ) -> impl std::future::Future<Output = diesel::QueryResult<std::collections::HashMap<Self::Used, i64>>> {
            crate::db::$module::live_servers(conn, account_id)
        }

        fn render(page: &Self::Page, part: crate::web::resources::Part) -> askama::Result<String> {
            use askama::Template as _;
            match part {
                crate::web::resources::Part::Page => page.render(),
                crate::web::resources::Part::Form => page.as_form().render(),
                crate::web::resources::Part::List => page.as_list().render(),
            }
        }
    };
}
pub(super) use resource_page_parts;

/// The page with `form`; `oob`: its list replaces the page's out of band.
pub async fn page<R: ResourcePage>(
    user: &CurrentUser,
    state: &AppState,
    form: R::Form,
    oob: bool,
) -> Result<R::Page, WebError> {
    let mut conn = state.pool.get().await?;
    let used = R::live_servers(&mut conn, user.account.id).await?;
    let rows = R::list(&mut conn, user.account.id).await?;
    let rows = listed(user, rows, |row| used.get(row.used_as()).copied().unwrap_or(0));
    let list = ResourceList {
        may_create: may(&user.rights, R::RESOURCE, ResourceAction::Create),
        polling: rows.iter().any(|r| r.row.state() == ResourceState::Pending),
        rows,
        oob,
    };
    Ok(R::page(Frame::new(user, R::PAGE), list, form))
}

/// `GET {page}`: the page, or its list alone when the list refreshes itself.
pub async fn index<R: ResourcePage>(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
) -> Result<HttpResponse, WebError> {
    user.require(R::RESOURCE, ResourceAction::See.right())?;
    let page = page::<R>(user, state, R::Form::default(), false).await?;
    let list_id = R::LIST.trim_start_matches('#');
    page_or_list(req, list_id, || R::render(&page, Part::Page), || R::render(&page, Part::List))
}

/// The create form again with its messages and `status`: the form alone for
/// htmx, else the whole page.
pub async fn form_again<R: ResourcePage>(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    form: R::Form,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let page = page::<R>(user, state, form, false).await?;
    html(status, R::render(&page, if is_htmx(req) { Part::Form } else { Part::Page }))
}

/// The create form worked (`message` says what it started): htmx gets the
/// empty form, the list and the flash, a plain form the page again.
pub async fn created<R: ResourcePage>(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    message: &str,
) -> Result<HttpResponse, WebError> {
    added(req, R::PAGE, message, async || {
        let page = page::<R>(user, state, R::Form::default(), true).await?;
        Ok((R::render(&page, Part::Form)?, R::render(&page, Part::List)?))
    })
    .await
}

/// Writes the routes a Key Pairs or Firewalls page has alike into its
/// module, for its row type `$row`: `index` (`GET $page`, [`index`]) and
/// `confirm_delete` and `delete` (`GET`/`POST $page/{id}/delete`,
/// [`confirm_delete`] and [`delete`]). The paths are literals, as actix's
/// route attributes want them.
macro_rules! resource_routes {
    ($row:ty, $page:tt, $delete:tt) => {
        #[actix_web::get($page)]
        pub async fn index(
            req: actix_web::HttpRequest,
            user: crate::auth::CurrentUser,
            state: actix_web::web::Data<crate::web::AppState>,
        ) -> Result<actix_web::HttpResponse, crate::web::error::WebError> {
            crate::web::resources::index::<$row>(&req, &user, &state).await
        }

        #[actix_web::get($delete)]
        pub async fn confirm_delete(
            req: actix_web::HttpRequest,
            user: crate::auth::CurrentUser,
            state: actix_web::web::Data<crate::web::AppState>,
            id: actix_web::web::Path<i64>,
        ) -> Result<actix_web::HttpResponse, crate::web::error::WebError> {
            crate::web::resources::confirm_delete::<$row>(&req, &user, &state, id.into_inner()).await
        }

        #[actix_web::post($delete)]
        pub async fn delete(
            req: actix_web::HttpRequest,
            user: crate::auth::CurrentUser,
            state: actix_web::web::Data<crate::web::AppState>,
            id: actix_web::web::Path<i64>,
        ) -> Result<actix_web::HttpResponse, crate::web::error::WebError> {
            crate::web::resources::delete::<$row>(&req, &user, &state, id.into_inner()).await
        }
    };
}
pub(super) use resource_routes;

/// A key pair or firewall as its page shows it for Delete.
pub trait DeletePage: ProviderResource {
    /// The page's path: "/keypairs", "/firewalls".
    const PAGE: &'static str;
    /// The selector of the page's list, which the answer replaces.
    const LIST: &'static str;

    /// What the dialog says a deletion does.
    fn delete_detail(&self) -> String;
}

/// The Delete dialog: the question, or the reason `decision` gives for
/// refusing.
fn delete_dialog<R: DeletePage>(req: &HttpRequest, user: &CurrentUser, row: &R, decision: Deletion) -> Confirm {
    let (page, id, name) = (R::PAGE, row.id(), row.name());
    let mut dialog = Confirm::new(req, user, page, format!("{name}: Delete"));
    dialog.action_url = format!("{page}/{id}/delete");
    dialog.target = R::LIST.to_owned();
    dialog.submit = "Delete";
    dialog.danger = true;
    dialog.allowed = decision.allowed();
    if dialog.allowed {
        dialog.question = format!("Are you sure you want to delete {name}?");
        dialog.detail = Some(row.delete_detail());
    } else {
        dialog.question = format!("{name} cannot be deleted now.");
        dialog.error = Some(Refusal::Undeletable { what: R::WHAT, why: decision }.message());
    }
    dialog
}

/// The row `id` of the current account and what decides its deletion; 404
/// for another account's id.
async fn target<R: DeletePage>(user: &CurrentUser, state: &AppState, id: i64) -> Result<(R, Deletion), WebError> {
    let mut conn = state.pool.get().await?;
    let (row, facts) = delete_target::<R>(&mut conn, user.account.id, id).await?;
    Ok((row, deletion(&user.rights, R::RESOURCE, &facts)))
}

/// `GET {page}/{id}/delete`: the Delete dialog.
pub async fn confirm_delete<R: DeletePage>(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    id: i64,
) -> Result<HttpResponse, WebError> {
    user.require(R::RESOURCE, ResourceAction::Delete.right())?;
    let (row, decision) = target::<R>(user, state, id).await?;
    delete_dialog(req, user, &row, decision).respond(req, StatusCode::OK)
}

/// `POST {page}/{id}/delete`: deletes, then flashes and answers with the
/// page's list (for htmx); a refusal shows the dialog again.
pub async fn delete<R: ResourcePage>(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    id: i64,
) -> Result<HttpResponse, WebError> {
    let mut conn = state.pool.get().await?;
    let deleted = match changes::resources::delete::<R>(&mut conn, &user.actor(), &state.jobs, id).await {
        Ok(deleted) => deleted,
        Err(e @ ChangeError::Refused(Refusal::Undeletable { why, .. })) => {
            drop(conn);
            let (row, _) = target::<R>(user, state, id).await?;
            return delete_dialog(req, user, &row, why).respond(req, change_status(&e));
        }
        Err(e) => return Err(e.into()),
    };
    drop(conn);
    let what = R::WHAT;
    let message = if deleted.at_provider {
        format!("Deleted {what} “{}”; the provider deletes it shortly", deleted.name)
    } else {
        format!("Removed {what} “{}”", deleted.name)
    };
    let list = if is_htmx(req) {
        R::render(&page::<R>(user, state, R::Form::default(), false).await?, Part::List)?
    } else {
        String::new()
    };
    done(req, list, &message, R::PAGE)
}
