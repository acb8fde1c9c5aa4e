//! The Users page (`/admin/users`): the users of the current account's
//! company, adding a new one (or an existing one of the company to this
//! account), editing, resetting a password, deactivating and reactivating.
//!
//! Rights (`domain::admin`): `USER Access` to see the page, `USER Configure`
//! for every change. On top of that, no escalation: putting a user into
//! groups (adding, editing, reactivating, adding to this account) is refused
//! with 403 when the rights those groups carry exceed the acting
//! administrator's own, in this account or in any other account the user
//! works in (groups are company-wide); and no change may leave the company
//! without an active administrator (refused with 409 and the reason).
//!
//! A generated password is shown once, in the answer to the request that
//! made it (marked `no-store`, never a redirect, so it is never kept for a
//! later GET); only its argon2id hash is stored, and audit events carry a
//! mask. Deactivating deletes the user's rows in `sessions` in the same
//! transaction, so the next request of each of their browsers is signed out.
//!
//! Each change runs in one transaction that first locks the company's row
//! (`db::admin::lock_company`), then writes the change and its audit event.
//! The helpers at the bottom are shared by the Groups and Roles pages.

use std::collections::BTreeSet;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use serde::Deserialize;

use crate::auth::{CurrentUser, password};
use crate::db::{self, audit::NewAuditEvent, users::User};
use crate::domain::ValidationError;
use crate::domain::access::Resource;
use crate::domain::admin::{
    AdminAction, Email, GeneratedPassword, LAST_ADMIN, MASKED, escalation_message, exceeds, may, name,
};
use crate::web::dialog::{self, Confirm};
use crate::web::error::WebError;
use crate::web::layout::Frame;
use crate::web::respond::{FlashFragment, html};
use crate::web::{AppState, HtmlForm, is_htmx};

const PAGE: &str = "/admin/users";

/// Why a change was not made: a field (422), a rule (409, with the reason),
/// or any other error.
#[derive(Debug, thiserror::Error)]
pub(super) enum AdminError {
    #[error("{0}")]
    Invalid(ValidationError),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Web(#[from] WebError),
}

impl From<diesel::result::Error> for AdminError {
    fn from(e: diesel::result::Error) -> Self {
        AdminError::Web(e.into())
    }
}

impl From<db::PoolError> for AdminError {
    fn from(e: db::PoolError) -> Self {
        AdminError::Web(e.into())
    }
}

/// 403 unless the user may do `action` on the page of `resource`.
pub(super) fn require(user: &CurrentUser, resource: Resource, action: AdminAction) -> Result<(), WebError> {
    if may(&user.rights, resource, action) {
        return Ok(());
    }
    let what = match action {
        AdminAction::See => "seeing",
        AdminAction::Change => "changing",
        AdminAction::Delete => "deleting",
    };
    Err(WebError::Forbidden(format!(
        "Your role in {} does not allow {what} {}.",
        user.account.name,
        match resource {
            Resource::Group => "groups",
            Resource::Role => "roles",
            _ => "users",
        }
    )))
}

/// The audit event of an administration change in the current account.
pub(super) fn event<'a>(
    user: &CurrentUser,
    action: &'a str,
    resource: &'a str,
    id: i64,
    changes: serde_json::Value,
) -> NewAuditEvent<'a> {
    NewAuditEvent {
        account_id: Some(user.account.id),
        user_id: Some(user.user.id),
        action,
        resource,
        resource_id: Some(id.to_string()),
        outcome: "success",
        changes,
    }
}

/// 403 (nothing changed) when the rights the groups carry exceed the acting
/// user's own, in this account or in any other account `member` works in:
/// groups are company-wide, so joining one grants its roles everywhere.
pub(super) async fn no_escalation(
    conn: &mut AsyncPgConnection,
    user: &CurrentUser,
    group_ids: &[i64],
    member: Option<i64>,
) -> Result<(), AdminError> {
    if group_ids.is_empty() {
        return Ok(());
    }
    let others = match member {
        Some(member) => db::admin::member_accounts(conn, member).await?,
        None => Vec::new(),
    };
    for account in this_account_and(user, others) {
        let wanted = db::admin::rights_of_groups(conn, account, group_ids).await?;
        escalation_check(conn, user, account, &wanted).await?;
    }
    Ok(())
}

