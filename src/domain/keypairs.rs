//! Key pairs: the name rule and the public key of an import.
//!
//! A name follows PRODUCT 3.4, `^[A-Za-z0-9 _-]{1,255}$`, after trimming the
//! spaces around it (a name of spaces only is empty).
//!
//! A public key to import is read with the `ssh-key` crate (RustCrypto), a
//! real parser of the OpenSSH format, not a pattern: what it accepts decodes
//! to a key of a known algorithm. EC2 imports Ed25519 and RSA keys; RSA keys
//! shorter than 2048 bits are refused here although EC2 still takes 1024, as
//! OpenSSH itself refuses them. A pasted private key is refused with a word
//! of warning, and is never shown back on the page. The key is passed on in
//! its canonical one-line form, comment kept.

use ssh_key::{Algorithm, HashAlg, PublicKey as SshPublicKey, public::KeyData};

use super::ValidationError;

/// A key pair name that meets the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPairName(String);

impl KeyPairName {
    pub const MAX_CHARS: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(ValidationError::new("name", "Enter a name for the key pair."));
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new("name", format!("A name has at most {} characters.", Self::MAX_CHARS)));
        }
        if let Some(bad) = name.chars().find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '-'))) {
            let shown = if bad.is_control() { "a control character".to_owned() } else { format!("“{bad}”") };
            return Err(ValidationError::new(
                "name",
                format!("A name may hold letters A–Z, digits, spaces, “-” and “_”; not {shown}."),
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The file name the private key is offered under.
    pub fn pem_file(&self) -> String {
        format!("{}.pem", self.0)
    }
}

/// The shortest RSA key accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// An OpenSSH public key fit to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    openssh: String,
    fingerprint: String,
    algorithm: &'static str,
}

impl PublicKey {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(ValidationError::new("public_key", "Paste a public key."));
        }
        if looks_private(text) {
            return Err(ValidationError::new(
                "public_key",
                "This is a private key. Paste the public key (the contents of the .pub file) instead, and keep \
                 the private key to yourself.",
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "public_key",
                "A public key is one line of printable text; this one holds a line break or a control character.",
            ));
        }
        let key = SshPublicKey::from_openssh(text).map_err(|_| {
            // Only the algorithms the provider takes are decoded; name the others.
            match text.split_whitespace().next().map(Algorithm::new) {
                Some(Ok(other)) if !matches!(other, Algorithm::Ed25519 | Algorithm::Rsa { .. }) => {
                    foreign(other.as_str())
                }
                _ => ValidationError::new(
                    "public_key",
                    "This is not an OpenSSH public key. Paste one line such as “ssh-ed25519 AAAA… you@example”: \
                     the contents of a .pub file.",
                ),
            }
        })?;
        let algorithm = match key.key_data() {
            KeyData::Ed25519(_) => "Ed25519",
            KeyData::Rsa(rsa) => {
                let bits = rsa.n.as_positive_bytes().map_or(0, bit_length);
                if bits < MIN_RSA_BITS {
                    return Err(ValidationError::new(
                        "public_key",
                        format!("This RSA key has {bits} bits; use one of at least {MIN_RSA_BITS} bits, or Ed25519."),
                    ));
                }
                "RSA"
            }
            _ => return Err(foreign(key.algorithm().as_str())),
        };
        let openssh = key
            .to_openssh()
            .map_err(|_| ValidationError::new("public_key", "This public key cannot be written back out."))?;
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        Ok(Self { openssh, fingerprint, algorithm })
    }

    /// The key in its canonical one-line OpenSSH form.
    pub fn openssh(&self) -> &str {
        &self.openssh
    }

    /// The fingerprint `ssh-keygen -l` shows (`SHA256:…`).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn algorithm(&self) -> &'static str {
        self.algorithm
    }
}

/// Whether two OpenSSH public keys are the same key, whatever their
/// comments; a text that is no key matches nothing.
pub fn same_key(a: &str, b: &str) -> bool {
    match (SshPublicKey::from_openssh(a.trim()), SshPublicKey::from_openssh(b.trim())) {
        (Ok(a), Ok(b)) => a.key_data() == b.key_data(),
        _ => false,
    }
}

