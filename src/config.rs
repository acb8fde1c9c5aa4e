//! Configuration, read from the environment by `main.rs`.

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::cookie::Key;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::jobs::JobSettings;
use crate::secrets::SecretsKey;

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
    /// The job workers: `JOB_WORKERS` (default 2), `JOB_MAX_ATTEMPTS` (8),
    /// `JOB_BACKOFF_CAP_SECS` (300), `SYNC_INTERVAL_SECS` (300), and
    /// `PROVIDER_ENDPOINT`, an EC2-compatible endpoint for every account
    /// without its own (the local moto server in development), and
    /// `SECRETS_KEY` (the base64 of 32 random bytes), which seals the
    /// secrets of accounts reached with an access key: without it such
    /// accounts cannot be connected.
    pub jobs: JobSettings,
    /// `PROVIDED_IMAGE_OWNERS`: provider account numbers (comma-separated)
    /// whose public images the operator provides, as enStratus provided its
    /// templates: badged and offered first in the public catalog.
    pub provided_owners: Vec<String>,
    /// `TRUSTED_PROXIES`: addresses or networks (comma-separated, e.g.
    /// `10.0.0.0/8, 192.0.2.7`) of the reverse proxies in front of the
    /// console. Only from them are `Forwarded`/`X-Forwarded-For` believed;
    /// by default nobody's are, and the client is the TCP peer.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `API_RATE_PER_MINUTE`: how many API requests a token may send per
    /// minute (default 600, in bursts of up to that many); past it, 429.
    pub api_rate_per_minute: u32,
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
        let number = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            var(name).map_or(Ok(default), |v| v.parse().map_err(|e| invalid(name, format!("{e}"))))
        };
        let jobs = JobSettings {
            workers: usize::try_from(number("JOB_WORKERS", 2)?).unwrap_or(2),
            max_attempts: i32::try_from(number("JOB_MAX_ATTEMPTS", 8)?.max(1)).unwrap_or(8),
            backoff_cap: Duration::from_secs(number("JOB_BACKOFF_CAP_SECS", 300)?),
            sync_interval: Duration::from_secs(number("SYNC_INTERVAL_SECS", 300)?.max(1)),
            provider_endpoint: var("PROVIDER_ENDPOINT"),
            secrets: var("SECRETS_KEY")
                .map(|key| SecretsKey::from_base64(&key).map_err(|e| invalid("SECRETS_KEY", e.to_string())))
                .transpose()?,
            ..JobSettings::default()
        };
        let provided_owners: Vec<String> = var("PROVIDED_IMAGE_OWNERS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(bad) = provided_owners.iter().find(|n| n.len() != 12 || !n.bytes().all(|b| b.is_ascii_digit())) {
            return Err(invalid("PROVIDED_IMAGE_OWNERS", format!("{bad:?} is not a 12-digit account number")));
        }
        let trusted_proxies = var("TRUSTED_PROXIES")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| {
                n.parse::<ipnet::IpNet>()
                    .or_else(|_| n.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| invalid("TRUSTED_PROXIES", format!("{n:?} is not an address or a network")))
            })
            .collect::<Result<_, _>>()?;
        let api_rate_per_minute = u32::try_from(number("API_RATE_PER_MINUTE", 600)?.max(1)).unwrap_or(u32::MAX);
        Ok(Self {
            database_url,
            bind,
            session_key,
            secure_cookies,
            pool_size,
            jobs,
            provided_owners,
            trusted_proxies,
            api_rate_per_minute,
        })
    }

    /// A configuration for tests and tools: the given database, any port,
    /// a random session key, no job workers.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            session_key: Key::generate(),
            secure_cookies: false,
            pool_size: 4,
            jobs: JobSettings { workers: 0, secrets: Some(SecretsKey::generate()), ..JobSettings::default() },
            provided_owners: Vec::new(),
            trusted_proxies: Vec::new(),
            api_rate_per_minute: 600,
        }
    }
}

/// The log filter of `given` (`LOG_LEVEL`, else `RUST_LOG`), else `info`.
///
/// actix-http answers a malformed request itself (400, or 431 for a head
/// too large) and then logs it at ERROR as a "stream error": anyone can send
/// one, a request line with a control character or a URL too long, and
/// nothing in the console failed. So its connection dispatcher's log is off
/// unless the filter names `actix_http` itself.
pub fn log_filter(given: Option<&str>) -> tracing_subscriber::EnvFilter {
    use tracing_subscriber::EnvFilter;
    let filter = given.and_then(|f| EnvFilter::try_new(f).ok()).unwrap_or_else(|| EnvFilter::new("info"));
    if given.is_some_and(|f| f.contains("actix_http")) {
        filter
    } else {
        filter.add_directive("actix_http::h1::dispatcher=off".parse().expect("a valid directive"))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::log_filter;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Lines {
        type Writer = Self;
        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    /// What the console logs under `filter`: a client's malformed request as
    /// actix-http reports it, then an error of the console's own.
    fn logged(filter: Option<&str>) -> String {
        let lines = Lines::default();
        let subscriber =
            tracing_subscriber::fmt().with_env_filter(log_filter(filter)).with_writer(lines.clone()).finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(target: "actix_http::h1::dispatcher", "stream error: request parse error: invalid Header provided");
            tracing::error!(target: "stratus_console::web", "the console's own error");
        });
        String::from_utf8(lines.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn a_clients_malformed_request_is_not_logged_as_the_consoles_error() {
        for filter in [None, Some("warn"), Some("stratus_console=debug,info"), Some("not a filter ===")] {
            let logged = logged(filter);
            assert!(!logged.contains("stream error"), "{filter:?}: {logged}");
            assert!(logged.contains("the console's own error"), "{filter:?}: {logged}");
        }
        assert!(logged(Some("info,actix_http=trace")).contains("stream error"), "asked for by name");
    }
}
