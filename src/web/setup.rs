//! The first run (`/setup`): until a company exists every other page
//! redirects here; the form takes the token printed at start and creates the
//! company and its administrator (`changes::onboarding`), signs them in and
//! leads them to connect their first cloud account. Afterwards `/setup` is
//! not found.

use actix_session::Session;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::{AppState, see_other};
use crate::auth::{csrf, current, password};
use crate::changes::onboarding::{SetupInput, set_up};
use crate::db;
use crate::domain::ValidationError;
use crate::domain::onboarding::ChosenPassword;
use crate::web::error::{FIRST_ACCOUNT, WebError};

/// Middleware: while no company exists, everything but `/setup`, the static
/// files and `/healthz` redirects to `/setup`. Once the database has a
/// company (set up here or by `create-admin`), the gate closes for good and
/// costs nothing more.
pub async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned().expect("AppState is registered");
    let path = req.path();
    let exempt = path == "/setup" || path.starts_with("/static/") || path == "/healthz";
    if !state.setup.is_open() || exempt || company_exists(&state).await? {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    Ok(req.into_response(see_other("/setup")).map_into_right_body())
}

/// Whether a company exists now; closes the gate when one does.
async fn company_exists(state: &AppState) -> Result<bool, WebError> {
    let exists = db::onboarding::any_company(&mut *state.pool.get().await?).await?;
    if exists {
        state.setup.close();
    }
    Ok(exists)
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    csrf_token: String,
    form: SetupForm,
    errors: Vec<ValidationError>,
    /// The token came in the link: it is sent along, not asked for.
    token_given: bool,
}

impl SetupPage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }
}

#[derive(Deserialize, Default)]
pub struct SetupForm {
    #[serde(default)]
    company: String,
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
pub struct SetupQuery {
    token: Option<String>,
}

/// Not found once a company exists.
async fn still_open(state: &AppState) -> Result<(), WebError> {
    if !state.setup.is_open() || company_exists(state).await? {
        return Err(WebError::NotFound);
    }
    Ok(())
}

fn page(status: StatusCode, page: &SetupPage) -> Result<HttpResponse, WebError> {
    Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").body(page.render()?))
}

#[get("/setup")]
pub async fn show(
    session: Session,
    state: web::Data<AppState>,
    query: web::Query<SetupQuery>,
) -> Result<HttpResponse, WebError> {
    still_open(&state).await?;
    let token = query.into_inner().token.unwrap_or_default();
    let token_given = !token.is_empty();
    let form = SetupForm { token, ..SetupForm::default() };
    page(StatusCode::OK, &SetupPage { csrf_token: csrf::token(&session)?, form, errors: Vec::new(), token_given })
}

#[post("/setup")]
pub async fn submit(
    session: Session,
    state: web::Data<AppState>,
    form: web::Form<SetupForm>,
) -> Result<HttpResponse, WebError> {
    still_open(&state).await?;
    let mut form = form.into_inner();
    let again = |form: SetupForm, errors: Vec<ValidationError>, status| -> Result<HttpResponse, WebError> {
        let token_given = errors.iter().all(|e| e.field != "token") && !form.token.is_empty();
        page(status, &SetupPage { csrf_token: csrf::token(&session)?, form, errors, token_given })
    };
    if !state.setup.accepts(&form.token) {
        form.password.clear();
        let wrong = ValidationError::new("token", "This is not the set-up token the console printed at start.");
        return again(form, vec![wrong], StatusCode::FORBIDDEN);
    }
    let input = match SetupInput::parse(&form.company, &form.given_name, &form.family_name, &form.email, &form.password)
    {
        Ok(input) => input,
        Err(errors) => {
            form.password.clear();
            return again(form, errors, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let hash = hash(&input.password).await?;
    let done = set_up(&mut *state.pool.get().await?, &input, &hash).await?;
    state.setup.close();
    current::sign_in(&session, done.user, None)?;
    tracing::info!(company = done.company, user = done.user, "the console is set up");
    Ok(see_other(FIRST_ACCOUNT))
}

/// The argon2id hash of a chosen password, made on the blocking pool.
pub async fn hash(password: &ChosenPassword) -> Result<String, WebError> {
    let chosen = password.reveal().to_owned();
    web::block(move || password::hash(&chosen))
        .await
        .map_err(|e| WebError::Internal(e.into()))?
        .map_err(|e| WebError::Internal(anyhow::anyhow!("hashing a password: {e}")))
}
