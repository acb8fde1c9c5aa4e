//! The Budget Codes page (`/admin/budget-codes`): the company's codes with
//! their quotas and this month's figures, and the changes an administrator
//! makes to them.
//!
//! | route | what |
//! |---|---|
//! | `GET /admin/budget-codes` | the list, and the add form |
//! | `POST /admin/budget-codes` | add (`name`, `finance_code`, `description`, `soft_quota`, `hard_quota`) |
//! | `GET /admin/budget-codes/{id}/edit`, `POST /admin/budget-codes/{id}` | edit (the same fields and `version`) |
//! | `GET`/`POST /admin/budget-codes/{id}/deactivate` | deactivate (`replacement_id`) |
//! | `POST /admin/budget-codes/{id}/reactivate` | reactivate |
//!
//! Codes are company-wide: the page shows the codes of the current account's
//! company, and another company's id is a 404. Rights: `BUDGET Access` to
//! see, `BUDGET Configure` to change (`user.require`; 403 otherwise, asked
//! before the id is looked up). The figures are `db::budget::figures_for`
//! at the time of the request.
//!
//! The changes, with their transactions, audit events and rules, are
//! `changes::budget_codes`. A stale edit answers 409 with the current
//! values in the form. Answers follow the Key Pairs page: htmx gets
//! fragments (the list replaced, a flash, the dialog closed), a plain form
//! POST-redirect-GET; a form that fails comes back with 422 and the messages
//! at the fields.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::changes::budget_codes::Deactivated;
use crate::changes::{self, ChangeError};
use crate::db;
use crate::db::budget::BudgetCode;
use crate::db::budget_codes::{Moved, VersionedCode};
use crate::domain::ValidationError;
use crate::domain::access::{Action, Resource};
use crate::domain::budget::BudgetState;
use crate::domain::budget_codes::{BudgetCodeInput, RawBudgetCode, format_money, format_rate, parse};
use crate::domain::refusal::Refusal;
use crate::web::dialog::{done, respond};
use crate::web::error::{WebError, change_status};
use crate::web::layout::Frame;
use crate::web::respond::{added, form_again, page_or_list};
use crate::web::{AppState, is_htmx};

const PAGE: &str = "/admin/budget-codes";

/// A row of the list.
pub struct CodeView {
    pub id: i64,
    pub name: String,
    pub finance_code: String,
    pub description: String,
    pub soft_quota: String,
    pub hard_quota: String,
    pub run_rate: String,
    pub current_usage: String,
    pub projected_usage: String,
    pub state: BudgetState,
    pub active: bool,
}

impl CodeView {
    /// The flag's CSS class, `state-normal` and so on.
    pub fn state_class(&self) -> String {
        format!("state-{}", self.state.as_str().to_ascii_lowercase())
    }
}

/// The add or edit form as typed, with its messages.
#[derive(Default)]
pub struct CodeForm {
    pub name: String,
    pub finance_code: String,
    pub description: String,
    pub soft_quota: String,
    pub hard_quota: String,
    pub version: i32,
    pub name_error: Option<String>,
    pub finance_code_error: Option<String>,
    pub description_error: Option<String>,
    pub soft_quota_error: Option<String>,
    pub hard_quota_error: Option<String>,
    /// A problem of the whole form (someone else saved first).
    pub error: Option<String>,
}

impl CodeForm {
    fn of(code: &VersionedCode) -> Self {
        let c = &code.code;
        Self {
            name: c.name.clone(),
            finance_code: c.finance_code.clone(),
            description: c.description.clone(),
            soft_quota: c.soft_quota.with_scale(2).to_string(),
            hard_quota: c.hard_quota.with_scale(2).to_string(),
            version: code.version,
            ..Self::default()
        }
    }

    fn typed(form: &CodeFormData) -> Self {
        Self {
            name: form.name.clone(),
            finance_code: form.finance_code.clone(),
            description: form.description.clone(),
            soft_quota: form.soft_quota.clone(),
            hard_quota: form.hard_quota.clone(),
            version: form.version.unwrap_or(0),
            ..Self::default()
        }
    }

