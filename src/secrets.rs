//! Secrets kept at rest: an access key's secret is sealed with AES-256-GCM
//! under `SECRETS_KEY` before it reaches the database, and opened only to
//! connect to the provider.
//!
//! A sealed value is the 12-byte random nonce followed by the ciphertext and
//! its tag. The access key ID is the associated data, so a sealed secret
//! copied onto another key's row does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::cloud::Secret;

const NONCE: usize = 12;

/// The key that seals secrets. `Debug` never shows it.
#[derive(Clone)]
pub struct SecretsKey(Key<Aes256Gcm>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretsError {
    #[error("SECRETS_KEY must be the base64 of 32 bytes")]
    BadKey,
    #[error("SECRETS_KEY is not set: the console cannot open the account's access key")]
    NoKey,
    #[error("a stored secret does not open with SECRETS_KEY (another key sealed it, or it was altered)")]
    Unreadable,
}

impl SecretsKey {
    /// From its base64 (`SECRETS_KEY`): 32 bytes.
    pub fn from_base64(encoded: &str) -> Result<Self, SecretsError> {
        let bytes = STANDARD.decode(encoded.trim()).map_err(|_| SecretsError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| SecretsError::BadKey)?;
        Ok(Self(key.into()))
    }

    /// A new random key, for tests and tools.
    pub fn generate() -> Self {
        Self(rand::random::<[u8; 32]>().into())
    }

    /// Seals `secret`, bound to `context` (the access key ID).
    pub fn seal(&self, secret: &Secret, context: &str) -> Vec<u8> {
        let nonce: [u8; NONCE] = rand::random();
        let payload = Payload { msg: secret.expose().as_bytes(), aad: context.as_bytes() };
        let sealed = Aes256Gcm::new(&self.0)
            .encrypt(Nonce::from_slice(&nonce), payload)
            .expect("AES-GCM seals any message shorter than 64 GiB");
        [nonce.as_slice(), &sealed].concat()
    }

    /// Opens what [`seal`](Self::seal) made for the same `context`.
    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Secret, SecretsError> {
        if sealed.len() <= NONCE {
            return Err(SecretsError::Unreadable);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE);
        let payload = Payload { msg: ciphertext, aad: context.as_bytes() };
        let opened =
            Aes256Gcm::new(&self.0).decrypt(Nonce::from_slice(nonce), payload).map_err(|_| SecretsError::Unreadable)?;
        String::from_utf8(opened).map(Secret::new).map_err(|_| SecretsError::Unreadable)
    }
}

impl std::fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretsKey(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_context() {
        let key = SecretsKey::generate();
        let secret = Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        let sealed = key.seal(&secret, "AKIAIOSFODNN7EXAMPLE");
        assert!(!sealed.windows(8).any(|w| w == b"wJalrXUt"), "the secret is not in clear");
        assert_eq!(key.open(&sealed, "AKIAIOSFODNN7EXAMPLE").unwrap().expose(), secret.expose());
        assert_eq!(key.open(&sealed, "AKIAOTHERKEY00000000").unwrap_err(), SecretsError::Unreadable);
        assert_eq!(SecretsKey::generate().open(&sealed, "AKIAIOSFODNN7EXAMPLE").unwrap_err(), SecretsError::Unreadable);
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(key.open(&altered, "AKIAIOSFODNN7EXAMPLE").is_err());
        // Each seal has its own nonce.
        assert_ne!(key.seal(&secret, "AKIAIOSFODNN7EXAMPLE"), sealed);
    }

    #[test]
    fn the_key_is_the_base64_of_32_bytes() {
        assert!(SecretsKey::from_base64(&STANDARD.encode([7u8; 32])).is_ok());
        assert_eq!(SecretsKey::from_base64(&STANDARD.encode([7u8; 16])).unwrap_err(), SecretsError::BadKey);
        assert_eq!(SecretsKey::from_base64("not base64!").unwrap_err(), SecretsError::BadKey);
    }
}
