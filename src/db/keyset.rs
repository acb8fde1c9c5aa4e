//! Keyset pagination: the row comparison `(key, id) > ($1, $2)` and a page
//! size written into the SQL.
//!
//! PostgreSQL answers a row comparison straight from a `(…, key, id)` index,
//! where the equivalent `key > $1 OR (key = $1 AND id > $2)` makes it filter.
//! Diesel's DSL has no row comparison, and an SQL literal would keep the
//! query out of the prepared-statement cache, so this is a small expression
//! of our own.
//!
//! Diesel binds `LIMIT` as a parameter. For a prepared statement PostgreSQL
//! then estimates the generic plan at a tenth of the matching rows, finds it
//! dearer than a plan made for the values, and so plans the page query
//! afresh on every execution, which cost more than running it (`make
//! bench`). With the page size in the text the generic plan of a first page
//! wins after five executions and is never planned again on its connection.
//! A row comparison still leaves the generic estimate too high, so the
//! records list, whose right plan never depends on the values, runs on
//! connections that always take the generic plan (`db::ListPool`).

use diesel::expression::{AppearsOnTable, Expression, ValidGrouping, is_aggregate};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::Bool;

/// `(key, id) > (key_value, id_value)`, or `<` when not `after`.
#[derive(Debug, Clone)]
pub struct RowCompare<K, I, KV, IV> {
    key: K,
    id: I,
    key_value: KV,
    id_value: IV,
    after: bool,
}

/// The rows that come after (`ascending`) or before the position.
pub fn beyond<K, I, KV, IV>(key: K, id: I, key_value: KV, id_value: IV, ascending: bool) -> RowCompare<K, I, KV, IV> {
    RowCompare { key, id, key_value, id_value, after: ascending }
}

impl<K, I, KV, IV> Expression for RowCompare<K, I, KV, IV> {
    type SqlType = Bool;
}

impl<K, I, KV, IV, GB> ValidGrouping<GB> for RowCompare<K, I, KV, IV> {
    type IsAggregate = is_aggregate::Never;
}

impl<K, I, KV, IV, QS> AppearsOnTable<QS> for RowCompare<K, I, KV, IV>
where
    K: AppearsOnTable<QS>,
    I: AppearsOnTable<QS>,
    KV: AppearsOnTable<QS>,
    IV: AppearsOnTable<QS>,
{
}

impl<K, I, KV, IV> QueryId for RowCompare<K, I, KV, IV> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<K, I, KV, IV> QueryFragment<Pg> for RowCompare<K, I, KV, IV>
where
    K: QueryFragment<Pg>,
    I: QueryFragment<Pg>,
    KV: QueryFragment<Pg>,
    IV: QueryFragment<Pg>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        out.push_sql("(");
        self.key.walk_ast(out.reborrow())?;
        out.push_sql(", ");
        self.id.walk_ast(out.reborrow())?;
        out.push_sql(if self.after { ") > (" } else { ") < (" });
        self.key_value.walk_ast(out.reborrow())?;
        out.push_sql(", ");
        self.id_value.walk_ast(out.reborrow())?;
        out.push_sql(")");
        Ok(())
    }
}

/// `query LIMIT rows`, the count written into the SQL (see the module doc).
/// The query must not have a limit of its own.
#[derive(Debug, Clone)]
pub struct Limited<Q> {
    query: Q,
    rows: i64,
}

/// The first `rows` rows of `query`.
pub fn limited<Q>(query: Q, rows: i64) -> Limited<Q> {
    Limited { query, rows }
}

impl<Q: Query> Query for Limited<Q> {
    type SqlType = Q::SqlType;
}

/// Cached by its SQL text, which holds the count.
impl<Q> QueryId for Limited<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Limited<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(&format!(" LIMIT {}", self.rows));
        Ok(())
    }
}
