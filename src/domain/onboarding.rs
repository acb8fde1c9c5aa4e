//! The rules of onboarding: the password a person chooses, and the fields
//! that connect a cloud account (role ARN, access key, regions, endpoint).

use std::collections::HashSet;
use std::sync::OnceLock;

use super::ValidationError;
use super::admin::Email;

/// A password a person chose (at set-up, or for `create-admin`): 12 to 128
/// characters, not holding the email's local part, not among the 10,000
/// most common passwords. `Debug` never shows it.
pub struct ChosenPassword(String);

impl ChosenPassword {
    pub const MIN: usize = 12;
    pub const MAX: usize = 128;

    pub fn parse(raw: &str, email: &Email) -> Result<Self, ValidationError> {
        let invalid = |m: String| Err(ValidationError::new("password", m));
        let length = raw.chars().count();
        if length < Self::MIN {
            return invalid(format!("Choose a password of at least {} characters.", Self::MIN));
        }
        if length > Self::MAX {
            return invalid(format!("A password has at most {} characters.", Self::MAX));
        }
        if raw.chars().any(char::is_control) {
            return invalid("A password cannot contain control characters.".into());
        }
        let lower = raw.to_lowercase();
        let local = email.as_str().split('@').next().unwrap_or_default().to_lowercase();
        if local.chars().count() >= 3 && lower.contains(&local) {
            return invalid("The password cannot contain your email address's name.".into());
        }
        if is_common(&lower) {
            return invalid("This password is among the 10,000 most common ones: choose another.".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ChosenPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChosenPassword(hidden)")
    }
}

/// The 10,000 most common passwords, most common first, lower case: the
/// start of the list zxcvbn-ts ships (`data/common-passwords.txt`, MIT).
fn is_common(lower: &str) -> bool {
    static COMMON: OnceLock<HashSet<&'static str>> = OnceLock::new();
    COMMON
        .get_or_init(|| include_str!("../../data/common-passwords.txt").lines().filter(|l| !l.is_empty()).collect())
        .contains(lower)
}

/// The name of a company: 1 to 100 characters.
pub fn company_name(raw: &str) -> Result<String, ValidationError> {
    super::admin::name("company", raw, "company's name")
}

/// The EC2 regions an account can be connected in, with the names people
/// use for them.
pub const REGIONS: &[(&str, &str)] = &[
    ("us-east-1", "N. Virginia"),
    ("us-east-2", "Ohio"),
    ("us-west-1", "N. California"),
    ("us-west-2", "Oregon"),
    ("af-south-1", "Cape Town"),
    ("ap-east-1", "Hong Kong"),
    ("ap-south-1", "Mumbai"),
    ("ap-south-2", "Hyderabad"),
    ("ap-southeast-1", "Singapore"),
    ("ap-southeast-2", "Sydney"),
    ("ap-southeast-3", "Jakarta"),
    ("ap-southeast-4", "Melbourne"),
    ("ap-northeast-1", "Tokyo"),
    ("ap-northeast-2", "Seoul"),
    ("ap-northeast-3", "Osaka"),
    ("ca-central-1", "Canada Central"),
    ("ca-west-1", "Calgary"),
    ("eu-central-1", "Frankfurt"),
    ("eu-central-2", "Zurich"),
    ("eu-west-1", "Ireland"),
    ("eu-west-2", "London"),
    ("eu-west-3", "Paris"),
    ("eu-south-1", "Milan"),
    ("eu-south-2", "Spain"),
    ("eu-north-1", "Stockholm"),
    ("il-central-1", "Tel Aviv"),
    ("me-south-1", "Bahrain"),
    ("me-central-1", "UAE"),
    ("sa-east-1", "São Paulo"),
];

/// The name people use for region `code`, if it is one of [`REGIONS`].
pub fn region_name(code: &str) -> Option<&'static str> {
    REGIONS.iter().find(|(c, _)| *c == code).map(|(_, name)| *name)
}

/// The chosen regions: at least one, each from [`REGIONS`], once each, in
/// the list's order.
pub fn regions(raw: &[String]) -> Result<Vec<&'static str>, ValidationError> {
    let invalid = |m: &str| Err(ValidationError::new("regions", m));
    if raw.is_empty() {
        return invalid("Choose at least one region.");
    }
    if let Some(unknown) = raw.iter().find(|r| region_name(r.trim()).is_none()) {
        let shown = super::text::quoted(unknown);
        return Err(ValidationError::new("regions", format!("{shown} is not an EC2 region this console knows.")));
    }
    Ok(REGIONS.iter().map(|(code, _)| *code).filter(|code| raw.iter().any(|r| r.trim() == *code)).collect())
}

