//! Firewalls (EC2 security groups): the rules for a new one's name and
//! description, as EC2 states them for a VPC: up to 255 characters of
//! `a-z A-Z 0-9`, spaces and `._-:/()#,@[]+=&;{}!$*`; a name may not start
//! with `sg-` (it would read as a group id) nor be `default` (every network
//! has that one). EC2 requires a description, so the console does too.
//! Surrounding spaces are trimmed. Whether the name is free in the account is
//! a question for the database, asked in the transaction that writes it.

use super::ValidationError;

/// The name of the firewall every network has; it cannot be deleted.
pub const DEFAULT: &str = "default";

const MAX_CHARS: usize = 255;

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c)
}

fn checked(raw: &str, field: &'static str, what: &str) -> Result<String, ValidationError> {
    let text = raw.trim();
    if text.is_empty() {
        let hint = if field == "description" { " The provider requires one." } else { "" };
        return Err(ValidationError::new(field, format!("Enter a {what}.{hint}")));
    }
    if text.chars().count() > MAX_CHARS {
        return Err(ValidationError::new(field, format!("A {what} has at most {MAX_CHARS} characters.")));
    }
    if let Some(bad) = text.chars().find(|&c| !allowed(c)) {
        let shown = if bad.is_control() { "a control character".to_owned() } else { format!("“{bad}”") };
        return Err(ValidationError::new(
            field,
            format!("A {what} may hold letters A–Z, digits, spaces and ._-:/()#,@[]+=&;{{}}!$*; not {shown}."),
        ));
    }
    Ok(text.to_owned())
}

/// The name of a new firewall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallName(String);

impl FirewallName {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let name = checked(raw, "name", "name")?;
        if name.to_ascii_lowercase().starts_with("sg-") {
            return Err(ValidationError::new("name", "A name cannot start with “sg-”: that is how group ids begin."));
        }
        if name.eq_ignore_ascii_case(DEFAULT) {
            return Err(ValidationError::new("name", "“default” is the provider's own firewall; choose another name."));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The description of a new firewall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallDescription(String);

impl FirewallDescription {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        checked(raw, "description", "description").map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_ec2_rules() {
        assert_eq!(FirewallName::parse("  web (public) ").unwrap().as_str(), "web (public)");
        assert!(FirewallName::parse("db:5432/tcp@vpc-1 [a+b]").is_ok());
        assert!(FirewallName::parse(&"w".repeat(255)).is_ok());
        assert!(FirewallName::parse(&"w".repeat(256)).unwrap_err().message.contains("at most 255"));
        assert!(FirewallName::parse("SG-web").unwrap_err().message.contains("cannot start with “sg-”"));
        assert!(FirewallName::parse("Default").unwrap_err().message.contains("provider's own"));
        assert!(FirewallName::parse("web\"x").unwrap_err().message.contains("not “\"”"));
        assert!(FirewallName::parse("wéb").is_err());
        assert_eq!(FirewallName::parse(" ").unwrap_err().message, "Enter a name.");
    }

    #[test]
    fn a_description_is_required() {
        let missing = FirewallDescription::parse("").unwrap_err();
        assert_eq!(
            (missing.field, missing.message.as_str()),
            ("description", "Enter a description. The provider requires one.")
        );
        assert_eq!(FirewallDescription::parse(" HTTP from anywhere ").unwrap().as_str(), "HTTP from anywhere");
        assert!(FirewallDescription::parse("tab\there").unwrap_err().message.contains("a control character"));
    }
}