    fn with(mut self, errors: Vec<ValidationError>) -> Self {
        for e in errors {
            let slot = match e.field {
                "name" => &mut self.name_error,
                "finance_code" => &mut self.finance_code_error,
                "description" => &mut self.description_error,
                "soft_quota" => &mut self.soft_quota_error,
                "hard_quota" => &mut self.hard_quota_error,
                _ => &mut self.error,
            };
            slot.get_or_insert(e.message);
        }
        self
    }
}

#[derive(Template)]
#[template(path = "admin/budget_codes.html", blocks = ["form", "list"])]
struct CodesPage {
    frame: Frame,
    may_change: bool,
    form: CodeForm,
    /// Ids of the form's fields start with this (one form per page).
    prefix: &'static str,
    rows: Vec<CodeView>,
    /// The list replaces the page's list out of band (after an add).
    oob: bool,
    csrf_token: String,
}

async fn page(user: &CurrentUser, state: &AppState, form: CodeForm) -> Result<CodesPage, WebError> {
    let mut conn = state.pool.get().await?;
    let codes = db::budget::codes_of_company(&mut conn, user.account.company_id).await?;
    let rows = db::budget::figures_for(&mut conn, codes, chrono::Utc::now())
        .await?
        .into_iter()
        .map(|(code, figures)| CodeView {
            id: code.id,
            active: code.is_active(),
            soft_quota: format_money(&code.soft_quota),
            hard_quota: format_money(&code.hard_quota),
            run_rate: format_rate(figures.run_rate()),
            current_usage: format_money(figures.current_usage()),
            projected_usage: format_money(figures.projected_usage()),
            state: figures.state(),
            name: code.name,
            finance_code: code.finance_code,
            description: code.description,
        })
        .collect();
    Ok(CodesPage {
        frame: Frame::new(user, PAGE),
        may_change: user.rights.may(Resource::Budget, Action::Configure),
        form,
        prefix: "new",
        rows,
        oob: false,
        csrf_token: user.csrf_token.clone(),
    })
}

async fn list_fragment(user: &CurrentUser, state: &AppState) -> Result<String, WebError> {
    Ok(page(user, state, CodeForm::default()).await?.as_list().render()?)
}

#[get("/admin/budget-codes")]
pub async fn index(req: HttpRequest, user: CurrentUser, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    user.require(Resource::Budget, Action::Access)?;
    let page = page(&user, &state, CodeForm::default()).await?;
    page_or_list(&req, "budget-code-list", || page.render(), || page.as_list().render())
}

#[derive(Deserialize)]
pub struct CodeFormData {
    #[serde(default)]
    name: String,
    #[serde(default)]
    finance_code: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    soft_quota: String,
    #[serde(default)]
    hard_quota: String,
    /// Only the edit form has it.
    #[serde(default)]
    version: Option<i32>,
}

impl CodeFormData {
    fn parse(&self) -> Result<BudgetCodeInput, Vec<ValidationError>> {
        parse(&RawBudgetCode {
            name: &self.name,
            finance_code: &self.finance_code,
            description: &self.description,
            soft_quota: &self.soft_quota,
            hard_quota: &self.hard_quota,
        })
    }
}

#[post("/admin/budget-codes")]
pub async fn create(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: web::Form<CodeFormData>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Budget, Action::Configure)?;
    let created = match form.parse() {
        Ok(input) => {
            let mut conn = state.pool.get().await?;
            changes::budget_codes::create(&mut conn, &user.actor(), &input).await.map(|_| input)
        }
        Err(errors) => Err(ChangeError::Invalid(errors)),
    };
    let input = match created {
        Ok(input) => input,
        Err(e) => match e.field_errors() {
            Some(errors) => {
                let page = page(&user, &state, CodeForm::typed(&form).with(errors)).await?;
                return form_again(&req, || page.as_form().render(), || page.render());
            }
            None => return Err(e.into()),
        },
    };
    added(&req, PAGE, &format!("Added budget code “{}”", input.name), async || {
        let mut page = page(&user, &state, CodeForm::default()).await?;
        let form = page.as_form().render()?;
        page.oob = true;
        Ok((form, page.as_list().render()?))
    })
    .await
}

