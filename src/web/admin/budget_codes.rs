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
//! company, and another company's id is a 404. Rights are in
//! `domain::budget_admin` (`BUDGET Access` to see, `BUDGET Configure` to
//! change; 403 otherwise, asked before the id is looked up). The figures are
//! `db::budget::figures_for` at the time of the request.
//!
//! Every change is one transaction with its audit event (resource `BUDGET`,
//! actions `create`, `update`, `deactivate`, `reactivate`). Edits are
//! optimistic: the form carries the version it was read at, and a stale one
//! answers 409 with the current values in the form. Names are unique per
//! company regardless of case (a unique index; the check before the insert
//! only gives the message early). Answers follow the Key Pairs page: htmx
//! gets fragments (the list replaced, a flash, the dialog closed), a plain
//! form POST-redirect-GET; a form that fails comes back with 422 and the
//! messages at the fields.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use diesel_async::AsyncConnection as _;
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::db::budget::BudgetCode;
use crate::db::budget_admin::{CodeFields, Moved, NotDeactivated, VersionedCode};
use crate::db::{self, audit::NewAuditEvent};
use crate::domain::ValidationError;
use crate::domain::budget::BudgetState;
use crate::domain::budget_admin::{self as rules, BudgetCodeInput, RawBudgetCode, format_money, format_rate};
use crate::web::dialog::{done, respond};
use crate::web::error::WebError;
use crate::web::layout::Frame;
use crate::web::respond::{FlashFragment, html};
use crate::web::{AppState, is_htmx, see_other};

const PAGE: &str = "/admin/budget-codes";

fn may_see(user: &CurrentUser) -> Result<(), WebError> {
    if rules::may_see(&user.rights) {
        Ok(())
    } else {
        Err(WebError::Forbidden("Your role in this account does not allow seeing budget codes.".into()))
    }
}

fn may_change(user: &CurrentUser) -> Result<(), WebError> {
    if rules::may_change(&user.rights) {
        Ok(())
    } else {
        Err(WebError::Forbidden("Your role in this account does not allow changing budget codes.".into()))
    }
}

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
        may_change: rules::may_change(&user.rights),
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
    may_see(&user)?;
    let page = page(&user, &state, CodeForm::default()).await?;
    let partial = req.headers().get("HX-Target").is_some_and(|t| t == "budget-code-list");
    let body = if partial { page.as_list().render()? } else { page.render()? };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Vary", "HX-Request, HX-Target"))
        .body(body))
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
        rules::parse(&RawBudgetCode {
            name: &self.name,
            finance_code: &self.finance_code,
            description: &self.description,
            soft_quota: &self.soft_quota,
            hard_quota: &self.hard_quota,
        })
    }
}

fn fields(input: &BudgetCodeInput) -> CodeFields<'_> {
    CodeFields {
        name: &input.name,
        finance_code: &input.finance_code,
        description: &input.description,
        soft_quota: &input.soft_quota,
        hard_quota: &input.hard_quota,
    }
}

fn event<'a>(user: &CurrentUser, action: &'a str, id: i64, changes: serde_json::Value) -> NewAuditEvent<'a> {
    NewAuditEvent {
        account_id: Some(user.account.id),
        user_id: Some(user.user.id),
        action,
        resource: "BUDGET",
        resource_id: Some(id.to_string()),
        outcome: "success",
        changes,
    }
}

/// Why a change was not made; `Web` is answered as any other error.
enum Refused {
    Invalid(Vec<ValidationError>),
    /// The edit's version is stale: someone else saved first.
    Stale,
    Web(WebError),
}

impl From<diesel::result::Error> for Refused {
    fn from(e: diesel::result::Error) -> Self {
        Refused::Web(e.into())
    }
}

fn name_taken(input: &BudgetCodeInput) -> Refused {
    Refused::Invalid(vec![ValidationError::new(
        "name",
        format!("The company already has a budget code named “{}”.", input.name),
    )])
}

fn unique_violation(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}

#[post("/admin/budget-codes")]
pub async fn create(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    form: web::Form<CodeFormData>,
) -> Result<HttpResponse, WebError> {
    may_change(&user)?;
    let input = match form.parse() {
        Ok(input) => input,
        Err(errors) => return form_answer(&req, &user, &state, CodeForm::typed(&form).with(errors)).await,
    };
    let company = user.account.company_id;
    let mut conn = state.pool.get().await?;
    let saved = conn
        .transaction::<_, Refused, _>(async |conn| {
            if db::budget_admin::name_taken(conn, company, &input.name, None).await? {
                return Err(name_taken(&input));
            }
            let id = match db::budget_admin::insert(conn, company, &fields(&input)).await {
                Ok(id) => id,
                Err(e) if unique_violation(&e) => return Err(name_taken(&input)),
                Err(e) => return Err(e.into()),
            };
            let changes = serde_json::json!({
                "name": input.name, "finance_code": input.finance_code, "description": input.description,
                "soft_quota": input.soft_quota.to_string(), "hard_quota": input.hard_quota.to_string(),
            });
            db::audit::record(conn, &event(&user, "create", id, changes)).await?;
            Ok(id)
        })
        .await;
    match saved {
        Ok(_) => added(&req, &user, &state, &format!("Added budget code “{}”", input.name)).await,
        Err(Refused::Invalid(errors)) => form_answer(&req, &user, &state, CodeForm::typed(&form).with(errors)).await,
        Err(Refused::Stale) => Err(WebError::Conflict("The budget code changed meanwhile.".into())),
        Err(Refused::Web(e)) => Err(e),
    }
}

