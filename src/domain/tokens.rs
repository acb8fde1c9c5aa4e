//! Personal access tokens of the JSON API (PRODUCT 7.3): their form's
//! rules, and the token itself.
//!
//! A token is `stc_` and 43 base64url characters (256 random bits); the
//! prefix lets secret scanners recognize a leaked one. Only its SHA-256 is
//! stored, so a dump of the database lets no one act with it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::ValidationError;
use super::text::refuse_invisible;

pub const PREFIX: &str = "stc_";
/// The longest a token lives: a year, a leap year's day included.
pub const MAX_DAYS: u16 = 366;

/// What a token may do: read only, or read and change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAccess {
    Read,
    Write,
}

impl TokenAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenAccess::Read => "read",
            TokenAccess::Write => "write",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            TokenAccess::Read => "Read only",
            TokenAccess::Write => "Read and write",
        }
    }

    pub fn from_stored(stored: &str) -> Self {
        // Anything but a stored "write" reads only: never widen.
        if stored == "write" { TokenAccess::Write } else { TokenAccess::Read }
    }
}

impl std::str::FromStr for TokenAccess {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(TokenAccess::Read),
            "write" => Ok(TokenAccess::Write),
            _ => Err(ValidationError::new("access", "Choose read only or read and write.")),
        }
    }
}

/// A token's name, for its owner to recognize it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenName(String);

impl TokenName {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(ValidationError::new("name", "Give the token a name, such as the pipeline that uses it."));
        }
        if name.chars().count() > 100 {
            return Err(ValidationError::new("name", "A token's name has at most 100 characters."));
        }
        if name.chars().any(char::is_control) {
            return Err(ValidationError::new("name", "A token's name is one line without control characters."));
        }
        refuse_invisible("name", name, "token's name")?;
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How many days a token lives: 1 to [`MAX_DAYS`].
pub fn expires_days(raw: &str) -> Result<u16, ValidationError> {
    match raw.trim().parse::<u16>() {
        Ok(days @ 1..=MAX_DAYS) => Ok(days),
        _ => Err(ValidationError::new("expires_days", format!("Choose from 1 to {MAX_DAYS} days."))),
    }
}

/// A new token: what its owner is shown once, and what is stored.
pub struct Secret(String);

impl Secret {
    pub fn generate() -> Self {
        Self(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> [u8; 32] {
        hash(&self.0)
    }
}

/// The stored form of a presented token. Anything that does not look like
/// a token is `None`: it is refused without a query.
pub fn presented(raw: &str) -> Option<[u8; 32]> {
    let body = raw.strip_prefix(PREFIX)?;
    let well_formed = body.len() == 43 && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| hash(raw))
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_is_recognized_and_hashes_the_same() {
        let secret = Secret::generate();
        assert!(secret.as_str().starts_with("stc_") && secret.as_str().len() == 47);
        assert_eq!(presented(secret.as_str()), Some(secret.hash()));
    }

    #[test]
    fn what_is_not_a_token_is_refused_before_any_query() {
        for raw in ["", "stc_", "stc_short", "ghp_0123456789012345678901234567890123456789012", "stc_\0"] {
            assert_eq!(presented(raw), None, "{raw:?}");
        }
        assert_eq!(presented(&format!("stc_{}", "a".repeat(42) + "!")), None);
    }

    #[test]
    fn names_and_days_have_their_rules() {
        assert!(TokenName::parse("  ci  ").is_ok_and(|n| n.as_str() == "ci"));
        assert!(TokenName::parse("").is_err());
        assert!(TokenName::parse("a\u{0}b").is_err());
        assert!(TokenName::parse("a\u{202E}b").is_err());
        assert!(TokenName::parse(&"x".repeat(101)).is_err());
        assert_eq!(expires_days("366"), Ok(366));
        assert!(expires_days("0").is_err() && expires_days("367").is_err() && expires_days("x").is_err());
    }
}
