//! Configuration, read from the environment by `main.rs`.

use std::net::SocketAddr;

use actix_web::cookie::Key;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

#[derive(Clone)]
pub struct Config {
    /// `DATABASE_URL`: the PostgreSQL database.
    pub database_url: String,
    /// `BIND`: where to listen, default `127.0.0.1:8080`.
    pub bind: SocketAddr,
    /// `SESSION_KEY`: 64+ bytes, base64; signs the session cookie. Without it
    /// a random key is made and sessions end when the process restarts.
    pub session_key: Key,
    /// `COOKIE_SECURE=true` when the console is served over TLS.
    pub secure_cookies: bool,
    /// `DATABASE_POOL_SIZE`, default 16.
    pub pool_size: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name} is not valid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let var = |name: &'static str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let invalid = |name: &'static str, reason: String| ConfigError::Invalid { name, reason };

        let database_url = var("DATABASE_URL").ok_or(ConfigError::Missing("DATABASE_URL"))?;
        let bind = var("BIND")
            .unwrap_or_else(|| "127.0.0.1:8080".into())
            .parse()
            .map_err(|e| invalid("BIND", format!("{e}")))?;
        let session_key = match var("SESSION_KEY") {
            Some(encoded) => {
                let bytes = STANDARD.decode(encoded.trim()).map_err(|e| invalid("SESSION_KEY", e.to_string()))?;
                Key::try_from(bytes.as_slice()).map_err(|_| invalid("SESSION_KEY", "needs at least 64 bytes".into()))?
            }
            None => {
                tracing::warn!("SESSION_KEY is not set: using a random key, sessions end at restart");
                Key::generate()
            }
        };
        let secure_cookies = var("COOKIE_SECURE").is_some_and(|v| v == "true" || v == "1");
        let pool_size = match var("DATABASE_POOL_SIZE") {
            Some(v) => v.parse().map_err(|e| invalid("DATABASE_POOL_SIZE", format!("{e}")))?,
            None => 16,
        };
        Ok(Self { database_url, bind, session_key, secure_cookies, pool_size })
    }

    /// A configuration for tests and tools: the given database, any port,
    /// a random session key.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            session_key: Key::generate(),
            secure_cookies: false,
            pool_size: 4,
        }
    }
}