/// The edit dialog (a page of its own without htmx).
#[derive(Template)]
#[template(path = "admin/budget_codes_edit.html", blocks = ["dialog"])]
struct EditDialog {
    frame: Frame,
    modal: bool,
    id: i64,
    title: String,
    form: CodeForm,
    prefix: &'static str,
    csrf_token: String,
}

impl EditDialog {
    fn new(req: &HttpRequest, user: &CurrentUser, code: &BudgetCode, form: CodeForm) -> Self {
        Self {
            frame: Frame::new(user, PAGE),
            modal: is_htmx(req),
            id: code.id,
            title: format!("{}: Edit", code.name),
            form,
            prefix: "edit",
            csrf_token: user.csrf_token.clone(),
        }
    }

    fn respond(&self, req: &HttpRequest, status: StatusCode) -> Result<HttpResponse, WebError> {
        respond(req, status, if is_htmx(req) { self.as_dialog().render() } else { self.render() })
    }
}

async fn find(user: &CurrentUser, state: &AppState, id: i64) -> Result<VersionedCode, WebError> {
    let mut conn = state.pool.get().await?;
    Ok(db::budget_codes::find(&mut conn, user.account.company_id, id).await?)
}

#[get("/admin/budget-codes/{id}/edit")]
pub async fn edit(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Budget, Action::Configure)?;
    let code = find(&user, &state, id.into_inner()).await?;
    EditDialog::new(&req, &user, &code.code, CodeForm::of(&code)).respond(&req, StatusCode::OK)
}