/// The current account first, then the others a change reaches.
pub(super) fn this_account_and(user: &CurrentUser, others: Vec<i64>) -> Vec<i64> {
    let here = user.account.id;
    std::iter::once(here).chain(others.into_iter().filter(|a| *a != here)).collect()
}

/// 403 when `wanted` holds a right the acting user does not hold in
/// `account`.
pub(super) async fn escalation_check(
    conn: &mut AsyncPgConnection,
    user: &CurrentUser,
    account: i64,
    wanted: &[crate::domain::access::AccessRight],
) -> Result<(), AdminError> {
    let held = db::admin::rights_in(conn, account, user.user.id).await?;
    let Some(right) = exceeds(&held, wanted) else {
        return Ok(());
    };
    let elsewhere = if account == user.account.id { None } else { Some(db::accounts::find(conn, account).await?.name) };
    Err(WebError::Forbidden(escalation_message(right, elsewhere.as_deref())).into())
}

/// 409 with the reason when the change just made left no administrator
/// (the transaction then rolls back).
pub(super) async fn admin_must_remain(conn: &mut AsyncPgConnection, company: i64) -> Result<(), AdminError> {
    if db::admin::admin_remains(conn, company).await? { Ok(()) } else { Err(AdminError::Refused(LAST_ADMIN.into())) }
}

/// After a change from a dialog or a form: htmx gets `fragment` (the list),
/// a flash, and the dialog closes; a plain form goes back to `page`.
pub(super) fn changed(
    req: &HttpRequest,
    page: &str,
    fragment: String,
    message: &str,
) -> Result<HttpResponse, WebError> {
    dialog::done(req, fragment, message, page)
}

fn unique(ids: &[i64]) -> Vec<i64> {
    ids.iter().copied().collect::<BTreeSet<_>>().into_iter().collect()
}

/// 400 unless every id is one of `choices`.
pub(super) fn known(ids: &[i64], choices: &[(i64, String)], what: &str) -> Result<Vec<i64>, WebError> {
    let ids = unique(ids);
    if ids.iter().all(|id| choices.iter().any(|(c, _)| c == id)) {
        Ok(ids)
    } else {
        Err(WebError::BadRequest(format!("The form names a {what} that does not exist.")))
    }
}

fn names(ids: &[i64], choices: &[(i64, String)]) -> Vec<String> {
    choices.iter().filter(|(id, _)| ids.contains(id)).map(|(_, n)| n.clone()).collect()
}

// ---------------------------------------------------------------- views

/// A checkbox of the groups or budget codes fieldset.
pub struct Choice {
    pub id: i64,
    pub name: String,
    pub checked: bool,
}

fn choices(all: &[(i64, String)], checked: &[i64]) -> Vec<Choice> {
    all.iter().map(|(id, name)| Choice { id: *id, name: name.clone(), checked: checked.contains(id) }).collect()
}

/// The user form (add or edit) as typed, with its messages.
#[derive(Default)]
pub struct FormView {
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    pub groups: Vec<Choice>,
    pub codes: Vec<Choice>,
    pub given_name_error: Option<String>,
    pub family_name_error: Option<String>,
    pub email_error: Option<String>,
    /// A problem of the whole form (a rule).
    pub error: Option<String>,
}

impl FormView {
    fn set_error(&mut self, e: AdminError) -> Result<StatusCode, WebError> {
        match e {
            AdminError::Invalid(invalid) => {
                let message = Some(invalid.message);
                match invalid.field {
                    "given_name" => self.given_name_error = message,
                    "family_name" => self.family_name_error = message,
                    "email" => self.email_error = message,
                    _ => self.error = message,
                }
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
            ..FormView::default()
        },
    };
    Ok(UsersPage {
        frame: Frame::new(user, PAGE),
        may_change: may(&user.rights, Resource::User, AdminAction::Change),
        form,
        created: None,
        rows,
        oob: false,
    })
}

async fn list_fragment(user: &CurrentUser, state: &AppState) -> Result<String, WebError> {
    Ok(page(user, state, None).await?.as_list().render()?)
}

#[get("/admin/users")]
pub async fn index(req: HttpRequest, user: CurrentUser, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    require(&user, Resource::User, AdminAction::See)?;
    let page = page(&user, &state, None).await?;
    let partial = req.headers().get("HX-Target").is_some_and(|t| t == "user-list");
    let body = if partial { page.as_list().render()? } else { page.render()? };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Vary", "HX-Request, HX-Target"))
        .body(body))
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
}

