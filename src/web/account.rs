//! `POST /account`: switch the current account.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;

use super::see_other;
use crate::auth::{CurrentUser, current::ACCOUNT_ID};
use crate::web::AppState;
use crate::web::error::WebError;

#[derive(Deserialize)]
pub struct SwitchForm {
    account_id: i64,
    /// The menu's page the switch was made on (the frame's): the same
    /// page opens in the other account, when the user's rights there open
    /// it. Absent or unknown: where the user lands in that account.
    #[serde(default)]
    next: String,
}

/// Only accounts the user is a member of. Any other id is 404, as every
/// other account's id is: the answer never tells that the account exists.
/// The page that opens next says which account it is ("Switched to …").
#[post("/account")]
pub async fn switch(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    session: Session,
    form: web::Form<SwitchForm>,
) -> Result<HttpResponse, WebError> {
    let Some(account) = user.accounts.iter().find(|a| a.id == form.account_id) else {
        return Err(WebError::NotFound);
    };
    session.insert(ACCOUNT_ID, account.id).map_err(|e| WebError::Internal(e.into()))?;
    let home = home_in(&mut *state.pool.get().await?, user.user.id, Some(account.id), &form.next).await?;
    crate::auth::current::flash_next(&req, &format!("Switched to {} · {}", account.name, account.region_title()))?;
    if super::is_htmx(&req) {
        // A full reload: every part of the page belongs to the old account.
        let mut response = HttpResponse::NoContent().finish();
        crate::htmx::redirect(&mut response, home);
        return Ok(response);
    }
    Ok(see_other(home))
}

/// Where user `user_id` lands in `account`: the menu's page `wanted` when
/// their rights there open it, else their home there
/// ([`super::layout::same_page_or_home`]); with no account yet, Machine
/// Images, which leads to connecting one.
pub async fn home_in(
    conn: &mut diesel_async::AsyncPgConnection,
    user_id: i64,
    account: Option<i64>,
    wanted: &str,
) -> Result<&'static str, WebError> {
    let context = match account {
        Some(_) => crate::db::access::auth_context(conn, user_id).await?,
        None => None,
    };
    Ok(match (account, context) {
        (Some(account), Some(context)) => super::layout::same_page_or_home(&context.rights_in(account), wanted),
        _ => "/images",
    })
}
