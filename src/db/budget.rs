//! Budget codes and the server rows their figures are derived from.
//!
//! The arithmetic lives in `domain::budget`; these queries only load what it
//! needs. A month's figures need the servers billed to a code that were not
//! terminated before the month began: the index `servers_by_budget_code`
//! (`budget_code_id, terminated_at`) finds those without reading the code's
//! older, terminated servers, which only ever grow in number.

use std::collections::HashMap;

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{budget_codes, servers, user_budget_codes};
use crate::domain::budget::{BudgetFigures, Quotas, ServerUsage, month_start};
use crate::domain::servers::ServerState;

/// A budget code: company-wide, with monthly quotas.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = budget_codes, check_for_backend(diesel::pg::Pg))]
pub struct BudgetCode {
    pub id: i64,
    pub company_id: i64,
    pub name: String,
    pub finance_code: String,
    pub description: String,
    pub soft_quota: BigDecimal,
    pub hard_quota: BigDecimal,
    pub status: String,
}

impl BudgetCode {
    pub const ACTIVE: &str = "active";

    pub fn is_active(&self) -> bool {
        self.status == Self::ACTIVE
    }

    pub fn quotas(&self) -> Quotas {
        Quotas { soft: self.soft_quota.clone(), hard: self.hard_quota.clone() }
    }
}

/// The active codes the user holds, by name.
pub async fn codes_of_user(conn: &mut AsyncPgConnection, user_id: i64) -> QueryResult<Vec<BudgetCode>> {
    user_budget_codes::table
        .inner_join(budget_codes::table)
        .filter(user_budget_codes::user_id.eq(user_id))
        .filter(budget_codes::status.eq(BudgetCode::ACTIVE))
        .order_by((budget_codes::name, budget_codes::id))
        .select(BudgetCode::as_select())
        .load(conn)
        .await
}

/// Code `id` if the user holds it and it is active, locked until the
/// transaction ends. A launch billed to it and the code's deactivation
/// (which locks it too) then happen one after the other, and so do two
/// launches that both count against its quota.
pub async fn lock_held(conn: &mut AsyncPgConnection, user_id: i64, id: i64) -> QueryResult<Option<BudgetCode>> {
    let held = user_budget_codes::table
        .filter(user_budget_codes::user_id.eq(user_id))
        .filter(user_budget_codes::budget_code_id.eq(id));
    budget_codes::table
        .filter(budget_codes::id.eq(id))
        .filter(budget_codes::status.eq(BudgetCode::ACTIVE))
        .filter(diesel::dsl::exists(held))
        .select(BudgetCode::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Code `id`, locked until the transaction ends: a server billed to it
/// starts after the launches counted against its quota, or before them.
pub async fn lock(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<BudgetCode> {
    budget_codes::table.find(id).select(BudgetCode::as_select()).for_update().first(conn).await
}

/// Every code of the company, active or not, by name.
pub async fn codes_of_company(conn: &mut AsyncPgConnection, company_id: i64) -> QueryResult<Vec<BudgetCode>> {
    budget_codes::table
        .filter(budget_codes::company_id.eq(company_id))
        .order_by((budget_codes::name, budget_codes::id))
        .select(BudgetCode::as_select())
        .load(conn)
        .await
}

/// What budget arithmetic reads of a server.
#[derive(Queryable, Selectable)]
#[diesel(table_name = servers, check_for_backend(diesel::pg::Pg))]
struct UsageRow {
    budget_code_id: i64,
    hourly_rate: BigDecimal,
    launched_at: DateTime<Utc>,
    terminated_at: Option<DateTime<Utc>>,
    #[diesel(deserialize_as = String)]
    state: ServerState,
}

/// The servers billed to these codes that were not terminated before
/// `since`, as `(budget code id, usage)`, by code and server.
pub async fn usage(
    conn: &mut AsyncPgConnection,
    code_ids: &[i64],
    since: DateTime<Utc>,
) -> QueryResult<Vec<(i64, ServerUsage)>> {
    if code_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = servers::table
        .filter(servers::budget_code_id.eq_any(code_ids))
        .filter(servers::terminated_at.is_null().or(servers::terminated_at.ge(since)))
        .order_by((servers::budget_code_id, servers::id))
        .select(UsageRow::as_select())
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let usage = ServerUsage {
                hourly_rate: row.hourly_rate,
                launched_at: row.launched_at,
                terminated_at: row.terminated_at,
                state: row.state,
            };
            (row.budget_code_id, usage)
        })
        .collect())
}

/// Each code with its figures at `now`, in the order given. One query for
/// all the codes' servers.
pub async fn figures_for(
    conn: &mut AsyncPgConnection,
    codes: Vec<BudgetCode>,
    now: DateTime<Utc>,
) -> QueryResult<Vec<(BudgetCode, BudgetFigures)>> {
    let ids: Vec<i64> = codes.iter().map(|code| code.id).collect();
    let mut servers: HashMap<i64, Vec<ServerUsage>> = HashMap::new();
    for (code, server) in usage(conn, &ids, month_start(now)).await? {
        servers.entry(code).or_default().push(server);
    }
    Ok(codes
        .into_iter()
        .map(|code| {
            let billed = servers.remove(&code.id).unwrap_or_default();
            let figures = BudgetFigures::new(&billed, code.quotas(), now);
            (code, figures)
        })
        .collect())
}