/// The add form again with its messages (422): the form alone for htmx,
/// else the page.
async fn form_answer(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    form: CodeForm,
) -> Result<HttpResponse, WebError> {
    let page = page(user, state, form).await?;
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    html(status, if is_htmx(req) { page.as_form().render() } else { page.render() })
}

/// Added: htmx gets an empty form, the list and a flash; a plain form goes
/// back to the page.
async fn added(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    message: &str,
) -> Result<HttpResponse, WebError> {
    if !is_htmx(req) {
        crate::auth::current::flash_next(req, message)?;
        return Ok(see_other(PAGE));
    }
    let mut page = page(user, state, CodeForm::default()).await?;
    let form = page.as_form().render()?;
    page.oob = true;
    let list = page.as_list().render()?;
    let flash = FlashFragment { message }.render()?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(form + &list + &flash))
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
    Ok(db::budget_admin::find(&mut conn, user.account.company_id, id).await?)
}

#[get("/admin/budget-codes/{id}/edit")]
pub async fn edit(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    may_change(&user)?;
    let code = find(&user, &state, id.into_inner()).await?;
    EditDialog::new(&req, &user, &code.code, CodeForm::of(&code)).respond(&req, StatusCode::OK)
}

/// `{"field": {"from": old, "to": new}}` for the fields that changed.
fn differences(before: &BudgetCode, after: &BudgetCodeInput) -> serde_json::Value {
    let mut changes = serde_json::Map::new();
    let mut diff = |field: &str, from: String, to: String| {
        if from != to {
            changes.insert(field.into(), serde_json::json!({ "from": from, "to": to }));
        }
    };
    diff("name", before.name.clone(), after.name.clone());
    diff("finance_code", before.finance_code.clone(), after.finance_code.clone());
    diff("description", before.description.clone(), after.description.clone());
    diff("soft_quota", before.soft_quota.with_scale(2).to_string(), after.soft_quota.to_string());
    diff("hard_quota", before.hard_quota.with_scale(2).to_string(), after.hard_quota.to_string());
    serde_json::Value::Object(changes)
}

