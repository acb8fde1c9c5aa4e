//! The database going away for a moment (PostgreSQL restarting, a failover)
//! is not a fault of the request that meets it.
//!
//! A pooled connection that PostgreSQL closed is usually noticed when it is
//! checked out (the pool's recycling asks whether its socket closed), but one
//! that dies under a query, or one the client has not yet seen closing, fails
//! that query. [`is_broken`] tells those failures from the others; [`read`]
//! runs a read once more on a fresh connection when it meets one; and
//! [`Outage`] is what a request answers with (503, try again) when the
//! database is still away.

use diesel::QueryResult;
use diesel::result::{DatabaseErrorKind, Error};
use diesel_async::AsyncPgConnection;

use super::{Pool, PoolError};

/// The database did not answer: no connection could be had, or the one in
/// use broke. Nothing the request asked was done unless it committed before
/// (a change is never retried blindly: the user sends it again).
#[derive(Debug, thiserror::Error)]
#[error("the database is not available: {0}")]
pub struct Outage(String);

impl From<PoolError> for Outage {
    fn from(e: PoolError) -> Self {
        tracing::warn!(error = %e, "no database connection");
        Outage(e.to_string())
    }
}

impl Outage {
    /// The outage `e` shows, when it is one ([`is_broken`]).
    pub fn of(e: &Error) -> Option<Self> {
        is_broken(e).then(|| {
            tracing::warn!(error = %e, "the database connection broke");
            Outage(e.to_string())
        })
    }
}

/// Whether `e` says the connection is gone rather than that the statement
/// failed: closed by the server (a restart terminates every backend with
/// SQLSTATE 57P01, "terminating connection due to administrator command"),
/// or lost under the query. diesel keeps no SQLSTATE for these, only the
/// server's message, which is fixed English text for the 57P class.
pub fn is_broken(e: &Error) -> bool {
    match e {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand, _)
        | Error::BrokenTransactionManager => true,
        Error::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            let message = info.message();
            message.starts_with("terminating connection")
                || message.starts_with("the database system is")
                || message.starts_with("server closed the connection")
        }
        _ => false,
    }
}

/// Whether `e` says PostgreSQL undid the transaction because another held
/// what it needed: a serialization failure (40001) or a deadlock (40P01,
/// which diesel keeps only as the server's fixed message). Nothing was
/// written, and the same change, tried again, can pass.
pub fn is_contention(e: &Error) -> bool {
    match e {
        Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        Error::DatabaseError(DatabaseErrorKind::Unknown, info) => info.message().starts_with("deadlock detected"),
        _ => false,
    }
}

/// Runs `query`, a read, on a pooled connection, and once more on a fresh
/// one when the first connection turns out to be broken: a page that only
/// reads must not fail because PostgreSQL restarted since the connection was
/// opened. Never for a change (it might have committed before the
/// connection broke).
pub async fn read<T, E>(pool: &Pool, query: impl AsyncFn(&mut AsyncPgConnection) -> QueryResult<T>) -> Result<T, E>
where
    E: From<PoolError> + From<Error>,
{
    let mut conn = pool.get().await?;
    match query(&mut conn).await {
        Err(e) if is_broken(&e) => {
            tracing::info!(error = %e, "a pooled database connection broke; reading again on a fresh one");
            // Broken: the pool throws it away rather than handing it out again.
            drop(conn);
            let mut conn = pool.get().await?;
            Ok(query(&mut conn).await?)
        }
        result => Ok(result?),
    }
}
