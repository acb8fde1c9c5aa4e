//! Why a request could not be tied to a signed-in user who may use the
//! console. `web::error` turns it into a response (a sign-in redirect, a
//! 403 page, a 503), so this layer knows nothing of pages.

/// An error of the `auth` layer.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Not signed in; `session_ended` when the browser had a session that is
    /// gone (expired or ended elsewhere).
    #[error("not signed in")]
    SignedOut { session_ended: bool },
    #[error("You are not a member of any account. Ask an administrator.")]
    NoAccount,
    /// No account yet, but the user may connect one.
    #[error("You have no cloud account yet. Connect one first.")]
    NoAccountYet,
    /// The user's groups give no `CONSOLE Access` in `account`.
    #[error("Your groups have no role that allows using the console in {account}.")]
    NoConsoleAccess { account: String },
    /// A state-changing request without the session's CSRF token.
    #[error("This form has expired or did not come from this console. Reload the page and try again.")]
    CsrfRejected,
    /// The session could not be read or written.
    #[error("session: {0}")]
    Session(String),
    #[error(transparent)]
    Unavailable(#[from] crate::db::Outage),
    #[error(transparent)]
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for AuthError {
    fn from(e: diesel::result::Error) -> Self {
        crate::db::Outage::of(&e).map_or(AuthError::Db(e), AuthError::Unavailable)
    }
}

impl From<crate::db::PoolError> for AuthError {
    fn from(e: crate::db::PoolError) -> Self {
        AuthError::Unavailable(e.into())
    }
}

impl From<actix_session::SessionGetError> for AuthError {
    fn from(e: actix_session::SessionGetError) -> Self {
        AuthError::Session(e.to_string())
    }
}

impl From<actix_session::SessionInsertError> for AuthError {
    fn from(e: actix_session::SessionInsertError) -> Self {
        AuthError::Session(e.to_string())
    }
}
