//! The first run: until a company exists the console serves only `/setup`,
//! which takes the one-time token printed at start. The token is 256 random
//! bits, kept only as its SHA-256, compared in constant time, and worth
//! nothing once a company exists (made anew at each start until then).

use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Whether the console still waits for its set-up, and the token that
/// opens it.
pub struct SetupGate {
    open: AtomicBool,
    digest: [u8; 32],
}

impl SetupGate {
    /// A console that has a company: `/setup` is gone.
    pub fn closed() -> Self {
        Self { open: AtomicBool::new(false), digest: [0; 32] }
    }

    /// A console without a company, and the token to give the person who
    /// sets it up.
    pub fn open() -> (Self, String) {
        let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        (Self { open: AtomicBool::new(true), digest: Sha256::digest(token.as_bytes()).into() }, token)
    }

    /// True while no company is known to exist.
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// A company exists now (set up here, or by `create-admin`).
    pub fn close(&self) {
        self.open.store(false, Ordering::Release);
    }

    /// Whether `token` is the one printed at start, while the gate is open.
    pub fn accepts(&self, token: &str) -> bool {
        let given: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        self.is_open() && bool::from(given.ct_eq(&self.digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_printed_token_opens_it_and_only_while_open() {
        let (gate, token) = SetupGate::open();
        assert_eq!(token.len(), 43, "256 bits in base64url");
        assert!(gate.accepts(&token));
        assert!(!gate.accepts("not-the-token"));
        assert!(!gate.accepts(""));
        gate.close();
        assert!(!gate.accepts(&token));
        assert!(!SetupGate::closed().accepts(""));
    }
}
