//! Settings › API tokens (`/settings/tokens`): the user's personal access
//! tokens for the JSON API. Making one (`POST`, fields `name`,
//! `expires_days`, `account_id`, `access`) answers with the page showing
//! the token once (`no-store`); revoking is `POST /settings/tokens/{id}/revoke`,
//! asked first by the dialog `GET` of the same path.
//! The changes are `changes::tokens`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::AppState;
use super::dialog::{Confirm, done};
use super::error::{WebError, change_status};
use super::layout::{Frame, Moment};
use super::respond::{html, no_store};
use crate::auth::CurrentUser;
use crate::changes::{self, ChangeError, tokens::TokenInput};
use crate::db;
use crate::domain::ValidationError;
use crate::domain::tokens::{MAX_DAYS, TokenAccess};
use diesel_async::AsyncPgConnection;

const PAGE: &str = "/settings/tokens";

#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    expires_days: String,
    #[serde(default)]
    account_id: String,
    #[serde(default)]
    access: String,
}

pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub account: String,
    pub access: &'static str,
    pub created: Moment,
    pub expires: Moment,
    pub last_used: Option<Moment>,
    /// `live`, `expired` or `revoked`.
    pub state: &'static str,
}

impl TokenView {
    fn of(row: db::tokens::TokenRow, account: String, now: chrono::DateTime<chrono::Utc>) -> Self {
        TokenView {
            id: row.id,
            state: match (row.revoked_at, row.expires_at <= now) {
                (Some(_), _) => "revoked",
                (None, true) => "expired",
                (None, false) => "live",
            },
            name: row.name,
            account,
            access: TokenAccess::from_stored(&row.access).title(),
            created: Moment::new(row.created_at),
            expires: Moment::new(row.expires_at),
            last_used: row.last_used_at.map(Moment::new),
        }
    }
}

/// A token's row: the answer to its revoke.
#[derive(Template)]
#[template(path = "settings_token_row.html")]
struct TokenRowFragment {
    token: TokenView,
}

pub struct AccountOption {
    pub id: i64,
    pub name: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "settings_tokens.html")]
struct TokensPage {
    frame: Frame,
    tokens: Vec<TokenView>,
    accounts: Vec<AccountOption>,
    form: TokenForm,
    errors: Vec<ValidationError>,
    /// The token just made, shown this once.
    made: Option<(String, String)>,
    days_hint: String,
}

impl TokensPage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }

    fn read_only(&self) -> bool {
        self.form.access != TokenAccess::Write.as_str()
    }
}

async fn page(
    user: &CurrentUser,
    state: &AppState,
    form: TokenForm,
    errors: Vec<ValidationError>,
    made: Option<(String, String)>,
) -> Result<TokensPage, WebError> {
    let mut conn = state.pool.get().await?;
    let now = chrono::Utc::now();
    let tokens = db::tokens::of_user(&mut conn, user.user.id)
        .await?
        .into_iter()
        .map(|(row, account)| TokenView::of(row, account, now))
        .collect();
    let chosen = form.account_id.parse::<i64>().unwrap_or(user.account.id);
    let accounts = user
        .accounts
        .iter()
        .map(|a| AccountOption { id: a.id, name: a.name.clone(), selected: a.id == chosen })
        .collect();
    Ok(TokensPage {
        frame: Frame::new(user, PAGE),
        tokens,
        accounts,
        form,
        errors,
        made,
        days_hint: format!("1 to {MAX_DAYS}."),
    })
}

#[get("/settings/tokens")]
pub async fn index(user: CurrentUser, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let form =
        TokenForm { expires_days: "90".into(), access: TokenAccess::Read.as_str().into(), ..TokenForm::default() };
    html(StatusCode::OK, page(&user, &state, form, Vec::new(), None).await?.render())
}

#[post("/settings/tokens")]
pub async fn create(
    user: CurrentUser,
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let actor = user.actor();
    let made = match TokenInput::parse(&actor, &form.name, &form.expires_days, &form.account_id, &form.access) {
        Ok(input) => changes::tokens::create(&mut *state.pool.get().await?, &actor, &input).await,
        Err(e) => Err(e),
    };
    match made {
        Ok(created) => {
            let shown = (created.row.name.clone(), created.secret.as_str().to_owned());
            let fresh = TokenForm {
                expires_days: "90".into(),
                access: TokenAccess::Read.as_str().into(),
                ..TokenForm::default()
            };
            let page = page(&user, &state, fresh, Vec::new(), Some(shown)).await?;
            Ok(no_store(html(StatusCode::OK, page.render())?))
        }
        Err(e) => match e.field_errors() {
            Some(errors) => html(change_status(&e), page(&user, &state, form, errors, None).await?.render()),
            None => Err(e.into()),
        },
    }
}

/// The user's token `id` as its row shows it; 404 for another's.
async fn token_of(conn: &mut AsyncPgConnection, user: &CurrentUser, id: i64) -> Result<TokenView, WebError> {
    let (row, account) = db::tokens::find_of_user(conn, user.user.id, id).await?.ok_or(WebError::NotFound)?;
    Ok(TokenView::of(row, account, chrono::Utc::now()))
}

/// Revoking asks first: scripts that use the token stop working.
#[get("/settings/tokens/{id}/revoke")]
pub async fn revoke_dialog(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let token = token_of(&mut *state.pool.get().await?, &user, id.into_inner()).await?;
    let mut dialog = Confirm::new(&req, &user, PAGE, format!("Revoke the token “{}”", token.name));
    dialog.action_url = format!("{PAGE}/{}/revoke", token.id);
    dialog.target = format!("#token-{}", token.id);
    dialog.submit = "Revoke";
    dialog.danger = true;
    if token.state == "live" {
        dialog.question = format!("Revoke “{}”?", token.name);
        dialog.detail = Some(format!(
            "Scripts and pipelines that send it are refused from their next request, in {}. A revoked token \
             cannot be used again: make a new one for whatever still needs the API.",
            token.account
        ));
    } else {
        dialog.allowed = false;
        dialog.question = format!("“{}” is {} already: it no longer works.", token.name, token.state);
    }
    dialog.respond(&req, StatusCode::OK)
}

#[post("/settings/tokens/{id}/revoke")]
pub async fn revoke(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    let revoked_now = match changes::tokens::revoke(&mut conn, &user.actor(), id).await {
        Ok(()) => true,
        // Revoked meanwhile (in another tab, say); another user's is 404 below.
        Err(ChangeError::NotFound) => false,
        Err(e) => return Err(e.into()),
    };
    let token = token_of(&mut conn, &user, id).await?;
    let message = if revoked_now {
        "Token revoked: it no longer works.".to_owned()
    } else {
        format!("“{}” was {} already: it no longer works.", token.name, token.state)
    };
    let row = TokenRowFragment { token }.render()?;
    done(&req, row, &message, PAGE)
}
