//! Writing budget codes: add, edit (optimistic, by version), deactivate with
//! a replacement, reactivate. Reading the list and the figures is
//! `db::budget`.
//!
//! Every function takes a connection so the caller runs it inside the
//! transaction that also records the audit event. Codes are company-wide:
//! each query is scoped by `company_id`, so another company's id reads as
//! not found.
//!
//! Deactivation locks the code and its replacement (`FOR UPDATE`, lower id
//! first, so two deactivations that name each other wait instead of
//! deadlocking) and then moves what is billed to the code. The holders of
//! both codes keep one row each: rows of users who already hold the
//! replacement are deleted, the others are repointed, so the primary key
//! `(user_id, budget_code_id)` never sees a duplicate.

use bigdecimal::BigDecimal;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::budget::BudgetCode;
use super::lower;
use super::schema::{budget_codes, image_records, servers, user_budget_codes};

pub const INACTIVE: &str = "inactive";

/// A budget code with the version its edit form carries.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = budget_codes, check_for_backend(diesel::pg::Pg))]
pub struct VersionedCode {
    #[diesel(embed)]
    pub code: BudgetCode,
    pub version: i32,
}

/// The fields of the form, to insert or update.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = budget_codes)]
pub struct CodeFields<'a> {
    pub name: &'a str,
    pub finance_code: &'a str,
    pub description: &'a str,
    pub soft_quota: &'a BigDecimal,
    pub hard_quota: &'a BigDecimal,
}

/// Code `id` of the company; `NotFound` for another company's id.
pub async fn find(conn: &mut AsyncPgConnection, company_id: i64, id: i64) -> QueryResult<VersionedCode> {
    budget_codes::table
        .filter(budget_codes::company_id.eq(company_id))
        .filter(budget_codes::id.eq(id))
        .select(VersionedCode::as_select())
        .first(conn)
        .await
}

/// The same, locked until the transaction ends.
async fn lock(conn: &mut AsyncPgConnection, company_id: i64, id: i64) -> QueryResult<VersionedCode> {
    budget_codes::table
        .filter(budget_codes::company_id.eq(company_id))
        .filter(budget_codes::id.eq(id))
        .select(VersionedCode::as_select())
        .for_update()
        .first(conn)
        .await
}

/// Whether another code of the company has this name, in any case.
pub async fn name_taken(
    conn: &mut AsyncPgConnection,
    company_id: i64,
    name: &str,
    except: Option<i64>,
) -> QueryResult<bool> {
    let query = budget_codes::table
        .filter(budget_codes::company_id.eq(company_id))
        .filter(lower(budget_codes::name).eq(lower(name)))
        .filter(budget_codes::id.ne(except.unwrap_or(0)))
        .select(budget_codes::id);
    diesel::select(diesel::dsl::exists(query)).get_result(conn).await
}

/// Adds a code to the company, active; its id.
pub async fn insert(conn: &mut AsyncPgConnection, company_id: i64, fields: &CodeFields<'_>) -> QueryResult<i64> {
    diesel::insert_into(budget_codes::table)
        .values((budget_codes::company_id.eq(company_id), fields))
        .returning(budget_codes::id)
        .get_result(conn)
        .await
}

/// Saves the form over version `version` of the code; `false` when the code
/// has moved on (someone else saved first).
pub async fn update(
    conn: &mut AsyncPgConnection,
    company_id: i64,
    id: i64,
    version: i32,
    fields: &CodeFields<'_>,
) -> QueryResult<bool> {
    let changed = diesel::update(budget_codes::table)
        .filter(budget_codes::company_id.eq(company_id))
        .filter(budget_codes::id.eq(id))
        .filter(budget_codes::version.eq(version))
        .set((fields, budget_codes::version.eq(budget_codes::version + 1)))
        .execute(conn)
        .await?;
    Ok(changed == 1)
}

/// What moved from a deactivated code to its replacement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Moved {
    pub servers: usize,
    pub images: usize,
    pub users: usize,
}

/// Why a deactivation did not happen (nothing changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotDeactivated {
    /// The code is inactive already.
    AlreadyInactive,
    /// The replacement is (now) inactive.
    ReplacementInactive,
}

/// Deactivates `id` and moves servers, image records and holders to
/// `replacement`. Both are of the company (else `NotFound`). Run inside a
/// transaction: the caller records the event in the same one.
pub async fn deactivate(
    conn: &mut AsyncPgConnection,
    company_id: i64,
    id: i64,
    replacement: i64,
) -> QueryResult<Result<(VersionedCode, VersionedCode, Moved), NotDeactivated>> {
    let (first, second) = if id < replacement { (id, replacement) } else { (replacement, id) };
    let a = lock(conn, company_id, first).await?;
    let b = lock(conn, company_id, second).await?;
    let (code, replacing) = if a.code.id == id { (a, b) } else { (b, a) };
    if !code.code.is_active() {
        return Ok(Err(NotDeactivated::AlreadyInactive));
    }
    if !replacing.code.is_active() {
        return Ok(Err(NotDeactivated::ReplacementInactive));
    }
    let servers = diesel::update(servers::table.filter(servers::budget_code_id.eq(id)))
        .set(servers::budget_code_id.eq(replacement))
        .execute(conn)
        .await?;
    let images = diesel::update(image_records::table.filter(image_records::budget_code_id.eq(id)))
        .set(image_records::budget_code_id.eq(replacement))
        .execute(conn)
        .await?;
    let holders = diesel::alias!(user_budget_codes as holders);
    let holders_of_replacement = holders
        .filter(holders.field(user_budget_codes::budget_code_id).eq(replacement))
        .select(holders.field(user_budget_codes::user_id));
    let merged = diesel::delete(
        user_budget_codes::table
            .filter(user_budget_codes::budget_code_id.eq(id))
            .filter(user_budget_codes::user_id.eq_any(holders_of_replacement)),
    )
    .execute(conn)
    .await?;
    let repointed = diesel::update(user_budget_codes::table.filter(user_budget_codes::budget_code_id.eq(id)))
        .set(user_budget_codes::budget_code_id.eq(replacement))
        .execute(conn)
        .await?;
    set_status(conn, id, INACTIVE).await?;
    Ok(Ok((code, replacing, Moved { servers, images, users: merged + repointed })))
}

/// Reactivates code `id` of the company; `false` when it was active already.
pub async fn reactivate(conn: &mut AsyncPgConnection, company_id: i64, id: i64) -> QueryResult<bool> {
    let code = lock(conn, company_id, id).await?;
    if code.code.is_active() {
        return Ok(false);
    }
    set_status(conn, id, BudgetCode::ACTIVE).await?;
    Ok(true)
}

async fn set_status(conn: &mut AsyncPgConnection, id: i64, status: &str) -> QueryResult<()> {
    diesel::update(budget_codes::table.filter(budget_codes::id.eq(id)))
        .set((budget_codes::status.eq(status), budget_codes::version.eq(budget_codes::version + 1)))
        .execute(conn)
        .await
        .map(drop)
}
