//! PostgreSQL: the pool, the migrations runner, the schema and the queries.
//!
//! Error policy: query functions return diesel's `QueryResult` and know
//! nothing of HTTP; the web layer maps `NotFound` to 404 and pool trouble to
//! 503 in one place (`web::error`). Query functions take a connection, so the
//! same function runs on a pooled connection or inside a transaction.

pub mod access;
pub mod accounts;
pub mod admin;
pub mod audit_log;
pub mod budget;
pub mod budget_codes;
pub mod firewalls;
pub mod images;
pub mod jobs;
pub mod keypairs;
mod keyset;
pub mod launch;
pub mod login_attempts;
pub mod schema;
pub mod servers;
pub mod sessions;
pub mod sync;
pub mod users;

use std::time::Duration;

use diesel::Connection as _;
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::deadpool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use diesel_async::pooled_connection::deadpool::PoolError;

pub type Pool = deadpool::Pool<AsyncPgConnection>;
pub type PooledConnection = deadpool::Object<AsyncPgConnection>;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Builds the connection pool. Connections are opened lazily, so the console
/// starts (and answers `/healthz` with 503) while the database is down.
pub fn pool(database_url: &str, max_size: usize) -> Result<Pool, deadpool::BuildError> {
    // Fast recycling: a connection whose socket closed (say, PostgreSQL
    // restarted) is already known to be broken and replaced; a test query
    // on every checkout would add a round trip to each of a page's queries.
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .runtime(::deadpool::Runtime::Tokio1)
        .build()
}

/// Applies pending migrations. Runs synchronous diesel on a blocking thread:
/// diesel-async's own harness needs a multi-threaded runtime, which actix's
/// workers are not.
pub async fn run_migrations(database_url: &str) -> anyhow::Result<()> {
    let url = database_url.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut conn = diesel::PgConnection::establish(&url)?;
        let applied = conn.run_pending_migrations(MIGRATIONS).map_err(|e| anyhow::anyhow!(e))?;
        for version in applied {
            tracing::info!(%version, "applied migration");
        }
        Ok(())
    })
    .await?
}
