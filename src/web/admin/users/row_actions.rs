//! The row actions that ask first (`GET`/`POST /admin/users/{id}/{action}`):
//! reset password, deactivate, reactivate, add to this account.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::edit::target;
use super::{PAGE, Revealed, list_for, new_password};
use crate::auth::CurrentUser;
use crate::changes::{ChangeError, admin::users as change};
use crate::db::users::User;
use crate::domain::access::{Action, Resource};
use crate::web::dialog::{Confirm, done};
use crate::web::error::{WebError, refusal_status};
use crate::web::layout::Frame;
use crate::web::respond::{html, no_store};
use crate::web::{AppState, is_htmx};

/// The row actions that ask first: what each does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RowAction {
    ResetPassword,
    Deactivate,
    Reactivate,
    AddToAccount,
}

impl RowAction {
    fn path(self) -> &'static str {
        match self {
            RowAction::ResetPassword => "password",
            RowAction::Deactivate => "deactivate",
            RowAction::Reactivate => "reactivate",
            RowAction::AddToAccount => "membership",
        }
    }

    fn title(self) -> &'static str {
        match self {
            RowAction::ResetPassword => "Reset password",
            RowAction::Deactivate => "Deactivate",
            RowAction::Reactivate => "Reactivate",
            RowAction::AddToAccount => "Add to this account",
        }
    }

    fn from_path(path: &str) -> Option<Self> {
        [RowAction::ResetPassword, RowAction::Deactivate, RowAction::Reactivate, RowAction::AddToAccount]
            .into_iter()
            .find(|a| a.path() == path)
    }
}

fn confirm(req: &HttpRequest, user: &CurrentUser, found: &User, action: RowAction) -> Confirm {
    let name = found.full_name();
    let mut dialog = Confirm::new(req, user, PAGE, format!("{name}: {}", action.title()));
    dialog.action_url = format!("{PAGE}/{}/{}", found.id, action.path());
    dialog.target = "#user-list".into();
    dialog.submit = action.title();
    let (question, detail) = match action {
        RowAction::ResetPassword => (
            format!("Make a new password for {name}?"),
            "The old password stops working and their sessions end. The new one is shown to you once.".to_owned(),
        ),
        RowAction::Deactivate => {
            dialog.danger = true;
            (
                format!("Deactivate {name}?"),
                "They are signed out at once and cannot sign in until reactivated. Their images and servers stay."
                    .to_owned(),
            )
        }
        RowAction::Reactivate => {
            (format!("Reactivate {name}?"), "They can sign in again with their current password.".to_owned())
        }
        RowAction::AddToAccount => (
            format!("Let {name} into {}?", user.account.name),
            "Their groups' roles in this account decide what they may do here.".to_owned(),
        ),
    };
    dialog.question = question;
    dialog.detail = Some(detail);
    dialog
}

/// The action and the user of `/admin/users/{id}/{action}`: 404 for an
/// unknown action or another company's user.
async fn row(user: &CurrentUser, state: &AppState, (id, action): (i64, String)) -> Result<(RowAction, User), WebError> {
    let action = RowAction::from_path(&action).ok_or(WebError::NotFound)?;
    user.require(Resource::User, Action::Configure)?;
    Ok((action, target(state, user, id).await?))
}

#[get("/admin/users/{id}/{action}")]
pub async fn confirm_row_action(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, WebError> {
    let (action, found) = row(&user, &state, path.into_inner()).await?;
    confirm(&req, &user, &found, action).respond(&req, StatusCode::OK)
}

#[derive(Template)]
#[template(path = "admin/users_password.html", blocks = ["dialog"])]
struct PasswordDialog {
    frame: Frame,
    modal: bool,
    title: String,
    revealed: Revealed,
}

#[post("/admin/users/{id}/{action}")]
pub async fn row_action(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, WebError> {
    let (action, found) = row(&user, &state, path.into_inner()).await?;
    let actor = user.actor();
    let mut conn = state.pool.get().await?;
    let made = match action {
        RowAction::ResetPassword => {
            let (generated, hash) = new_password().await?;
            change::reset_password(&mut conn, &actor, found.id, &hash).await.map(|()| Some(generated))
        }
        RowAction::Deactivate => change::deactivate(&mut conn, &actor, found.id).await.map(|()| None),
        RowAction::Reactivate => change::reactivate(&mut conn, &actor, found.id).await.map(|()| None),
        RowAction::AddToAccount => change::add_to_account(&mut conn, &actor, found.id).await.map(|()| None),
    };
    drop(conn);
    let generated = match made {
        Ok(generated) => generated,
        Err(ChangeError::Refused(refusal)) if refusal_status(&refusal) == StatusCode::CONFLICT => {
            let mut dialog = confirm(&req, &user, &found, action);
            dialog.allowed = false;
            dialog.question = format!("{} cannot be done now.", action.title());
            dialog.detail = None;
            dialog.error = Some(refusal.message());
            return dialog.respond(&req, StatusCode::CONFLICT);
        }
        Err(e) => return Err(e.into()),
    };
    let name = found.full_name();
    if let Some(generated) = generated {
        let dialog = PasswordDialog {
            frame: Frame::new(&user, PAGE),
            modal: is_htmx(&req),
            title: format!("{name}: New password"),
            revealed: Revealed { email: found.email.clone(), password: generated.reveal().to_owned() },
        };
        let body = if is_htmx(&req) { dialog.as_dialog().render() } else { dialog.render() };
        let mut response = no_store(html(StatusCode::OK, body)?);
        if is_htmx(&req) {
            // The form targets the list; the password opens in the modal.
            crate::htmx::retarget(&mut response, "#modal", "innerHTML");
        }
        return Ok(response);
    }
    let message = match action {
        RowAction::Deactivate => format!("Deactivated {name}; their sessions have ended"),
        RowAction::Reactivate => format!("Reactivated {name}"),
        _ => format!("Added {name} to {}", user.account.name),
    };
    let list = list_for(&req, &user, &state).await?;
    done(&req, list, &message, PAGE)
}
