//! Row comparison for keyset pagination: `(key, id) > ($1, $2)`.
//!
//! PostgreSQL answers a row comparison straight from a `(…, key, id)` index,
//! where the equivalent `key > $1 OR (key = $1 AND id > $2)` makes it filter.
//! Diesel's DSL has no row comparison, and an SQL literal would keep the
//! query out of the prepared-statement cache, so this is a small expression
//! of our own.

use diesel::expression::{AppearsOnTable, Expression, ValidGrouping, is_aggregate};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
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
