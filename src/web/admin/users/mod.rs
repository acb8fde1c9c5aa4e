//! The Users page (`/admin/users`): the users of the current account's
//! company, adding a new one (or an existing one of the company to this
//! account), editing (`edit`), resetting a password, deactivating and
//! reactivating (`row_actions`). An edit is optimistic: its dialog carries
//! the user's version, and a save over an older one answers 409 with what
//! the user holds now (`super::changed_meanwhile`). The changes are `changes::admin::users`,
//! with the rules they keep (no escalation, 403; the last administrator,
//! 409 with the reason).
//!
//! Rights: `USER Access` to see the page, `USER Configure` for every
//! change.
//!
//! A generated password is shown once, in the answer to the request that
//! made it (marked `no-store`, never a redirect, so it is never kept for a
//! later GET); it is hashed here, on the blocking pool, and only its hash
//! goes to the change.

pub mod edit;
pub mod row_actions;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::{Choice, Shown, choices, shown};
use crate::auth::{CurrentUser, password};
use crate::changes::{self, ChangeError, admin::users::UserInput};
use crate::db;
use crate::domain::ValidationError;
use crate::domain::access::{Action, Resource};
use crate::domain::admin::{Email, GeneratedPassword, name};
use crate::web::error::WebError;
use crate::web::layout::Frame;
use crate::web::respond::{FlashFragment, form_again, html, no_store, page_or_list};
use crate::web::{AppState, HtmlForm, is_htmx};

const PAGE: &str = "/admin/users";

/// The fields of the user form.
const FIELDS: [&str; 4] = ["given_name", "family_name", "email", "account_ids"];

/// The user form (add or edit) as typed, with its messages.
#[derive(Default)]
pub struct FormView {
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    pub groups: Vec<Choice>,
    pub codes: Vec<Choice>,
    /// The cloud accounts the user may enter.
    pub accounts: Vec<Choice>,
    pub accounts_error: Option<String>,
    /// The version the edit dialog was read at (0 in the add form, which
    /// does not send it).
    pub version: i32,
    pub given_name_error: Option<String>,
    pub family_name_error: Option<String>,
    pub email_error: Option<String>,
    /// A problem of the whole form (a rule).
    pub error: Option<String>,
}

impl FormView {
    /// Puts `e` where it shows; the status to answer with.
    fn set_error(&mut self, e: ChangeError) -> Result<StatusCode, WebError> {
        match shown(e, &FIELDS)? {
            Shown::Fields(errors) => {
                for invalid in errors {
                    let message = Some(invalid.message);
                    match invalid.field {
                        "given_name" => self.given_name_error = message,
                        "family_name" => self.family_name_error = message,
                        "account_ids" => self.accounts_error = message,
                        _ => self.email_error = message,
                    }
                }
                Ok(StatusCode::UNPROCESSABLE_ENTITY)
            }
            Shown::Refused(reason, status) => {
                self.error = Some(reason);
                Ok(status)
            }
        }
    }
}

/// A row of the list.
pub struct UserView {
    pub id: i64,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    pub groups: String,
    pub codes: String,
    pub active: bool,
    pub member: bool,
    pub is_me: bool,
}

/// The password just made, shown once.
pub struct Revealed {
    pub email: String,
    pub password: String,
}

#[derive(Template)]
#[template(path = "admin/users.html", blocks = ["form", "list"])]
struct UsersPage {
    frame: Frame,
    may_change: bool,
    form: FormView,
    created: Option<Revealed>,
    rows: Vec<UserView>,
    oob: bool,
}

async fn page(user: &CurrentUser, state: &AppState, form: Option<FormView>) -> Result<UsersPage, WebError> {
    let mut conn = state.pool.get().await?;
    let company = user.account.company_id;
    let rows = db::admin::list_users(&mut conn, company, user.account.id)
        .await?
        .into_iter()
        .map(|row| UserView {
            id: row.user.id,
            active: row.user.is_active(),
            is_me: row.user.id == user.user.id,
            given_name: row.user.given_name,
            family_name: row.user.family_name,
            email: row.user.email,
            groups: row.groups.join(", "),
            codes: row.budget_codes.join(", "),
            member: row.member,
        })
        .collect();
    let form = match form {
        Some(form) => form,
        None => FormView {
            groups: choices(&db::admin::group_choices(&mut conn, company).await?, &[]),
            codes: choices(&db::admin::code_choices(&mut conn, company).await?, &[]),
            // A new colleague works where the administrator does, unless told otherwise.
            accounts: choices(&db::accounts::choices(&mut conn, company).await?, &[user.account.id]),
            ..FormView::default()
        },
    };
    Ok(UsersPage {
        frame: Frame::new(user, PAGE),
        may_change: user.rights.may(Resource::User, Action::Configure),
        form,
        created: None,
        rows,
        oob: false,
    })
}

