//! Edit (`GET`/`POST /admin/users/{id}`): a user's names, email, groups and
//! budget codes, in a dialog that carries the user's version (optimistic:
//! 409 with the current values when someone else saved first).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::{FormView, PAGE, UserForm, choices, list_for};
use crate::auth::CurrentUser;
use crate::changes::{self, ChangeError};
use crate::db::{self, users::User};
use crate::domain::access::{Action, Resource};
use crate::domain::refusal::Refusal;
use crate::web::admin::{changed_meanwhile, sent_version};
use crate::web::dialog::{self, done};
use crate::web::error::WebError;
use crate::web::layout::Frame;
use crate::web::{AppState, HtmlForm, is_htmx};

#[derive(Template)]
#[template(path = "admin/users_edit.html", blocks = ["dialog"])]
struct EditDialog {
    frame: Frame,
    modal: bool,
    id: i64,
    title: String,
    form: FormView,
    csrf_token: String,
}

fn edit_dialog(
    req: &HttpRequest,
    user: &CurrentUser,
    target: &User,
    form: FormView,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let dialog = EditDialog {
        frame: Frame::new(user, PAGE),
        modal: is_htmx(req),
        id: target.id,
        title: format!("{}: Edit", target.full_name()),
        form,
        csrf_token: user.csrf_token.clone(),
    };
    dialog::respond(req, status, if is_htmx(req) { dialog.as_dialog().render() } else { dialog.render() })
}

/// The user `id` of the current company; 404 for another company's.
pub(super) async fn target(state: &AppState, user: &CurrentUser, id: i64) -> Result<User, WebError> {
    let mut conn = state.pool.get().await?;
    Ok(db::admin::find_user(&mut conn, user.account.company_id, id).await?)
}

#[get("/admin/users/{id}/edit")]
pub async fn edit(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::User, Action::Configure)?;
    let found = target(&state, &user, id.into_inner()).await?;
    let (current, form) = current_form(&state, &user, found.id).await?;
    edit_dialog(&req, &user, &current, form, StatusCode::OK)
}

/// The user `id` and the edit form holding what they hold now, at their
/// version.
async fn current_form(state: &AppState, user: &CurrentUser, id: i64) -> Result<(User, FormView), WebError> {
    let mut conn = state.pool.get().await?;
    let company = user.account.company_id;
    let found = db::admin::find_versioned_user(&mut conn, company, id).await?;
    let form = FormView {
        groups: choices(
            &db::admin::group_choices(&mut conn, company).await?,
            &db::admin::user_groups(&mut conn, id).await?,
        ),
        codes: choices(
            &db::admin::code_choices(&mut conn, company).await?,
            &db::admin::user_codes(&mut conn, id).await?,
        ),
        accounts: choices(
            &db::accounts::choices(&mut conn, company).await?,
            &db::admin::member_accounts(&mut conn, id).await?,
        ),
        given_name: found.user.given_name.clone(),
        family_name: found.user.family_name.clone(),
        email: found.user.email.clone(),
        version: found.version,
        ..FormView::default()
    };
    Ok((found.user, form))
}

#[post("/admin/users/{id}")]
pub async fn update(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: HtmlForm<UserForm>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::User, Action::Configure)?;
    let found = target(&state, &user, id.into_inner()).await?;
    let HtmlForm(form) = form;
    let version = sent_version(form.version)?;
    let saved = match form.parse() {
        Ok(input) => {
            let mut conn = state.pool.get().await?;
            changes::admin::users::update(&mut conn, &user.actor(), found.id, version, &input).await.map(|()| input)
        }
        Err(e) => Err(e),
    };
    match saved {
        Ok(input) => {
            let list = list_for(&req, &user, &state).await?;
            done(&req, list, &format!("Saved {} {}", input.given_name, input.family_name), PAGE)
        }
        Err(ChangeError::Refused(Refusal::StaleVersion { .. })) => {
            let (current, mut view) = current_form(&state, &user, found.id).await?;
            view.error = Some(changed_meanwhile("user"));
            edit_dialog(&req, &user, &current, view, StatusCode::CONFLICT)
        }
        Err(e) => {
            let mut view = form.typed(&state, &user).await?;
            let status = view.set_error(e)?;
            edit_dialog(&req, &user, &found, view, status)
        }
    }
}
