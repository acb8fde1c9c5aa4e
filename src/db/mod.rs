//! PostgreSQL: the pool, the migrations runner, the schema and the queries.
//!
//! Error policy: query functions return diesel's `QueryResult` and know
//! nothing of HTTP; the web layer maps `NotFound` to 404 and pool trouble to
//! 503 in one place (`web::error`). Query functions take a connection, so the
//! same function runs on a pooled connection or inside a transaction.

/// Writes the state changes that key pairs and firewalls share into the
/// module that calls it, for its table: `mark_deleting`, `remove`, `failed`
/// and `made`. Diesel's DSL is typed by table, so one generic function over
/// both tables would need more trait bounds than it has lines; a macro keeps
/// one text of each query. `ready` adds a condition for "the provider has
/// it" (firewalls: their group id); `made` lists the columns the provider's
/// answer fills besides the state. The calling module has diesel's prelude,
/// `diesel_async::RunQueryDsl` and `ResourceState` in scope, as both do.
macro_rules! resource_state_writes {
    ($table:ident $(, ready: $ready:expr)?; made($($arg:ident: $ty:ty => $column:ident),* $(,)?)) => {
        /// Hides a ready row until its delete job is done; false when it is
        /// not ready (anymore).
        pub async fn mark_deleting(
            conn: &mut diesel_async::AsyncPgConnection,
            account_id: i64,
            id: i64,
        ) -> diesel::QueryResult<bool> {
            let changed = diesel::update(
                $table::table
                    .filter($table::account_id.eq(account_id))
                    .filter($table::id.eq(id))
                    .filter($table::state.eq(ResourceState::Active.as_str()))
                    $(.filter($ready))?,
            )
            .set(($table::state.eq(ResourceState::Deleting.as_str()), $table::last_error.eq(None::<String>)))
            .execute(conn)
            .await?;
            Ok(changed == 1)
        }

        /// Removes a row (in `state`); false when there was none.
        pub async fn remove(
            conn: &mut diesel_async::AsyncPgConnection,
            account_id: i64,
            id: i64,
            state: ResourceState,
        ) -> diesel::QueryResult<bool> {
            let removed = diesel::delete(
                $table::table
                    .filter($table::account_id.eq(account_id))
                    .filter($table::id.eq(id))
                    .filter($table::state.eq(state.as_str())),
            )
            .execute(conn)
            .await?;
            Ok(removed == 1)
        }

        /// The provider has made it: the columns its answer fills, and the
        /// row is active.
        pub async fn made(
            conn: &mut diesel_async::AsyncPgConnection,
            account_id: i64,
            id: i64,
            $($arg: $ty),*
        ) -> diesel::QueryResult<()> {
            // Not once it is being deleted: a late retry must not bring it back.
            let waiting = $table::table
                .filter($table::account_id.eq(account_id))
                .filter($table::id.eq(id))
                .filter($table::state.eq_any([ResourceState::Pending.as_str(), ResourceState::Active.as_str()]));
            diesel::update(waiting)
                .set((
                    $($table::$column.eq($arg),)*
                    $table::state.eq(ResourceState::Active.as_str()),
                    $table::active.eq(true),
                    $table::last_error.eq(None::<String>),
                ))
                .execute(conn)
                .await
                .map(drop)
        }

        /// A job on the row failed for good: it moves from `from` to `to` (a
        /// create or import to `ERROR`, a delete back to `ACTIVE`) and shows
        /// why.
        pub async fn failed(
            conn: &mut diesel_async::AsyncPgConnection,
            account_id: i64,
            id: i64,
            (from, to): (ResourceState, ResourceState),
            error: &str,
        ) -> diesel::QueryResult<()> {
            diesel::update(
                $table::table
                    .filter($table::account_id.eq(account_id))
                    .filter($table::id.eq(id))
                    .filter($table::state.eq(from.as_str())),
            )
            .set(($table::state.eq(to.as_str()), $table::last_error.eq(error)))
            .execute(conn)
            .await
            .map(drop)
        }
    };
}

/// Keeps the rows of `$table` (an owned resource: `owner_user_id`,
/// `owner_group_id`, `budget_code_id`) that are within `$reach`, a
/// [`crate::domain::access::Reach`]: what a list shows of what the user's
/// rights qualify.
macro_rules! within_reach {
    ($query:expr, $table:ident, $reach:expr) => {
        match $reach {
            crate::domain::access::Reach::All => $query,
            crate::domain::access::Reach::Within(within) => $query.filter(owned_within!($table, within)),
        }
    };
}

