//! The Cloud Accounts page (`/admin/accounts`, PRODUCT 7.2): the company's
//! accounts with how each is reached and how it is doing, and the form that
//! connects another.
//!
//! | route | what |
//! |---|---|
//! | `GET /admin/accounts` | the list and the Connect account form (`?first=1` after set-up) |
//! | `POST /admin/accounts` | test (`test_only`) or connect: `name`, `regions`, `endpoint`, `auth`, `role_arn` or `access_key_id` + `secret_access_key` |
//! | `GET`/`POST /admin/accounts/{id}` | edit: `name`, `members`, and new credentials (`auth` = `keep` keeps them) |
//! | `POST /admin/accounts/{id}/disable`, `/enable` | with `version` |
//!
//! Rights: `ACCOUNT Access` to see, `ACCOUNT Configure` to change, in the
//! account the administrator works in, or, with no account yet, what their
//! groups receive in a new one (`SignedIn`). Another company's id is a 404.
//! The forms are plain (a connection test takes seconds; the page answers
//! when it is done): a failed test or a bad field comes back with 422 and
//! the message at its field, the secret never sent back.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::{Choice, choices};
use crate::auth::SignedIn;
use crate::auth::current::flash_next;
use crate::changes::ChangeError;
use crate::changes::cloud_accounts::{self, Admin, ConnectInput, EditInput, NewCredentials};
use crate::db;
use crate::db::accounts::Listed;
use crate::domain::ValidationError;
use crate::domain::access::{Action, Resource};
use crate::domain::onboarding::{REGIONS, region_name};
use crate::domain::refusal::Refusal;
use crate::web::error::{WebError, refusal_status};
use crate::web::layout::{Frame, Moment};
use crate::web::{AppState, HtmlForm, see_other};

const PAGE: &str = "/admin/accounts";

fn admin(user: &SignedIn) -> Admin<'_> {
    Admin { user: &user.user, account: user.account.as_ref(), rights: &user.rights }
}

/// A row of the list.
pub struct AccountRow {
    pub id: i64,
    pub name: String,
    pub region: String,
    pub number: String,
    pub endpoint: Option<String>,
    /// How the console signs in, shortly, and in full (the role's ARN).
    pub auth: String,
    pub auth_detail: String,
    /// Whether the list shows `auth_detail` under `auth` (an access key's
    /// id), rather than only on hover (a role's ARN: its account and name
    /// are in the row already).
    pub auth_detail_shown: bool,
    pub state: State,
    pub synced: Option<Moment>,
    pub members: i64,
    pub version: i32,
    /// The user holds `ACCOUNT Configure` in this account: its Edit and
    /// Disable buttons are offered.
    pub may_change: bool,
}

pub enum State {
    Connected,
    Failing { since: Moment, reason: String },
    Disabled,
}

impl AccountRow {
    fn of(a: Listed, may_change: bool) -> Self {
        let (auth, auth_detail) = match (a.auth.as_str(), &a.role_arn, &a.access_key_id) {
            ("assume_role", Some(arn), _) => {
                let role = arn.rsplit('/').next().unwrap_or(arn);
                (format!("Assumes role {role}"), arn.clone())
            }
            ("access_key", _, Some(id)) => ("Access key".to_owned(), id.clone()),
            _ => ("The console's own credentials".to_owned(), String::new()),
        };
        let state = match (a.disabled_at, a.unreachable_since) {
            (Some(_), _) => State::Disabled,
            (None, Some(since)) => State::Failing {
                since: Moment::new(since),
                reason: a.failure.unwrap_or_else(|| "the provider did not answer".to_owned()),
            },
            (None, None) => State::Connected,
        };
        let region = match region_name(&a.region) {
            Some(name) => format!("{name} ({})", a.region),
            None => a.region.clone(),
        };
        Self {
            id: a.id,
            name: a.name,
            region,
            number: a.provider_account_number,
            endpoint: a.endpoint,
            auth,
            auth_detail_shown: a.auth == "access_key" && !auth_detail.is_empty(),
            auth_detail,
            state,
            synced: a.synced_at.map(Moment::new),
            members: a.members,
            version: a.version,
            may_change,
        }
    }

    pub fn disabled(&self) -> bool {
        matches!(self.state, State::Disabled)
    }
}

/// The Connect account form as typed (never the secret), with its messages.
pub struct ConnectForm {
    pub name: String,
    pub regions: Vec<RegionChoice>,
    pub endpoint: String,
    pub auth: String,
    pub role_arn: String,
    pub access_key_id: String,
    pub errors: Vec<ValidationError>,
}

