//! Administration pages: users, groups and roles with their access rights,
//! and budget codes. Each page is a module of its own; the rules they share
//! (no escalation, last administrator) are in `domain::admin`.

pub mod budget_codes;
pub mod groups;
pub mod roles;
pub mod users;