/// The list for an htmx answer; nothing for a plain form (it redirects).
async fn list_for(req: &HttpRequest, user: &CurrentUser, state: &AppState) -> Result<String, WebError> {
    if is_htmx(req) { Ok(page(user, state, None).await?.as_list().render()?) } else { Ok(String::new()) }
}

#[get("/admin/users")]
pub async fn index(req: HttpRequest, user: CurrentUser, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    user.require(Resource::User, Action::Access)?;
    let page = page(&user, &state, None).await?;
    page_or_list(&req, "user-list", || page.render(), || page.as_list().render())
}

#[derive(Deserialize)]
pub struct UserForm {
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    group_ids: Vec<i64>,
    #[serde(default)]
    budget_code_ids: Vec<i64>,
    #[serde(default)]
    account_ids: Vec<i64>,
    /// Sent by every form that shows the accounts' checkboxes, so that
    /// none checked is a choice too (browsers send nothing for them).
    #[serde(default)]
    accounts_shown: Option<String>,
    /// Only the edit dialog sends it.
    #[serde(default)]
    version: Option<i32>,
}

impl UserForm {
    /// The user asked for; every field's message at once.
    fn parse(&self) -> Result<UserInput, ChangeError> {
        let given = name("given_name", &self.given_name, "first name");
        let family = name("family_name", &self.family_name, "last name");
        let email = Email::parse(&self.email);
        match (given, family, email) {
            (Ok(given_name), Ok(family_name), Ok(email)) => Ok(UserInput {
                given_name,
                family_name,
                email,
                group_ids: self.group_ids.clone(),
                budget_code_ids: self.budget_code_ids.clone(),
                account_ids: self.accounts_shown.is_some().then(|| self.account_ids.clone()),
            }),
            (g, f, e) => Err(ChangeError::Invalid(
                [g.err(), f.err(), e.err()].into_iter().flatten().collect::<Vec<ValidationError>>(),
            )),
        }
    }

    /// The form as typed, its boxes checked as sent.
    async fn typed(&self, state: &AppState, user: &CurrentUser) -> Result<FormView, WebError> {
        let mut conn = state.pool.get().await?;
        let company = user.account.company_id;
        Ok(FormView {
            given_name: self.given_name.clone(),
            family_name: self.family_name.clone(),
            email: self.email.clone(),
            groups: choices(&db::admin::group_choices(&mut conn, company).await?, &self.group_ids),
            codes: choices(&db::admin::code_choices(&mut conn, company).await?, &self.budget_code_ids),
            accounts: choices(&db::accounts::choices(&mut conn, company).await?, &self.account_ids),
            version: self.version.unwrap_or(0),
            ..FormView::default()
        })
    }
}

/// A generated password and its argon2id hash, hashed on the blocking pool
/// (as signing in verifies): hashing takes tens of milliseconds of CPU.
async fn new_password() -> Result<(GeneratedPassword, String), WebError> {
    let generated = GeneratedPassword::generate();
    web::block(move || password::hash(generated.reveal()).map(|hash| (generated, hash)))
        .await
        .map_err(|e| WebError::Internal(e.into()))?
        .map_err(|e| WebError::Internal(anyhow::anyhow!("hashing a password: {e}")))
}

#[post("/admin/users")]
pub async fn create(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: HtmlForm<UserForm>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::User, Action::Configure)?;
    let HtmlForm(form) = form;
    let created = match form.parse() {
        Ok(input) => {
            let (generated, hash) = new_password().await?;
            let mut conn = state.pool.get().await?;
            changes::admin::users::create(&mut conn, &user.actor(), &input, &hash).await.map(|_| (input, generated))
        }
        Err(e) => Err(e),
    };
    let (input, generated) = match created {
        Ok(created) => created,
        Err(e) => {
            let mut view = form.typed(&state, &user).await?;
            let status = view.set_error(e)?;
            let page = page(&user, &state, Some(view)).await?;
            if status == StatusCode::UNPROCESSABLE_ENTITY {
                return form_again(&req, || page.as_form().render(), || page.render());
            }
            return html(status, if is_htmx(&req) { page.as_form().render() } else { page.render() });
        }
    };
    let mut page = page(&user, &state, None).await?;
    page.created = Some(Revealed { email: input.email.as_str().to_owned(), password: generated.reveal().to_owned() });
    let message = format!("Added {} {}", input.given_name, input.family_name);
    // Not `respond::added`: a plain form gets the page itself, as the
    // password must not survive into a redirect's GET.
    let body = if is_htmx(&req) {
        let form = page.as_form().render()?;
        page.oob = true;
        Ok(form + &page.as_list().render()? + &FlashFragment::done(&message).render()?)
    } else {
        page.frame.flash = Some(message.clone());
        page.render()
    };
    Ok(no_store(html(StatusCode::OK, body)?))
}