impl ConnectForm {
    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }

    /// The providers offered, as `(value, title)`.
    pub fn providers(&self) -> &'static [(&'static str, &'static str)] {
        crate::domain::onboarding::PROVIDERS
    }

    /// The form as it first opens: every region offered, the recommended
    /// way to sign in chosen.
    fn blank() -> Self {
        Self {
            name: String::new(),
            regions: region_choices(&[]),
            endpoint: String::new(),
            auth: "assume_role".into(),
            role_arn: String::new(),
            access_key_id: String::new(),
            errors: Vec::new(),
        }
    }

    fn typed(form: &ConnectData) -> Self {
        Self {
            name: form.name.clone(),
            regions: region_choices(&form.regions),
            endpoint: form.endpoint.clone(),
            auth: form.auth.clone(),
            role_arn: form.role_arn.clone(),
            access_key_id: form.access_key_id.clone(),
            errors: Vec::new(),
        }
    }
}

/// A region of the form's list.
pub struct RegionChoice {
    pub code: &'static str,
    pub name: &'static str,
    pub checked: bool,
}

fn region_choices(checked: &[String]) -> Vec<RegionChoice> {
    REGIONS
        .iter()
        .map(|&(code, name)| RegionChoice { code, name, checked: checked.iter().any(|c| c == code) })
        .collect()
}

#[derive(Template)]
#[template(path = "admin/accounts.html")]
struct AccountsPage {
    frame: Frame,
    first: bool,
    may_change: bool,
    rows: Vec<AccountRow>,
    form: ConnectForm,
    external_id: String,
    trust_policy: String,
    /// What the last test found.
    tested: Option<String>,
    keeps_secrets: bool,
    /// Days deleted images wait in the recycle bin, as shown or as typed.
    retention: String,
    retention_error: Option<String>,
    /// The retention rules every account's bin: only an administrator of
    /// each may change it. Others read it.
    may_set_retention: bool,
    retention_now: String,
}

/// The JSON of the trust policy a role needs so that the console may
/// assume it with the company's external ID.
fn trust_policy(own_account: Option<&str>, external_id: &str) -> String {
    let principal = match own_account {
        Some(account) => format!("arn:aws:iam::{account}:root"),
        None => "arn:aws:iam::<the AWS account the console runs as>:root".to_owned(),
    };
    // Written out in the order AWS's documents use; both values are JSON
    // strings without anything to escape (digits, `stratus-` and hex).
    let principal = serde_json::Value::from(principal);
    let external_id = serde_json::Value::from(external_id);
    format!(
        r#"{{
  "Version": "2012-10-17",
  "Statement": [
    {{
      "Effect": "Allow",
      "Principal": {{ "AWS": {principal} }},
      "Action": "sts:AssumeRole",
      "Condition": {{
        "StringEquals": {{ "sts:ExternalId": {external_id} }}
      }}
    }}
  ]
}}"#
    )
}

async fn render(
    state: &AppState,
    user: &SignedIn,
    first: bool,
    form: ConnectForm,
    tested: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let page = page(state, user, first, form, tested).await?;
    Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").body(page.render()?))
}

async fn page(
    state: &AppState,
    user: &SignedIn,
    first: bool,
    form: ConnectForm,
    tested: Option<String>,
) -> Result<AccountsPage, WebError> {
    let company = user.user.company_id;
    let (rows, external_id, retention_days, context) = {
        let mut conn = state.pool.get().await?;
        (
            db::accounts::of_company(&mut conn, company).await?,
            db::accounts::external_id(&mut conn, company).await?,
            db::images::retention_days(&mut conn, company).await?,
            db::access::auth_context(&mut conn, user.user.id).await?,
        )
    };
    let may_change = user.rights.may(Resource::Account, Action::Configure);
    // Each account's buttons by the user's rights in it (what its changes ask).
    let may_change_in = |account: i64| {
        may_change && context.as_ref().is_some_and(|c| c.rights_in(account).may(Resource::Account, Action::Configure))
    };
    let own = if may_change { state.own_account().await } else { None };
    let rows: Vec<AccountRow> = rows
        .into_iter()
        .map(|a| {
            let may = may_change_in(a.id);
            AccountRow::of(a, may)
        })
        .collect();
    let page = AccountsPage {
        frame: Frame::signed_in(user, PAGE),
        first: first && rows.is_empty(),
        may_change,
        may_set_retention: may_change && rows.iter().all(|row| row.may_change),
        retention_now: crate::domain::images::retention_phrase(retention_days),
        rows,
        trust_policy: trust_policy(own.as_deref(), &external_id),
        external_id,
        form,
        tested,
        keeps_secrets: state.jobs.secrets.is_some(),
        retention: retention_days.to_string(),
        retention_error: None,
    };
    Ok(page)
}

