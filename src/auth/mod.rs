//! Who is asking: passwords, sessions, CSRF tokens and the signed-in user.

pub mod csrf;
pub mod current;
pub mod error;
pub mod password;
pub mod session_store;
pub mod setup;
pub mod throttle;

pub use current::{CurrentUser, SignedIn};
pub use error::AuthError;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "stratus_session";