/// A user form that passed the field rules.
struct ValidUser {
    given_name: String,
    family_name: String,
    email: Email,
}

impl ValidUser {
    /// Every field's message at once.
    fn parse(form: &UserForm) -> Result<Self, Vec<ValidationError>> {
        let given = name("given_name", &form.given_name, "first name");
        let family = name("family_name", &form.family_name, "last name");
        let email = Email::parse(&form.email);
        match (given, family, email) {
            (Ok(given_name), Ok(family_name), Ok(email)) => Ok(Self { given_name, family_name, email }),
            (g, f, e) => Err([g.err(), f.err(), e.err()].into_iter().flatten().collect()),
        }
    }
}

async fn typed(state: &AppState, user: &CurrentUser, form: &UserForm) -> Result<FormView, WebError> {
    let mut conn = state.pool.get().await?;
    let company = user.account.company_id;
    Ok(FormView {
        given_name: form.given_name.clone(),
        family_name: form.family_name.clone(),
        email: form.email.clone(),
        groups: choices(&db::admin::group_choices(&mut conn, company).await?, &form.group_ids),
        codes: choices(&db::admin::code_choices(&mut conn, company).await?, &form.budget_code_ids),
        ..FormView::default()
    })
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

/// 422 at the field when the email belongs to someone else.
async fn email_free(
    conn: &mut AsyncPgConnection,
    company: i64,
    email: &Email,
    except: Option<i64>,
) -> Result<(), AdminError> {
    let Some(owner) = db::admin::email_owner(conn, email.as_str(), except).await? else {
        return Ok(());
    };
    let message = match db::admin::find_user(conn, company, owner).await {
        Ok(_) if except.is_none() => {
            "A user of your company has this email already. To let them into this account, choose “Add to this \
             account” in their row."
        }
        _ => "This email is already in use.",
    };
    Err(AdminError::Invalid(ValidationError::new("email", message)))
}

/// Creates the user with a generated password, a member of the current
/// account, in the groups and holding the codes asked for.
async fn create_user(
    state: &AppState,
    user: &CurrentUser,
    valid: &ValidUser,
    form: &UserForm,
) -> Result<(i64, GeneratedPassword), AdminError> {
    let company = user.account.company_id;
    let (generated, hash) = new_password().await?;
    let mut conn = state.pool.get().await?;
    let id = conn
        .transaction::<_, AdminError, _>(async |conn| {
            db::admin::lock_company(conn, company).await?;
            let all_groups = db::admin::group_choices(conn, company).await?;
            let all_codes = db::admin::code_choices(conn, company).await?;
            let group_ids = known(&form.group_ids, &all_groups, "group")?;
            let code_ids = known(&form.budget_code_ids, &all_codes, "budget code")?;
            email_free(conn, company, &valid.email, None).await?;
            // A new user works in this account only.
            no_escalation(conn, user, &group_ids, None).await?;
            let new = db::users::NewUser {
                company_id: company,
                email: valid.email.as_str(),
                given_name: &valid.given_name,
                family_name: &valid.family_name,
                password_hash: &hash,
                status: "active",
            };
            let created = db::users::insert(conn, &new).await?;
            db::accounts::add_member(conn, user.account.id, created.id).await?;
            db::admin::set_user_groups(conn, created.id, &group_ids).await?;
            db::admin::set_user_codes(conn, created.id, &code_ids).await?;
            let changes = serde_json::json!({
                "email": valid.email.as_str(), "given_name": valid.given_name, "family_name": valid.family_name,
                "groups": names(&group_ids, &all_groups), "budget_codes": names(&code_ids, &all_codes),
                "account": user.account.name, "password": MASKED,
            });
            db::audit::record(conn, &event(user, "create", "USER", created.id, changes)).await?;
            Ok(created.id)
        })
        .await?;
    Ok((id, generated))
}

#[post("/admin/users")]
pub async fn create(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: HtmlForm<UserForm>,
) -> Result<HttpResponse, WebError> {
    require(&user, Resource::User, AdminAction::Change)?;
    let HtmlForm(form) = form;
    let result = match ValidUser::parse(&form) {
        Ok(valid) => create_user(&state, &user, &valid, &form).await.map(|made| (valid, made)),
        Err(errors) => {
            let mut view = typed(&state, &user, &form).await?;
            for e in errors {
                view.set_error(AdminError::Invalid(e))?;
            }
            return form_answer(&req, &user, &state, view, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let (valid, (_, generated)) = match result {
        Ok(done) => done,
        Err(e) => {
            let mut view = typed(&state, &user, &form).await?;
            let status = view.set_error(e)?;
            return form_answer(&req, &user, &state, view, status).await;
        }
    };
    let mut page = page(&user, &state, None).await?;
    page.created = Some(Revealed { email: valid.email.as_str().to_owned(), password: generated.reveal().to_owned() });
    let message = format!("Added {} {}", valid.given_name, valid.family_name);
    let body = if is_htmx(&req) {
        let form = page.as_form().render()?;
        page.oob = true;
        form + &page.as_list().render()? + &FlashFragment { message: &message }.render()?
    } else {
        page.frame.flash = Some(message);
        page.render()?
    };
    Ok(secret_answer(HttpResponse::Ok(), body))
}

/// An answer that carries a password: never cached.
fn secret_answer(mut builder: actix_web::HttpResponseBuilder, body: String) -> HttpResponse {
    builder.content_type("text/html; charset=utf-8").insert_header(("Cache-Control", "no-store")).body(body)
}

async fn form_answer(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    view: FormView,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let page = page(user, state, Some(view)).await?;
    html(status, if is_htmx(req) { page.as_form().render() } else { page.render() })
}

// ---------------------------------------------------------------- edit

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

async fn edit_dialog(
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

async fn target(state: &AppState, user: &CurrentUser, id: i64) -> Result<User, WebError> {
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
    require(&user, Resource::User, AdminAction::Change)?;
    let found = target(&state, &user, id.into_inner()).await?;
    let mut conn = state.pool.get().await?;
    let company = user.account.company_id;
    let form = FormView {
        groups: choices(
            &db::admin::group_choices(&mut conn, company).await?,
            &db::admin::user_groups(&mut conn, found.id).await?,
        ),
        codes: choices(
            &db::admin::code_choices(&mut conn, company).await?,
            &db::admin::user_codes(&mut conn, found.id).await?,
        ),
        given_name: found.given_name.clone(),
        family_name: found.family_name.clone(),
        email: found.email.clone(),
        ..FormView::default()
    };
    edit_dialog(&req, &user, &found, form, StatusCode::OK).await
}

async fn save_user(
    state: &AppState,
    user: &CurrentUser,
    found: &User,
    valid: &ValidUser,
    form: &UserForm,
) -> Result<(), AdminError> {
    let company = user.account.company_id;
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, AdminError, _>(async |conn| {
        db::admin::lock_company(conn, company).await?;
        let all_groups = db::admin::group_choices(conn, company).await?;
        let all_codes = db::admin::code_choices(conn, company).await?;
        let group_ids = known(&form.group_ids, &all_groups, "group")?;
        let code_ids = known(&form.budget_code_ids, &all_codes, "budget code")?;
        email_free(conn, company, &valid.email, Some(found.id)).await?;
        let old_groups = db::admin::user_groups(conn, found.id).await?;
        let old_codes = db::admin::user_codes(conn, found.id).await?;
        let added: Vec<i64> = group_ids.iter().copied().filter(|g| !old_groups.contains(g)).collect();
        no_escalation(conn, user, &added, Some(found.id)).await?;
        db::admin::update_user(conn, found.id, (&valid.given_name, &valid.family_name, valid.email.as_str())).await?;
        db::admin::set_user_groups(conn, found.id, &group_ids).await?;
        // Codes that are inactive now stay held: the form only offers active ones.
        let inactive_held: Vec<i64> =
            old_codes.iter().copied().filter(|c| !all_codes.iter().any(|(id, _)| id == c)).collect();
        let new_codes: Vec<i64> = unique(&[code_ids.clone(), inactive_held].concat());
        db::admin::set_user_codes(conn, found.id, &new_codes).await?;
        if old_groups.iter().any(|g| !group_ids.contains(g)) {
            admin_must_remain(conn, company).await?;
        }
        let mut changes = serde_json::Map::new();
        let mut note = |field: &str, from: serde_json::Value, to: serde_json::Value| {
            if from != to {
                changes.insert(field.to_owned(), serde_json::json!({ "from": from, "to": to }));
            }
        };
        note("given_name", found.given_name.clone().into(), valid.given_name.clone().into());
        note("family_name", found.family_name.clone().into(), valid.family_name.clone().into());
        note("email", found.email.clone().into(), valid.email.as_str().into());
        note("groups", names(&old_groups, &all_groups).into(), names(&group_ids, &all_groups).into());
        note("budget_codes", old_codes.into(), new_codes.into());
        db::audit::record(conn, &event(user, "update", "USER", found.id, changes.into())).await?;
        Ok(())
    })
    .await
}

#[post("/admin/users/{id}")]
pub async fn update(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: HtmlForm<UserForm>,
) -> Result<HttpResponse, WebError> {
    require(&user, Resource::User, AdminAction::Change)?;
    let found = target(&state, &user, id.into_inner()).await?;
    let HtmlForm(form) = form;
    let result = match ValidUser::parse(&form) {
        Ok(valid) => save_user(&state, &user, &found, &valid, &form).await.map(|()| valid),
        Err(errors) => {
            let mut view = typed(&state, &user, &form).await?;
            for e in errors {
                view.set_error(AdminError::Invalid(e))?;
            }
            return edit_dialog(&req, &user, &found, view, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    match result {
        Ok(valid) => {
            let list = list_for(&req, &user, &state).await?;
            changed(&req, PAGE, list, &format!("Saved {} {}", valid.given_name, valid.family_name))
        }
        Err(e) => {
            let mut view = typed(&state, &user, &form).await?;
            let status = view.set_error(e)?;
            edit_dialog(&req, &user, &found, view, status).await
        }
    }
}

/// The list for an htmx answer; nothing for a plain form (it redirects).
async fn list_for(req: &HttpRequest, user: &CurrentUser, state: &AppState) -> Result<String, WebError> {
    if is_htmx(req) { list_fragment(user, state).await } else { Ok(String::new()) }
}

// ---------------------------------------------------------------- row actions

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

#[get("/admin/users/{id}/{action}")]
pub async fn ask(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, WebError> {
    let (id, action) = path.into_inner();
    let action = RowAction::from_path(&action).ok_or(WebError::NotFound)?;
    require(&user, Resource::User, AdminAction::Change)?;
    let found = target(&state, &user, id).await?;
    confirm(&req, &user, &found, action).respond(&req, StatusCode::OK)
}

/// Makes the row action's change with its audit event; the new password
/// for a reset.
async fn apply(
    state: &AppState,
    user: &CurrentUser,
    found: &User,
    action: RowAction,
) -> Result<Option<GeneratedPassword>, AdminError> {
    let company = user.account.company_id;
    let generated = match action {
        RowAction::ResetPassword => Some(new_password().await?),
        _ => None,
    };
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, AdminError, _>(async |conn| {
        db::admin::lock_company(conn, company).await?;
        let current = db::admin::find_user(conn, company, found.id).await?;
        let changes = match action {
            RowAction::ResetPassword => {
                let Some((_, hash)) = &generated else {
                    return Err(WebError::Internal(anyhow::anyhow!("a reset without a password")).into());
                };
                db::admin::set_password_hash(conn, found.id, hash).await?;
                let ended = if found.id == user.user.id { 0 } else { db::admin::end_sessions(conn, found.id).await? };
                serde_json::json!({ "password": MASKED, "sessions_ended": ended })
            }
            RowAction::Deactivate => {
                if found.id == user.user.id {
                    return Err(AdminError::Refused("You cannot deactivate yourself.".into()));
                }
                if !current.is_active() {
                    return Err(AdminError::Refused(format!("{} is inactive already.", current.full_name())));
                }
                db::admin::set_status(conn, found.id, "inactive").await?;
                let ended = db::admin::end_sessions(conn, found.id).await?;
                admin_must_remain(conn, company).await?;
                serde_json::json!({ "status": { "from": "active", "to": "inactive" }, "sessions_ended": ended })
            }
            RowAction::Reactivate => {
                if current.is_active() {
                    return Err(AdminError::Refused(format!("{} is active already.", current.full_name())));
                }
                let groups = db::admin::user_groups(conn, found.id).await?;
                no_escalation(conn, user, &groups, Some(found.id)).await?;
                db::admin::set_status(conn, found.id, "active").await?;
                serde_json::json!({ "status": { "from": "inactive", "to": "active" } })
            }
            RowAction::AddToAccount => {
                if db::admin::is_member(conn, user.account.id, found.id).await? {
                    return Err(AdminError::Refused(format!(
                        "{} is a member of {} already.",
                        current.full_name(),
                        user.account.name
                    )));
                }
                // Only this account is new to them.
                let groups = db::admin::user_groups(conn, found.id).await?;
                no_escalation(conn, user, &groups, None).await?;
                db::accounts::add_member(conn, user.account.id, found.id).await?;
                serde_json::json!({ "account": user.account.name })
            }
        };
        let name = match action {
            RowAction::ResetPassword => "reset_password",
            RowAction::Deactivate => "deactivate",
            RowAction::Reactivate => "reactivate",
            RowAction::AddToAccount => "add_to_account",
        };
        db::audit::record(conn, &event(user, name, "USER", found.id, changes)).await?;
        Ok(())
    })
    .await?;
    Ok(generated.map(|(password, _)| password))
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
pub async fn act(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, WebError> {
    let (id, action) = path.into_inner();
    let action = RowAction::from_path(&action).ok_or(WebError::NotFound)?;
    require(&user, Resource::User, AdminAction::Change)?;
    let found = target(&state, &user, id).await?;
    let generated = match apply(&state, &user, &found, action).await {
        Ok(generated) => generated,
        Err(AdminError::Refused(reason)) => {
            let mut dialog = confirm(&req, &user, &found, action);
            dialog.allowed = false;
            dialog.question = format!("{} cannot be done now.", action.title());
            dialog.detail = None;
            dialog.error = Some(reason);
            return dialog.respond(&req, StatusCode::CONFLICT);
        }
        Err(AdminError::Invalid(e)) => return Err(e.into()),
        Err(AdminError::Web(e)) => return Err(e),
    };
    let name = found.full_name();
    if let Some(generated) = generated {
        let dialog = PasswordDialog {
            frame: Frame::new(&user, PAGE),
            modal: is_htmx(&req),
            title: format!("{name}: New password"),
            revealed: Revealed { email: found.email.clone(), password: generated.reveal().to_owned() },
        };
        let body = if is_htmx(&req) { dialog.as_dialog().render()? } else { dialog.render()? };
        let mut response = secret_answer(HttpResponse::Ok(), body);
        if is_htmx(&req) {
            let headers = response.headers_mut();
            headers.insert(HeaderName::from_static("hx-retarget"), HeaderValue::from_static("#modal"));
            headers.insert(HeaderName::from_static("hx-reswap"), HeaderValue::from_static("innerHTML"));
        }
        return Ok(response);
    }
    let message = match action {
        RowAction::Deactivate => format!("Deactivated {name}; their sessions have ended"),
        RowAction::Reactivate => format!("Reactivated {name}"),
        _ => format!("Added {name} to {}", user.account.name),
    };
    let list = list_for(&req, &user, &state).await?;
    changed(&req, PAGE, list, &message)
}