#[derive(Deserialize)]
pub struct IndexQuery {
    first: Option<String>,
}

#[get("/admin/accounts")]
pub async fn index(
    user: SignedIn,
    state: web::Data<AppState>,
    query: web::Query<IndexQuery>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Account, Action::Access)?;
    render(&state, &user, query.first.is_some(), ConnectForm::blank(), None, StatusCode::OK).await
}

#[derive(Deserialize, Default)]
pub struct ConnectData {
    #[serde(default)]
    name: String,
    /// One of `domain::onboarding::PROVIDERS` (empty: EC2, the only one).
    #[serde(default)]
    provider: String,
    #[serde(default)]
    regions: Vec<String>,
    #[serde(default)]
    endpoint: String,
    #[serde(default)]
    auth: String,
    #[serde(default)]
    role_arn: String,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    secret_access_key: String,
    test_only: Option<String>,
}

/// The fields of the Connect account form, where its errors show.
const CONNECT_FIELDS: &[&str] =
    &["name", "provider", "regions", "endpoint", "auth", "role_arn", "access_key_id", "secret_access_key"];

#[post("/admin/accounts")]
pub async fn connect(
    req: HttpRequest,
    user: SignedIn,
    state: web::Data<AppState>,
    form: HtmlForm<ConnectData>,
) -> Result<HttpResponse, WebError> {
    let form = form.0;
    user.require(Resource::Account, Action::Configure)?;
    let typed = ConnectForm::typed(&form);
    let credentials = NewCredentials::parse(&form.auth, &form.role_arn, &form.access_key_id, &form.secret_access_key);
    let input = match ConnectInput::parse(&form.name, &form.provider, &form.regions, &form.endpoint, credentials) {
        Ok(input) => input,
        Err(errors) => {
            let form = ConnectForm { errors, ..typed };
            return render(&state, &user, false, form, None, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let admin = admin(&user);
    if form.test_only.is_some() {
        return match cloud_accounts::test(&state.pool, &admin, &input, &state.jobs).await {
            Ok(number) => {
                let regions = input.regions.join(", ");
                let found = format!("The connection works: provider account {number}, EC2 answers in {regions}.");
                render(&state, &user, false, typed, Some(found), StatusCode::OK).await
            }
            Err(e) => failed(&state, &user, typed, e).await,
        };
    }
    match cloud_accounts::connect(&state.pool, &admin, &input, &state.jobs).await {
        Ok(created) => {
            let what = match created.len() {
                1 => format!("Connected {}.", input.name),
                n => format!("Connected {} in {n} regions.", input.name),
            };
            flash_next(&req, &format!("{what} Its images, catalog, sizes and zones arrive in a minute."))?;
            Ok(see_other(PAGE))
        }
        Err(e) => failed(&state, &user, typed, e).await,
    }
}

/// A change that was not made: at its field when it has one, a refusal
/// above the form, the form kept as typed.
async fn failed(
    state: &AppState,
    user: &SignedIn,
    form: ConnectForm,
    e: ChangeError,
) -> Result<HttpResponse, WebError> {
    match e {
        ChangeError::Refused(refusal) if refusal.field().is_none() => {
            let status = refusal_status(&refusal);
            let form = ConnectForm { errors: vec![ValidationError::new("form", refusal.message())], ..form };
            render(state, user, false, form, None, status).await
        }
        e => match e.field_errors() {
            Some(errors) if errors.iter().all(|e| CONNECT_FIELDS.contains(&e.field)) => {
                let form = ConnectForm { errors, ..form };
                render(state, user, false, form, None, StatusCode::UNPROCESSABLE_ENTITY).await
            }
            _ => Err(e.into()),
        },
    }
}

/// The edit form as typed, with its messages.
pub struct EditForm {
    pub name: String,
    pub auth: String,
    pub role_arn: String,
    pub access_key_id: String,
    pub members: Vec<Choice>,
    pub version: i32,
    pub errors: Vec<ValidationError>,
}

impl EditForm {
    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }
}

#[derive(Template)]
#[template(path = "admin/accounts_edit.html")]
struct EditPage {
    frame: Frame,
    account: AccountRow,
    form: EditForm,
    keeps_secrets: bool,
    may_delete: bool,
    /// Why the account could not be deleted.
    delete_error: Option<String>,
}

async fn render_edit(
    state: &AppState,
    user: &SignedIn,
    id: i64,
    form: impl FnOnce(&Listed, &[(i64, String)], &[i64]) -> EditForm,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    render_edit_page(state, user, id, form, None, status).await
}

async fn render_edit_page(
    state: &AppState,
    user: &SignedIn,
    id: i64,
    form: impl FnOnce(&Listed, &[(i64, String)], &[i64]) -> EditForm,
    delete_error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let company = user.user.company_id;
    let admin = admin(user);
    let (found, people, members, may_delete) = {
        let mut conn = state.pool.get().await?;
        let found = db::accounts::find_listed(&mut conn, company, id).await?;
        admin.require_in(&mut conn, id, &found.name, Action::Configure).await?;
        let may_delete =
            user.rights.may(Resource::Account, Action::Delete) && admin.may_in(&mut conn, id, Action::Delete).await?;
        let people = db::accounts::people(&mut conn, company).await?;
        (found, people, db::accounts::members(&mut conn, id).await?, may_delete)
    };
    let form = form(&found, &people, &members);
    let page = EditPage {
        frame: Frame::signed_in(user, PAGE),
        account: AccountRow::of(found, true),
        form,
        keeps_secrets: state.jobs.secrets.is_some(),
        may_delete,
        delete_error,
    };
    Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").body(page.render()?))
}

/// The edit form holding what account `found` holds now.
fn current(found: &Listed, people: &[(i64, String)], members: &[i64]) -> EditForm {
    EditForm {
        name: found.name.clone(),
        auth: "keep".into(),
        role_arn: found.role_arn.clone().unwrap_or_default(),
        access_key_id: String::new(),
        members: choices(people, members),
        version: found.version,
        errors: Vec::new(),
    }
}

#[get("/admin/accounts/{id}")]
pub async fn edit(user: SignedIn, state: web::Data<AppState>, path: web::Path<i64>) -> Result<HttpResponse, WebError> {
    user.require(Resource::Account, Action::Configure)?;
    render_edit(&state, &user, path.into_inner(), current, StatusCode::OK).await
}

#[derive(Deserialize, Default)]
pub struct EditData {
    #[serde(default)]
    name: String,
    #[serde(default)]
    auth: String,
    #[serde(default)]
    role_arn: String,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    secret_access_key: String,
    #[serde(default)]
    member_ids: Vec<i64>,
    version: Option<i32>,
}

#[post("/admin/accounts/{id}")]
pub async fn update(
    req: HttpRequest,
    user: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: HtmlForm<EditData>,
) -> Result<HttpResponse, WebError> {
    let id = path.into_inner();
    let form = form.0;
    user.require(Resource::Account, Action::Configure)?;
    let version = super::sent_version(form.version)?;
    let name = crate::domain::onboarding::account_name(&form.name);
    let credentials = match form.auth.as_str() {
        "keep" | "" => Ok(None),
        auth => NewCredentials::parse(auth, &form.role_arn, &form.access_key_id, &form.secret_access_key).map(Some),
    };
    let outcome = match (name, credentials) {
        (Ok(name), Ok(credentials)) => {
            let input = EditInput { version, name, credentials, member_ids: form.member_ids.clone() };
            cloud_accounts::update(&state.pool, &admin(&user), id, &input, &state.jobs).await
        }
        (name, credentials) => {
            Err(ChangeError::Invalid(name.err().into_iter().chain(credentials.err().into_iter().flatten()).collect()))
        }
    };
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    let errors = match outcome {
        Ok(()) => {
            flash_next(&req, &format!("Saved {}.", form.name.trim()))?;
            return Ok(see_other(PAGE));
        }
        Err(ChangeError::Refused(Refusal::StaleVersion { .. })) => {
            status = StatusCode::CONFLICT;
            vec![ValidationError::new(
                "form",
                "Someone else changed this account meanwhile: here is what it holds now.",
            )]
        }
        // Refused for the members chosen: said above the members' list.
        Err(ChangeError::Refused(
            refusal @ (Refusal::Escalation { .. } | Refusal::Outranked { .. } | Refusal::LastAdmin { .. }),
        )) => {
            status = refusal_status(&refusal);
            vec![ValidationError::new("member_ids", refusal.message())]
        }
        Err(e) => match e.field_errors() {
            Some(errors) => errors,
            None => return Err(e.into()),
        },
    };
    let stale = status == StatusCode::CONFLICT && errors.iter().any(|e| e.field == "form");
    let typed = |found: &Listed, people: &[(i64, String)], members: &[i64]| {
        if stale {
            EditForm { errors, ..current(found, people, members) }
        } else {
            EditForm {
                name: form.name.clone(),
                auth: form.auth.clone(),
                role_arn: form.role_arn.clone(),
                access_key_id: form.access_key_id.clone(),
                members: choices(people, &form.member_ids),
                version,
                errors,
            }
        }
    };
    render_edit(&state, &user, id, typed, status).await
}

#[derive(Deserialize)]
pub struct VersionData {
    version: Option<i32>,
}

#[post("/admin/accounts/{id}/{action:disable|enable}")]
pub async fn set_enabled(
    req: HttpRequest,
    user: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    form: web::Form<VersionData>,
) -> Result<HttpResponse, WebError> {
    let (id, action) = path.into_inner();
    user.require(Resource::Account, Action::Configure)?;
    let version = super::sent_version(form.version)?;
    let enabled = action == "enable";
    let mut conn = state.pool.get().await?;
    let name = cloud_accounts::set_enabled(&mut conn, &admin(&user), id, version, enabled, &state.jobs).await?;
    let said = if enabled {
        format!("Enabled {name}: its jobs run again and it is back in its members' switcher.")
    } else {
        format!("Disabled {name}: its jobs wait and it has left its members' switcher.")
    };
    flash_next(&req, &said)?;
    Ok(see_other(PAGE))
}

#[derive(Deserialize)]
pub struct DeleteForm {
    version: Option<i32>,
    /// The account's name, typed again: deleting removes all the console
    /// keeps of it, so one click on the wrong page must not.
    #[serde(default)]
    confirm_name: String,
}

#[post("/admin/accounts/{id}/delete")]
pub async fn delete(
    req: HttpRequest,
    user: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<DeleteForm>,
) -> Result<HttpResponse, WebError> {
    let id = path.into_inner();
    user.require(Resource::Account, Action::Delete)?;
    let version = super::sent_version(form.version)?;
    let mut conn = state.pool.get().await?;
    let found = db::accounts::find_listed(&mut conn, user.user.company_id, id).await?;
    if form.confirm_name.trim() != found.name {
        drop(conn);
        let error = format!("Type the account's name, “{}”, to delete it.", found.name);
        return render_edit_page(&state, &user, id, current, Some(error), StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let deleted = cloud_accounts::delete(&mut conn, &admin(&user), id, version).await;
    // The connection goes back before the page takes one.
    drop(conn);
    match deleted {
        Ok(name) => {
            flash_next(&req, &format!("Deleted {name} from the console. Nothing was changed at the provider."))?;
            Ok(see_other(PAGE))
        }
        Err(ChangeError::Refused(refusal)) => {
            let status = crate::web::error::refusal_status(&refusal);
            render_edit_page(&state, &user, id, current, Some(refusal.message()), status).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct RetentionForm {
    #[serde(default)]
    bin_retention_days: String,
}

/// The company's recycle bin: how many days deleted images wait there.
#[post("/admin/accounts/retention")]
pub async fn set_retention(
    req: HttpRequest,
    user: SignedIn,
    state: web::Data<AppState>,
    form: web::Form<RetentionForm>,
) -> Result<HttpResponse, WebError> {
    user.require(Resource::Account, Action::Configure)?;
    let days = match crate::domain::images::parse_retention_days(&form.bin_retention_days) {
        Ok(days) => days,
        Err(e) => {
            let mut page = page(&state, &user, false, ConnectForm::blank(), None).await?;
            page.retention = form.bin_retention_days.clone();
            page.retention_error = Some(e.message);
            let body = page.render()?;
            return Ok(HttpResponse::UnprocessableEntity().content_type("text/html; charset=utf-8").body(body));
        }
    };
    let mut conn = state.pool.get().await?;
    cloud_accounts::set_retention(&mut conn, &admin(&user), days).await?;
    flash_next(&req, &format!("Deleted images now {}.", crate::domain::images::retention_phrase(days)))?;
    Ok(see_other(PAGE))
}