#[post("/admin/budget-codes/{id}")]
pub async fn update(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<CodeFormData>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Budget, Action::Configure)?;
    let code = find(&user, &state, id.into_inner()).await?;
    let version = super::sent_version(form.version)?;
    let input = match form.parse() {
        Ok(input) => input,
        Err(errors) => {
            let dialog = EditDialog::new(&req, &user, &code.code, CodeForm::typed(&form).with(errors));
            return dialog.respond(&req, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let id = code.code.id;
    let mut conn = state.pool.get().await?;
    let saved = changes::budget_codes::update(&mut conn, &user.actor(), id, version, &input).await;
    drop(conn);
    match saved {
        Ok(()) => {
            let list = if is_htmx(&req) { list_fragment(&user, &state).await? } else { String::new() };
            done(&req, list, &format!("Saved budget code “{}”", input.name), PAGE)
        }
        Err(ChangeError::Refused(Refusal::StaleVersion { .. })) => {
            let current = find(&user, &state, id).await?;
            let mut form = CodeForm::of(&current);
            form.error = Some(super::changed_meanwhile("budget code"));
            EditDialog::new(&req, &user, &current.code, form).respond(&req, StatusCode::CONFLICT)
        }
        Err(e) => match e.field_errors() {
            Some(errors) => EditDialog::new(&req, &user, &code.code, CodeForm::typed(&form).with(errors))
                .respond(&req, StatusCode::UNPROCESSABLE_ENTITY),
            None => Err(e.into()),
        },
    }
}

/// A code the replacement select offers.
pub struct Choice {
    pub id: i64,
    pub name: String,
    pub finance_code: String,
}

/// The Deactivate dialog: the replacement to choose, or why it cannot be.
#[derive(Template)]
#[template(path = "admin/budget_codes_deactivate.html", blocks = ["dialog"])]
struct DeactivateDialog {
    frame: Frame,
    modal: bool,
    id: i64,
    name: String,
    choices: Vec<Choice>,
    chosen: Option<i64>,
    error: Option<String>,
    /// Refused outright (already inactive): the dialog only explains.
    allowed: bool,
    csrf_token: String,
}

impl DeactivateDialog {
    async fn new(req: &HttpRequest, user: &CurrentUser, state: &AppState, code: &BudgetCode) -> Result<Self, WebError> {
        let mut conn = state.pool.get().await?;
        let others: Vec<BudgetCode> = db::budget::codes_of_company(&mut conn, user.account.company_id)
            .await?
            .into_iter()
            .filter(|c| c.is_active() && c.id != code.id)
            .collect();
        let choices =
            others.into_iter().map(|c| Choice { id: c.id, name: c.name, finance_code: c.finance_code }).collect();
        Ok(Self {
            frame: Frame::new(user, PAGE),
            modal: is_htmx(req),
            id: code.id,
            name: code.name.clone(),
            choices,
            chosen: None,
            error: None,
            allowed: code.is_active(),
            csrf_token: user.csrf_token.clone(),
        })
    }

    fn explain(mut self, why: String) -> Self {
        self.error = Some(why);
        self
    }

    fn respond(&self, req: &HttpRequest, status: StatusCode) -> Result<HttpResponse, WebError> {
        respond(req, status, if is_htmx(req) { self.as_dialog().render() } else { self.render() })
    }
}

#[get("/admin/budget-codes/{id}/deactivate")]
pub async fn confirm_deactivate(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Budget, Action::Configure)?;
    let code = find(&user, &state, id.into_inner()).await?;
    let mut dialog = DeactivateDialog::new(&req, &user, &state, &code.code).await?;
    if !code.code.is_active() {
        dialog = dialog.explain(Refusal::BudgetCodeInactive { name: code.code.name.clone() }.message());
    } else if dialog.choices.is_empty() {
        dialog.allowed = false;
        dialog = dialog.explain(
            "There is no other active budget code to take over. Add one first, then deactivate this one.".into(),
        );
    }
    dialog.respond(&req, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct DeactivateForm {
    #[serde(default)]
    replacement_id: String,
}

#[post("/admin/budget-codes/{id}/deactivate")]
pub async fn deactivate(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<DeactivateForm>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Budget, Action::Configure)?;
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    let outcome = changes::budget_codes::deactivate(&mut conn, &user.actor(), id, &form.replacement_id).await;
    drop(conn);
    let e = match outcome {
        Ok(Deactivated { name, replacement, moved }) => {
            let message = deactivated_message(&name, &replacement, moved);
            let list = if is_htmx(&req) { list_fragment(&user, &state).await? } else { String::new() };
            return done(&req, list, &message, PAGE);
        }
        Err(e @ (ChangeError::Invalid(_) | ChangeError::Refused(_))) => e,
        Err(e) => return Err(e.into()),
    };
    // The dialog again, with the reason.
    let code = find(&user, &state, id).await?;
    let mut dialog = DeactivateDialog::new(&req, &user, &state, &code.code).await?;
    dialog.chosen = form.replacement_id.trim().parse().ok();
    dialog.explain(e.to_string()).respond(&req, change_status(&e))
}

fn deactivated_message(name: &str, replacement: &str, moved: Moved) -> String {
    let count = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "Deactivated “{name}”: {}, {} and {} moved to “{replacement}”",
        count(moved.servers, "server", "servers"),
        count(moved.images, "image", "images"),
        count(moved.users, "holder", "holders"),
    )
}

#[post("/admin/budget-codes/{id}/reactivate")]
pub async fn reactivate(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Budget, Action::Configure)?;
    let mut conn = state.pool.get().await?;
    let reactivated = changes::budget_codes::reactivate(&mut conn, &user.actor(), id.into_inner()).await?;
    drop(conn);
    let message = if reactivated.changed {
        format!("Reactivated budget code “{}”", reactivated.name)
    } else {
        format!("“{}” is active already", reactivated.name)
    };
    let list = if is_htmx(&req) { list_fragment(&user, &state).await? } else { String::new() };
    done(&req, list, &message, PAGE)
}
