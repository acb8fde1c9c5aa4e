//! `POST /account`: switch the current account.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;

use super::see_other;
use crate::auth::{CurrentUser, current::ACCOUNT_ID};
use crate::web::error::WebError;

#[derive(Deserialize)]
pub struct SwitchForm {
    account_id: i64,
}

/// Only accounts the user is a member of. Any other id is 404, as every
/// other account's id is: the answer never tells that the account exists.
#[post("/account")]
pub async fn switch(
    req: HttpRequest,
    user: CurrentUser,
    session: Session,
    form: web::Form<SwitchForm>,
) -> Result<HttpResponse, WebError> {
    let Some(account) = user.accounts.iter().find(|a| a.id == form.account_id) else {
        return Err(WebError::NotFound);
    };
    session.insert(ACCOUNT_ID, account.id).map_err(|e| WebError::Internal(e.into()))?;
    if super::is_htmx(&req) {
        // A full reload: every part of the page belongs to the old account.
        let mut response = HttpResponse::NoContent().finish();
        crate::htmx::redirect(&mut response, "/images");
        return Ok(response);
    }
    Ok(see_other("/images"))
}