/// An IAM role's ARN: `arn:aws:iam::<12 digits>:role/<path/name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn(String);

impl RoleArn {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let arn = raw.trim();
        let invalid = || {
            Err(ValidationError::new(
                "role_arn",
                "A role's ARN looks like arn:aws:iam::123456789012:role/StratusConsole.",
            ))
        };
        let Some(rest) = arn.strip_prefix("arn:aws:iam::") else {
            return invalid();
        };
        let Some((account, role)) = rest.split_once(":role/") else {
            return invalid();
        };
        let name_ok =
            |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
        let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
        if !account_ok || arn.len() > 2048 || !role.split('/').all(name_ok) {
            return invalid();
        }
        Ok(Self(arn.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An IAM access key ID: `AKIA` (a user's) or `ASIA` (temporary), 20
/// capital letters and digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyId(String);

impl AccessKeyId {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let id = raw.trim();
        let shaped = id.len() == 20
            && (id.starts_with("AKIA") || id.starts_with("ASIA"))
            && id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !shaped {
            return Err(ValidationError::new(
                "access_key_id",
                "An access key ID has 20 capital letters and digits and starts with AKIA or ASIA.",
            ));
        }
        Ok(Self(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A secret access key: 16 to 128 visible ASCII characters. Never shown.
pub fn secret_access_key(raw: &str) -> Result<crate::cloud::Secret, ValidationError> {
    let secret = raw.trim();
    if secret.is_empty() {
        return Err(ValidationError::new("secret_access_key", "Enter the secret access key."));
    }
    if !(16..=128).contains(&secret.len()) || !secret.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ValidationError::new(
            "secret_access_key",
            "A secret access key has 16 to 128 letters, digits and signs, without spaces.",
        ));
    }
    Ok(crate::cloud::Secret::new(secret))
}

/// The cloud providers an account can be connected at, by the name the
/// form sends and the name it shows.
pub const PROVIDERS: &[(&str, &str)] = &[("ec2", "Amazon EC2")];

/// The provider the form names: one of [`PROVIDERS`]. A form that names
/// none (a script written before the field) means EC2, the only one.
pub fn provider(raw: &str) -> Result<&'static str, ValidationError> {
    match raw.trim() {
        "" => Ok(PROVIDERS[0].0),
        raw => PROVIDERS.iter().find(|(name, _)| *name == raw).map(|(name, _)| *name).ok_or_else(|| {
            ValidationError::new("provider", "Stratus Console connects accounts of Amazon EC2: choose it.")
        }),
    }
}

/// An EC2-compatible endpoint: empty (AWS's own), or an http(s) URL with a
/// host and no user name or password in it, read by the WHATWG parser
/// (`url`), as a client will read it.
pub fn endpoint(raw: &str) -> Result<Option<String>, ValidationError> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let invalid = || Err(ValidationError::new("endpoint", "An endpoint is an address like https://ec2.example.com."));
    // The parser drops tabs and line breaks silently: refuse them first.
    if text.len() > 2048 || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid();
    }
    let Ok(url) = url::Url::parse(text) else {
        return invalid();
    };
    // A query or a fragment is no part of a service's address, and would
    // make one endpoint look like another.
    let usable = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|host| !host.is_empty())
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none();
    if !usable {
        return invalid();
    }
    Ok(Some(url.as_str().trim_end_matches('/').to_owned()))
}

/// The name of a cloud account, as the switcher shows it.
pub fn account_name(raw: &str) -> Result<String, ValidationError> {
    super::admin::name("name", raw, "account's name")
}

/// The names of the accounts one connection makes: the name itself for one
/// region, `NAME · region` for each of several, each within an account
/// name's 100 characters.
pub fn account_names(name: &str, regions: &[&str]) -> Result<Vec<String>, ValidationError> {
    let names: Vec<String> = match regions {
        [_] => vec![name.to_owned()],
        _ => regions.iter().map(|r| format!("{name} · {r}")).collect(),
    };
    let longest = regions.iter().zip(&names).max_by_key(|(_, n)| n.chars().count());
    match longest {
        Some((region, long)) if long.chars().count() > 100 => {
            let room = 100 - (long.chars().count() - name.chars().count());
            Err(ValidationError::new(
                "name",
                format!(
                    "Each region's account is named “{name} · region”, and an account's name has at most 100 \
                     characters: with {region}, keep the name to {room}."
                ),
            ))
        }
        _ => Ok(names),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email::parse("ada.lovelace@example.com").unwrap()
    }

    #[test]
    fn a_password_has_twelve_to_128_characters() {
        assert_eq!(ChosenPassword::parse("short-one", &email()).unwrap_err().field, "password");
        assert!(ChosenPassword::parse(&"x".repeat(129), &email()).is_err());
        assert!(ChosenPassword::parse("tangerine-kettle-49", &email()).is_ok());
    }

    #[test]
    fn a_password_holds_neither_the_email_name_nor_a_common_password() {
        let refused = ChosenPassword::parse("Ada.Lovelace-2026", &email()).unwrap_err();
        assert!(refused.message.contains("email"), "{}", refused.message);
        // Among the common ones, whatever its case.
        let common = ChosenPassword::parse("QAZWSXEDCRFV", &email()).unwrap_err();
        assert!(common.message.contains("common"), "{}", common.message);
        assert!(ChosenPassword::parse("1qaz2wsx3edc", &email()).is_err());
    }

    #[test]
    fn the_common_list_has_ten_thousand_entries() {
        let listed = include_str!("../../data/common-passwords.txt").lines().count();
        assert_eq!(listed, 10_000);
    }

    #[test]
    fn generated_passwords_pass_the_rules() {
        let generated = super::super::admin::GeneratedPassword::generate();
        assert!(ChosenPassword::parse(generated.reveal(), &email()).is_ok());
    }

    #[test]
    fn role_arns_name_an_account_and_a_role() {
        assert!(RoleArn::parse("arn:aws:iam::123456789012:role/StratusConsole").is_ok());
        assert!(RoleArn::parse("arn:aws:iam::123456789012:role/team/ops/StratusConsole").is_ok());
        for bad in [
            "arn:aws:iam::12345678901:role/X",
            "arn:aws:iam::123456789012:user/X",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/a b",
            "StratusConsole",
        ] {
            assert_eq!(RoleArn::parse(bad).unwrap_err().field, "role_arn", "{bad}");
        }
    }

    #[test]
    fn access_key_ids_are_twenty_characters_from_akia_or_asia() {
        assert!(AccessKeyId::parse("AKIAIOSFODNN7EXAMPLE").is_ok());
        assert!(AccessKeyId::parse("ASIAIOSFODNN7EXAMPLE").is_ok());
        assert!(AccessKeyId::parse("AKIAIOSFODNN7EXAMPL").is_err());
        assert!(AccessKeyId::parse("XKIAIOSFODNN7EXAMPLE").is_err());
        assert!(AccessKeyId::parse("akiaiosfodnn7example").is_err());
    }

    #[test]
    fn regions_come_from_the_list_once_each() {
        let chosen = regions(&["eu-west-1".into(), "us-east-1".into(), "eu-west-1".into()]).unwrap();
        assert_eq!(chosen, ["us-east-1", "eu-west-1"]);
        assert!(regions(&[]).is_err());
        assert!(regions(&["mars-north-1".into()]).is_err());
    }

    #[test]
    fn endpoints_are_http_urls() {
        assert_eq!(endpoint("").unwrap(), None);
        assert_eq!(endpoint(" http://127.0.0.1:5000/ ").unwrap().as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(endpoint("https://EC2.example.com").unwrap().as_deref(), Some("https://ec2.example.com"));
        assert_eq!(endpoint("http://[::1]:4566").unwrap().as_deref(), Some("http://[::1]:4566"));
        for bad in [
            "ftp://x",
            "http://",
            "file:///etc/passwd",
            "http://user@host",
            "http://a b",
            "http://[::1",
            "http://h:99999",
            "http://127.0.0.1:4566/?x=1",
            "http://h?",
            "https://h/#top",
        ] {
            assert!(endpoint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn several_regions_name_one_account_each() {
        assert_eq!(account_names("Prod", &["us-east-1"]).unwrap(), ["Prod"]);
        assert_eq!(
            account_names("Prod", &["us-east-1", "eu-west-1"]).unwrap(),
            ["Prod · us-east-1", "Prod · eu-west-1"]
        );
        // A name of 100 characters is whole alone, too long with a region after it.
        let long = "n".repeat(100);
        assert_eq!(account_names(&long, &["sa-east-1"]).unwrap(), std::slice::from_ref(&long));
        let refused = account_names(&long, &["sa-east-1", "ap-southeast-1"]).unwrap_err();
        assert_eq!(refused.field, "name");
        assert!(refused.message.ends_with("with ap-southeast-1, keep the name to 83."), "{}", refused.message);
        let fits = "n".repeat(83);
        assert!(
            account_names(&fits, &["sa-east-1", "ap-southeast-1"]).unwrap().iter().all(|n| n.chars().count() <= 100)
        );
    }
}