/// The rows of `$table` owned by the user, owned by one of the groups, or
/// billed to one of the budget codes of `$within`, a
/// [`crate::domain::access::Within`]: [`crate::domain::access::Reach::covers`]
/// as SQL.
macro_rules! owned_within {
    ($table:ident, $within:expr) => {
        $table::owner_user_id
            .eq($within.owner_user)
            .or($table::owner_group_id.eq_any($within.owner_groups.clone()))
            .or($table::budget_code_id.eq_any($within.budget_codes.clone()))
    };
}

/// Whether a write failed on a unique index: a row written by a
/// transaction the check before it could not see.
pub fn unique_violation(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}

diesel::define_sql_function! {
    /// PostgreSQL's `lower(text)`: names and emails compared and sorted
    /// regardless of case (the indexes on them are on `lower(…)` too).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

pub mod access;
pub mod accounts;
pub mod admin;
pub mod audit_log;
pub mod budget;
pub mod budget_codes;
pub mod firewall_rules;
pub mod firewalls;
mod fixed_sql;
pub mod images;
pub mod jobs;
pub mod keypairs;
mod keyset;
pub mod launch;
pub mod lineage;
pub mod login_attempts;
pub mod onboarding;
pub mod outage;
pub mod schema;
pub mod servers;
pub mod sessions;
pub mod sync;
pub mod tokens;
pub mod users;

use std::time::Duration;

use diesel::Connection as _;
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::deadpool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use diesel_async::pooled_connection::deadpool::PoolError;
pub use outage::Outage;

pub type Pool = deadpool::Pool<AsyncPgConnection>;
pub type PooledConnection = deadpool::Object<AsyncPgConnection>;

/// A company's access version as read beside a session or a token (left
/// joined): a company whose rights have never changed has no row yet, and
/// is at version 0 (migration `access_version`).
fn access_version_or_first(read: Option<i64>) -> i64 {
    read.unwrap_or(0)
}

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Builds the connection pool. Connections are opened lazily, so the console
/// starts (and answers `/healthz` with 503) while the database is down.
pub fn pool(database_url: &str, max_size: usize) -> Result<Pool, deadpool::BuildError> {
    // Fast recycling: a connection whose socket closed (say, PostgreSQL
    // restarted) is already known to be broken and replaced; a test query
    // on every checkout would add a round trip to each of a page's queries.
    build(database_url, fast_recycling(), max_size)
}

fn fast_recycling() -> ManagerConfig<AsyncPgConnection> {
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    config
}

fn build(
    database_url: &str,
    config: ManagerConfig<AsyncPgConnection>,
    max_size: usize,
) -> Result<Pool, deadpool::BuildError> {
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .runtime(::deadpool::Runtime::Tokio1)
        .build()
}

/// Connections that plan each statement once, whatever its values
/// (`plan_cache_mode = force_generic_plan`, set when the connection opens),
/// for the keyset lists of image records: their best plan walks the
/// account's index from the cursor for any values, and PostgreSQL, left to
/// choose, would plan every page afresh, which costs more than reading it
/// (`make bench`). A pool of their own keeps the rest of the console's
/// statements planned for their values, such as the job queue's partial
/// indexes and the public search's choice of index by term.
#[derive(Clone)]
pub struct ListPool(Pool);

/// A connection of the [`ListPool`].
pub struct ListConnection(PooledConnection);

impl ListPool {
    pub async fn get(&self) -> Result<ListConnection, PoolError> {
        Ok(ListConnection(self.0.get().await?))
    }
}

impl std::ops::Deref for ListConnection {
    type Target = AsyncPgConnection;
    fn deref(&self) -> &AsyncPgConnection {
        &self.0
    }
}

impl std::ops::DerefMut for ListConnection {
    fn deref_mut(&mut self) -> &mut AsyncPgConnection {
        &mut self.0
    }
}

/// Builds the [`ListPool`]; like [`pool`], it connects lazily.
pub fn list_pool(database_url: &str, max_size: usize) -> Result<ListPool, deadpool::BuildError> {
    let mut config = fast_recycling();
    config.custom_setup = Box::new(|url| {
        Box::pin(async move {
            use diesel_async::{AsyncConnection as _, SimpleAsyncConnection as _};
            let mut conn = AsyncPgConnection::establish(url).await?;
            conn.batch_execute("SET plan_cache_mode = force_generic_plan")
                .await
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        })
    });
    build(database_url, config, max_size).map(ListPool)
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
