//! Who is asking: passwords, sessions, CSRF tokens and the signed-in user.

pub mod csrf;
pub mod current;
pub mod password;
pub mod session_store;
pub mod throttle;

pub use current::CurrentUser;
