//! What the Key Pairs and Firewalls pages share: their Delete flow, the
//! dialog (`GET {page}/{id}/delete`) and the answer to Delete (`POST`).
//!
//! Both pages delete through one change (`changes::resources::delete`), so
//! they answer alike too: the dialog asks, or says why the rules refuse;
//! a refusal at `POST` shows the dialog again with its status
//! (`web::error::change_status`); success flashes and replaces the page's
//! list. The lists' rows are [`Listed`] alike. Each page implements [`DeletePage`] for its row (where it lives,
//! what the dialog tells about the deletion) and its route handlers call
//! [`confirm_delete`] and [`delete`], so the routes stay on their pages.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use super::AppState;
use super::dialog::{Confirm, done};
use super::error::{WebError, change_status};
use super::respond::is_htmx;
use crate::auth::CurrentUser;
use crate::changes::resources::{ProviderResource, delete_target};
use crate::changes::{self, ChangeError};
use crate::domain::refusal::Refusal;
use crate::domain::resource::{Deletion, ResourceAction, deletion};

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
pub fn listed<R: ProviderResource>(user: &CurrentUser, rows: Vec<R>, used_by: impl Fn(&R) -> i64) -> Vec<Listed<R>> {
    let listed = |row: R| {
        let used_by = used_by(&row);
        let can_delete = deletion(&user.rights, R::RESOURCE, &row.delete_facts(used_by)).allowed();
        Listed { row, used_by, can_delete }
    };
    rows.into_iter().map(listed).collect()
}

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
/// page's list (`list` renders it, for htmx only); a refusal shows the
/// dialog again.
pub async fn delete<R: DeletePage>(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    id: i64,
    list: impl AsyncFnOnce() -> Result<String, WebError>,
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
    let list = if is_htmx(req) { list().await? } else { String::new() };
    done(req, list, &message, R::PAGE)
}
