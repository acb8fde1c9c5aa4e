//! A user's personal access tokens for the JSON API: made for one of their
//! accounts, shown once, revoked by their owner (and all at once when the
//! user is deactivated, `admin::users::deactivate`).
//!
//! A token carries no rights of its own: a request with it has its user's
//! rights in its account at that moment, read-only ones none that change.

use chrono::{Duration, Utc};
use diesel_async::{AsyncConnection as _, AsyncPgConnection};

use super::{Actor, ChangeError};
use crate::db::{self, tokens::NewToken, tokens::TokenRow};
use crate::domain::ValidationError;
use crate::domain::access::Resource;
use crate::domain::tokens::{Secret, TokenAccess, TokenName, expires_days};

/// The token form, parsed: every field's problem at once.
pub struct TokenInput {
    pub name: TokenName,
    pub days: u16,
    /// One of the user's accounts.
    pub account_id: i64,
    pub access: TokenAccess,
}

impl TokenInput {
    pub fn parse(
        actor: &Actor<'_>,
        name: &str,
        days: &str,
        account_id: &str,
        access: &str,
    ) -> Result<Self, ChangeError> {
        let mut errors = Vec::new();
        let name = TokenName::parse(name).map_err(|e| errors.push(e)).ok();
        let days = expires_days(days).map_err(|e| errors.push(e)).ok();
        let account = account_id.parse::<i64>().ok().filter(|id| actor.accounts.iter().any(|a| a.id == *id));
        if account.is_none() {
            errors.push(ValidationError::new("account_id", "Choose one of your accounts."));
        }
        let access = access.parse::<TokenAccess>().map_err(|e| errors.push(e)).ok();
        match (name, days, account, access) {
            (Some(name), Some(days), Some(account_id), Some(access)) if errors.is_empty() => {
                Ok(Self { name, days, account_id, access })
            }
            _ => Err(ChangeError::Invalid(errors)),
        }
    }
}

/// A token made: its row, and the token itself, which is never shown again.
pub struct Created {
    pub row: TokenRow,
    pub secret: Secret,
}

/// Makes a token for the actor, with its audit event (in the token's
/// account, without the token).
pub async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    input: &TokenInput,
) -> Result<Created, ChangeError> {
    let secret = Secret::generate();
    let hash = secret.hash();
    let expires_at = Utc::now() + Duration::days(i64::from(input.days));
    let row = conn
        .transaction::<_, ChangeError, _>(async |conn| {
            let row = db::tokens::insert(
                conn,
                &NewToken {
                    user_id: actor.user.id,
                    account_id: input.account_id,
                    name: input.name.as_str(),
                    token_hash: &hash,
                    access: input.access.as_str(),
                    expires_at,
                },
            )
            .await?;
            let changes = serde_json::json!({ "id": row.id, "name": row.name, "access": row.access,
                                              "expires_at": row.expires_at });
            let event = actor.event("create_token", Resource::User, actor.user.id, changes);
            db::audit_log::record(conn, &db::audit_log::NewAuditEvent { account_id: Some(row.account_id), ..event })
                .await?;
            Ok(row)
        })
        .await?;
    Ok(Created { row, secret })
}

/// Revokes the actor's token `id`: not found when it is not theirs or is
/// revoked already.
pub async fn revoke(conn: &mut AsyncPgConnection, actor: &Actor<'_>, id: i64) -> Result<(), ChangeError> {
    conn.transaction(async |conn| {
        let Some((account, name)) = db::tokens::revoke(conn, actor.user.id, id).await? else {
            return Err(ChangeError::NotFound);
        };
        // In the token's account, where its making was recorded. Not under
        // a key named `token`: the log masks those as secrets.
        let changes = serde_json::json!({ "id": id, "name": name });
        let event = actor.event("revoke_token", Resource::User, actor.user.id, changes);
        db::audit_log::record(conn, &db::audit_log::NewAuditEvent { account_id: Some(account), ..event }).await?;
        Ok(())
    })
    .await
}
