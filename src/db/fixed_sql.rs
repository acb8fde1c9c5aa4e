//! A fixed SQL expression: what `diesel::dsl::sql` writes, for subqueries
//! diesel's DSL cannot express, without taking the statement out of the
//! prepared-statement cache.
//!
//! `dsl::sql` cannot know its text is the same every time, so any query that
//! holds one is prepared afresh on every execution, and PostgreSQL plans it
//! afresh too: for the records list that cost four times what running it
//! does (`make bench`). A `Fixed` expression's text is a `&'static str`, so
//! the query's text, by which diesel caches it, stays the same.

use std::marker::PhantomData;

use diesel::expression::is_aggregate;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, TypedExpressionType, ValidGrouping};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::SqlType;

/// The SQL `sql`, an expression of type `ST` that reads only the tables of
/// the query it is in and aggregates nothing of it.
#[derive(Debug)]
pub struct Fixed<ST> {
    sql: &'static str,
    sql_type: PhantomData<ST>,
}

impl<ST> Clone for Fixed<ST> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<ST> Copy for Fixed<ST> {}

pub const fn fixed<ST>(sql: &'static str) -> Fixed<ST> {
    Fixed { sql, sql_type: PhantomData }
}

impl<ST: SqlType + TypedExpressionType> Expression for Fixed<ST> {
    type SqlType = ST;
}

impl<ST> QueryFragment<Pg> for Fixed<ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        out.push_sql(self.sql);
        Ok(())
    }
}

impl<ST> QueryId for Fixed<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST, GB> ValidGrouping<GB> for Fixed<ST> {
    type IsAggregate = is_aggregate::Never;
}

impl<ST, QS> AppearsOnTable<QS> for Fixed<ST> where Self: Expression {}

impl<ST, QS> SelectableExpression<QS> for Fixed<ST> where Self: Expression {}