fn foreign(algorithm: &str) -> ValidationError {
    ValidationError::new(
        "public_key",
        format!("The provider imports Ed25519 and RSA keys; this is an {algorithm} key."),
    )
}

/// Whether pasted text is (or holds) a private key: it must not be echoed.
pub fn looks_private(text: &str) -> bool {
    text.contains("PRIVATE KEY")
}

/// Bits of a big-endian unsigned number without leading zero bytes.
fn bit_length(bytes: &[u8]) -> usize {
    bytes.first().map_or(0, |first| bytes.len() * 8 - first.leading_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHfFrtHX+Bm9WEBJueOkw12IlEyZLGAJ0NSFLLLVngpY ops@acme.test";
    const RSA_1024: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDXwirQcbN0Ts/9nN9GYc9JCWfs806o/gua8rzLelHDrWEFo18vIDxgdfafu/3IYV//xf5AH5BQi2DlvOhhqO91Gg6tzcCVefHNBhUQXGXYoie4Viqx8J6VC2sabN/G4qVZKzs9HcOwQjA3RKsPapSRHvAEAdbiXhLfcau8HXYIYQ== old";
    const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBJs5MTL17i23LlYVwYfMN2Cg4cIoThkrsr6jrYto16dfKlecyaWcH023f36BMQuuycHRZSPWjn1eDVV11C87AoY= ec";

    #[test]
    fn the_same_key_is_the_same_whatever_its_comment() {
        assert!(same_key(ED25519, &ED25519.replace("ops@acme.test", "other")));
        assert!(same_key(ED25519, ED25519.rsplit_once(' ').unwrap().0), "no comment");
        assert!(!same_key(ED25519, RSA_1024));
        assert!(!same_key("not a key", "not a key"), "a text that is no key matches nothing");
    }

    #[test]
    fn names_follow_the_launch_dialog_rule() {
        assert_eq!(KeyPairName::parse("  deploy key_2-b ").unwrap().as_str(), "deploy key_2-b");
        assert_eq!(KeyPairName::parse("   ").unwrap_err().message, "Enter a name for the key pair.");
        assert!(KeyPairName::parse(&"k".repeat(255)).is_ok());
        assert!(KeyPairName::parse(&"k".repeat(256)).unwrap_err().message.contains("at most 255"));
        let slash = KeyPairName::parse("ops/deploy").unwrap_err();
        assert_eq!(slash.field, "name");
        assert!(slash.message.contains("not “/”"), "{}", slash.message);
        assert!(KeyPairName::parse("schlüssel").is_err());
        assert!(KeyPairName::parse("a\tb").unwrap_err().message.contains("a control character"));
        assert_eq!(KeyPairName::parse("deploy").unwrap().pem_file(), "deploy.pem");
    }

    #[test]
    fn an_ed25519_key_is_read_with_its_fingerprint() {
        let key = PublicKey::parse(&format!("  {ED25519}\n")).unwrap();
        assert_eq!(key.openssh(), ED25519);
        assert_eq!(key.algorithm(), "Ed25519");
        // As `ssh-keygen -lf` prints it.
        assert_eq!(key.fingerprint(), "SHA256:nW5qu2zz4bVdSxVAQs/hAd/ESbWZRorPDrbNz552Euk");
    }

    #[test]
    fn weak_foreign_and_broken_keys_are_refused_at_the_field() {
        let short = PublicKey::parse(RSA_1024).unwrap_err();
        assert_eq!(short.field, "public_key");
        assert!(short.message.contains("1024 bits"), "{}", short.message);
        assert!(PublicKey::parse(ECDSA).unwrap_err().message.contains("ecdsa-sha2-nistp256"));
        assert!(PublicKey::parse("ssh-ed25519 AAAAnotbase64!").unwrap_err().message.contains("not an OpenSSH"));
        assert!(PublicKey::parse(&ED25519.replace("AAAAC3", "AAAAC4")).is_err(), "a corrupted key");
        let private =
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----";
        assert!(PublicKey::parse(private).unwrap_err().message.starts_with("This is a private key."));
    }

    #[test]
    fn bit_lengths_ignore_leading_zero_bits() {
        assert_eq!(bit_length(&[0x01, 0x00]), 9);
        assert_eq!(bit_length(&[0xff; 256]), 2048);
        assert_eq!(bit_length(&[]), 0);
    }
}
