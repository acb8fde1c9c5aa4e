//! The rules of the product: no HTTP, no SQL, no provider.

pub mod access;
pub mod admin;
pub mod audit_log;
pub mod budget;
pub mod budget_codes;
pub mod cloud_init;
pub mod firewalls;
pub mod images;
pub mod keypairs;
pub mod launch;
pub mod onboarding;
pub mod page;
pub mod refusal;
pub mod resource;
pub mod servers;
pub mod text;
pub mod tokens;

/// Input that breaks a rule of the domain, with the field it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}