#[post("/admin/budget-codes/{id}")]
pub async fn update(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<CodeFormData>,
) -> Result<HttpResponse, WebError> {
    may_change(&user)?;
    let code = find(&user, &state, id.into_inner()).await?;
    let Some(version) = form.version else {
        return Err(WebError::BadRequest("The form has no version; reload the page and edit again.".into()));
    };
    let input = match form.parse() {
        Ok(input) => input,
        Err(errors) => {
            let dialog = EditDialog::new(&req, &user, &code.code, CodeForm::typed(&form).with(errors));
            return dialog.respond(&req, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let company = user.account.company_id;
    let id = code.code.id;
    let mut conn = state.pool.get().await?;
    let saved = conn
        .transaction::<_, Refused, _>(async |conn| {
            if db::budget_admin::name_taken(conn, company, &input.name, Some(id)).await? {
                return Err(name_taken(&input));
            }
            let before = db::budget_admin::find(conn, company, id).await?;
            match db::budget_admin::update(conn, company, id, version, &fields(&input)).await {
                Ok(true) => {}
                Ok(false) => return Err(Refused::Stale),
                Err(e) if unique_violation(&e) => return Err(name_taken(&input)),
                Err(e) => return Err(e.into()),
            }
            db::audit::record(conn, &event(&user, "update", id, differences(&before.code, &input))).await?;
            Ok(())
        })
        .await;
    drop(conn);
    match saved {
        Ok(()) => {
            let list = if is_htmx(&req) { list_fragment(&user, &state).await? } else { String::new() };
            done(&req, list, &format!("Saved budget code “{}”", input.name), PAGE)
        }
        Err(Refused::Invalid(errors)) => EditDialog::new(&req, &user, &code.code, CodeForm::typed(&form).with(errors))
            .respond(&req, StatusCode::UNPROCESSABLE_ENTITY),
        Err(Refused::Stale) => {
            let current = find(&user, &state, id).await?;
            let mut form = CodeForm::of(&current);
            form.error = Some(
                "Someone else changed this budget code while you were editing. The form now shows the current \
                 values; make your change again."
                    .into(),
            );
            EditDialog::new(&req, &user, &current.code, form).respond(&req, StatusCode::CONFLICT)
        }
        Err(Refused::Web(e)) => Err(e),
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
    async fn new(
        req: &HttpRequest,
        user: &CurrentUser,
        state: &AppState,
        code: &BudgetCode,
    ) -> Result<(Self, Vec<i64>), WebError> {
        let mut conn = state.pool.get().await?;
        let others: Vec<BudgetCode> = db::budget::codes_of_company(&mut conn, user.account.company_id)
            .await?
            .into_iter()
            .filter(|c| c.is_active() && c.id != code.id)
            .collect();
        let active = others.iter().map(|c| c.id).collect();
        let choices =
            others.into_iter().map(|c| Choice { id: c.id, name: c.name, finance_code: c.finance_code }).collect();
        let dialog = Self {
            frame: Frame::new(user, PAGE),
            modal: is_htmx(req),
            id: code.id,
            name: code.name.clone(),
            choices,
            chosen: None,
            error: None,
            allowed: code.is_active(),
            csrf_token: user.csrf_token.clone(),
        };
        Ok((dialog, active))
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
    may_change(&user)?;
    let code = find(&user, &state, id.into_inner()).await?;
    let (mut dialog, _) = DeactivateDialog::new(&req, &user, &state, &code.code).await?;
    if !code.code.is_active() {
        dialog = dialog.explain(format!("{} is inactive already.", code.code.name));
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
    may_change(&user)?;
    let code = find(&user, &state, id.into_inner()).await?;
    let (mut dialog, active) = DeactivateDialog::new(&req, &user, &state, &code.code).await?;
    dialog.chosen = form.replacement_id.trim().parse().ok();
    if !code.code.is_active() {
        let why = format!("{} is inactive already.", code.code.name);
        return dialog.explain(why).respond(&req, StatusCode::CONFLICT);
    }
    let replacement = match rules::replacement(code.code.id, &form.replacement_id, &active) {
        Ok(id) => id,
        Err(e) => return dialog.explain(e.message).respond(&req, StatusCode::UNPROCESSABLE_ENTITY),
    };
    let company = user.account.company_id;
    let mut conn = state.pool.get().await?;
    let outcome = conn
        .transaction::<_, WebError, _>(async |conn| {
            let moved = db::budget_admin::deactivate(conn, company, code.code.id, replacement).await?;
            let (old, new, moved) = match moved {
                Ok(done) => done,
                Err(refused) => return Ok(Err(refused)),
            };
            let changes = serde_json::json!({
                "status": { "from": old.code.status, "to": db::budget_admin::INACTIVE },
                "replacement": { "id": new.code.id, "name": new.code.name },
                "moved": { "servers": moved.servers, "image_records": moved.images, "users": moved.users },
            });
            db::audit::record(conn, &event(&user, "deactivate", old.code.id, changes)).await?;
            Ok(Ok((new.code.name, moved)))
        })
        .await?;
    drop(conn);
    match outcome {
        Ok((replacement, moved)) => {
            let message = deactivated_message(&code.code.name, &replacement, moved);
            let list = if is_htmx(&req) { list_fragment(&user, &state).await? } else { String::new() };
            done(&req, list, &message, PAGE)
        }
        Err(NotDeactivated::AlreadyInactive) => {
            let why = format!("{} is inactive already.", code.code.name);
            dialog.explain(why).respond(&req, StatusCode::CONFLICT)
        }
        Err(NotDeactivated::ReplacementInactive) => dialog
            .explain("That budget code was deactivated meanwhile; choose another one.".into())
            .respond(&req, StatusCode::UNPROCESSABLE_ENTITY),
    }
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
    may_change(&user)?;
    let code = find(&user, &state, id.into_inner()).await?;
    let company = user.account.company_id;
    let mut conn = state.pool.get().await?;
    let changed = conn
        .transaction::<_, WebError, _>(async |conn| {
            if !db::budget_admin::reactivate(conn, company, code.code.id).await? {
                return Ok(false);
            }
            let changes =
                serde_json::json!({ "status": { "from": db::budget_admin::INACTIVE, "to": BudgetCode::ACTIVE } });
            db::audit::record(conn, &event(&user, "reactivate", code.code.id, changes)).await?;
            Ok(true)
        })
        .await?;
    drop(conn);
    let message = if changed {
        format!("Reactivated budget code “{}”", code.code.name)
    } else {
        format!("“{}” is active already", code.code.name)
    };
    let list = if is_htmx(&req) { list_fragment(&user, &state).await? } else { String::new() };
    done(&req, list, &message, PAGE)
}
