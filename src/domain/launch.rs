//! The rules of the launch dialog's General tab: server names, how many,
//! and which hardware sizes fit an image.

use super::ValidationError;

/// A server's name: 1 to 100 characters of letters, digits, `-`, `.`, `_`
/// and space, after trimming (PRODUCT 3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerName(String);

impl ServerName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(ValidationError::new("name", "Enter a name for the server."));
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new("name", format!("A name has at most {} characters.", Self::MAX_CHARS)));
        }
        if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ' '))) {
            return Err(ValidationError::new(
                "name",
                format!("“{bad}” cannot be used: a name has letters, digits, “-”, “.”, “_” and spaces."),
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How many servers one launch starts: 1 to 20.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count(u8);

impl Count {
    pub const MAX: u8 = 20;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match raw.trim().parse::<u8>() {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ => Err(ValidationError::new("count", format!("Launch from 1 to {} servers at a time.", Self::MAX))),
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// The names of the servers of one launch: the name itself for one server,
/// `NAME-1` … `NAME-N` for several.
pub fn server_names(name: &ServerName, count: Count) -> Vec<String> {
    if count.get() == 1 {
        vec![name.as_str().to_owned()]
    } else {
        (1..=count.get()).map(|n| format!("{}-{n}", name.as_str())).collect()
    }
}

/// Memory a Windows server needs, in MB.
pub const WINDOWS_MIN_RAM_MB: i64 = 2048;

/// Why a hardware size cannot run an image, if it cannot. Sizes are
/// EBS-backed: the root disk is sized from the image, so only the
/// architecture and, for Windows, the memory decide.
pub fn unfit_reason(
    product_architectures: &[String],
    ram_mb: i64,
    image_architecture: &str,
    windows: bool,
) -> Option<String> {
    if !product_architectures.iter().any(|a| a == image_architecture) {
        return Some(format!("not for {image_architecture} images"));
    }
    if windows && ram_mb < WINDOWS_MIN_RAM_MB {
        return Some("Windows needs at least 2 GB of memory".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_allow_letters_digits_and_a_few_marks() {
        assert_eq!(ServerName::parse("  web front-1.a_b ").unwrap().as_str(), "web front-1.a_b");
        assert_eq!(ServerName::parse(" ").unwrap_err().message, "Enter a name for the server.");
        assert!(ServerName::parse(&"x".repeat(100)).is_ok());
        assert!(ServerName::parse(&"x".repeat(101)).unwrap_err().message.contains("at most 100"));
        assert!(ServerName::parse("web/1").unwrap_err().message.contains("“/” cannot be used"));
        assert!(ServerName::parse("wéb").is_err());
    }

    #[test]
    fn a_launch_starts_1_to_20_servers() {
        assert!(Count::parse("0").is_err());
        assert_eq!(Count::parse("1").unwrap().get(), 1);
        assert_eq!(Count::parse("20").unwrap().get(), 20);
        assert!(Count::parse("21").is_err());
        assert!(Count::parse("two").is_err());
    }

    #[test]
    fn several_servers_are_numbered() {
        let name = ServerName::parse("web").unwrap();
        assert_eq!(server_names(&name, Count::parse("1").unwrap()), ["web"]);
        assert_eq!(server_names(&name, Count::parse("3").unwrap()), ["web-1", "web-2", "web-3"]);
    }

    #[test]
    fn sizes_fit_by_architecture_and_windows_memory() {
        let x86 = ["x86_64".to_owned()];
        assert_eq!(unfit_reason(&x86, 1024, "x86_64", false), None);
        assert_eq!(unfit_reason(&x86, 1024, "arm64", false).as_deref(), Some("not for arm64 images"));
        assert!(unfit_reason(&x86, 1024, "x86_64", true).is_some());
        assert_eq!(unfit_reason(&x86, 2048, "x86_64", true), None);
    }
}
