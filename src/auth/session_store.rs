//! actix-session's `SessionStore` on PostgreSQL through diesel-async.
//!
//! No maintained PostgreSQL store exists for actix-session 0.11, and this one
//! is small. The cookie carries a random 256-bit key; the table keeps only its
//! SHA-256, so a leaked copy of the table opens no session. The signed-in
//! user's id is kept in its own column so that deactivating a user can end
//! their sessions with one statement.
//!
//! When the database is away, actix-session would answer an opaque 500. The
//! store instead notes the outage for the request ([`watch`]) and lets
//! `web::error::session_outage` answer 503 (try again), as every other page
//! does when the database is away.
//!
//! The same lookup reads the access version of the user's company, and
//! leaves it for the request ([`access_version`]): with it `auth::current`
//! knows whether the user's authorization context it keeps is still right,
//! so a page view costs one round trip before the page's own queries. It
//! also reads the session's account's provider state ([`provider_state`]),
//! which every page's frame shows and which changes with every sync: kept
//! apart from the rights, a sync does not make every user read those again.

use std::cell::Cell;
use std::collections::HashMap;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use sha2::{Digest, Sha256};

use crate::db::{self, Pool, accounts::ProviderState, sessions::Whose};

/// The session key under which the signed-in user's id is stored.
pub const USER_ID: &str = "user_id";
/// The session key of the current account's id (`auth::current` keeps it).
const ACCOUNT_ID: &str = super::current::ACCOUNT_ID;

/// What the session lookup read beside the session's state.
#[derive(Debug, Clone, Copy, Default)]
struct Looked {
    access_version: Option<i64>,
    account: Option<(i64, ProviderState)>,
}

tokio::task_local! {
    /// Whether the store met a database outage while serving this request.
    static OUTAGE: Cell<bool>;
    /// What the session lookup read for this request.
    static LOOKED: Cell<Looked>;
}

/// Runs `request` (the session middleware and all within it), and says
/// whether the session store met a database outage meanwhile.
pub async fn watch<T>(request: impl Future<Output = T>) -> (T, bool) {
    let request = LOOKED.scope(Cell::default(), request);
    OUTAGE
        .scope(Cell::new(false), async {
            let answer = request.await;
            (answer, OUTAGE.with(Cell::get))
        })
        .await
}

/// The access version of the signed-in user's company, as the session
/// lookup of this request read it; `None` outside [`watch`] or without a
/// signed-in session (then nothing kept may be trusted).
pub fn access_version() -> Option<i64> {
    LOOKED.try_with(Cell::get).ok().and_then(|looked| looked.access_version)
}

/// Account `account_id`'s provider state, if it is the session's account:
/// as the session lookup of this request read it.
pub fn provider_state(account_id: i64) -> Option<ProviderState> {
    let looked = LOOKED.try_with(Cell::get).ok()?;
    looked.account.filter(|(id, _)| *id == account_id).map(|(_, state)| state)
}

/// Whether the store's error `e` is a database outage (no connection, or it
/// broke) rather than a fault.
fn is_outage(e: &anyhow::Error) -> bool {
    e.is::<db::PoolError>() || e.downcast_ref::<diesel::result::Error>().is_some_and(db::outage::is_broken)
}

/// Tells [`watch`] when the store's error `e` is an outage, and passes it on.
fn noted(e: impl Into<anyhow::Error>) -> anyhow::Error {
    let e = e.into();
    if is_outage(&e) {
        // Outside `watch` (a test calling the store directly) no one asks.
        let _ = OUTAGE.try_with(|seen| seen.set(true));
    }
    e
}

#[derive(Clone)]
pub struct PgSessionStore {
    pool: Pool,
}

impl PgSessionStore {
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn expiry(ttl: &Duration) -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::seconds(ttl.whole_seconds())
}

fn whose(state: &HashMap<String, String>) -> Whose {
    let id = |key| state.get(key).and_then(|v| v.parse().ok());
    Whose { user_id: id(USER_ID), account_id: id(ACCOUNT_ID) }
}

fn to_json(state: &HashMap<String, String>) -> serde_json::Value {
    serde_json::to_value(state).expect("a map of strings always serializes")
}

impl SessionStore for PgSessionStore {
    /// Reads the session, once more on a fresh connection if the pooled one
    /// broke. When the database is away, the request goes on without a
    /// session (nothing signed in, no CSRF token, so nothing is changed) and
    /// [`watch`] says so: its answer becomes a 503.
    async fn load(&self, session_key: &SessionKey) -> Result<Option<HashMap<String, String>>, LoadError> {
        let hash = key_hash(session_key.as_ref());
        let read = db::outage::read::<_, anyhow::Error>(&self.pool, async |conn| db::sessions::load(conn, &hash).await);
        let loaded = match read.await {
            Ok(loaded) => loaded,
            Err(e) if is_outage(&e) => {
                noted(e);
                return Ok(None);
            }
            Err(e) => return Err(LoadError::Other(e)),
        };
        let Some(loaded) = loaded else { return Ok(None) };
        let looked = Looked { access_version: loaded.access_version, account: loaded.account };
        let _ = LOOKED.try_with(|cell| cell.set(looked));
        serde_json::from_value(loaded.state).map(Some).map_err(|e| LoadError::Deserialization(e.into()))
    }

    async fn save(&self, state: HashMap<String, String>, ttl: &Duration) -> Result<SessionKey, SaveError> {
        let key = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let mut conn = self.pool.get().await.map_err(|e| SaveError::Other(noted(e)))?;
        db::sessions::insert(&mut conn, &key_hash(&key), &to_json(&state), whose(&state), expiry(ttl))
            .await
            .map_err(|e| SaveError::Other(noted(e)))?;
        SessionKey::try_from(key).map_err(|e| SaveError::Other(e.into()))
    }

    async fn update(
        &self,
        session_key: SessionKey,
        state: HashMap<String, String>,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        let mut conn = self.pool.get().await.map_err(|e| UpdateError::Other(noted(e)))?;
        let hash = key_hash(session_key.as_ref());
        let updated = db::sessions::update(&mut conn, &hash, &to_json(&state), whose(&state), expiry(ttl))
            .await
            .map_err(|e| UpdateError::Other(noted(e)))?;
        if updated {
            Ok(session_key)
        } else {
            // The session expired or was ended meanwhile (a sign-out, a
            // password reset, a deactivation) while this request ran: a new
            // one starts, signed out, rather than resurrect the old key or
            // sign the user in again.
            drop(conn);
            let mut state = state;
            state.remove(USER_ID);
            self.save(state, ttl).await.map_err(|e| UpdateError::Other(anyhow::anyhow!(e.to_string())))
        }
    }

    async fn update_ttl(&self, session_key: &SessionKey, ttl: &Duration) -> Result<(), anyhow::Error> {
        let mut conn = self.pool.get().await.map_err(noted)?;
        db::sessions::extend(&mut conn, &key_hash(session_key.as_ref()), expiry(ttl)).await.map_err(noted)?;
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> Result<(), anyhow::Error> {
        let mut conn = self.pool.get().await.map_err(noted)?;
        db::sessions::delete(&mut conn, &key_hash(session_key.as_ref())).await.map_err(noted)?;
        Ok(())
    }
}
