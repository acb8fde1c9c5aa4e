//! What a company is made of when it starts: the company with its external
//! ID, the default roles, groups, budget codes and memberships. Set-up,
//! `create-admin` and the demo all build companies from these.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{access_rights, budget_codes, companies, group_members, groups, roles, user_budget_codes};
use crate::domain::access::default_roles;

/// Whether any company exists: until one does, the console serves only its
/// set-up page.
pub async fn any_company(conn: &mut AsyncPgConnection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(companies::table.select(companies::id))).get_result(conn).await
}

/// Takes the lock that set-up holds while it checks that no company exists
/// and creates the first one, so that two set-ups cannot both pass.
pub async fn lock_setup(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::sql_query("LOCK TABLE companies IN SHARE ROW EXCLUSIVE MODE").execute(conn).await.map(drop)
}

/// A company's external ID: what the roles its accounts trust must be
/// assumed with (AWS's guard against the confused deputy).
pub fn new_external_id() -> String {
    format!("stratus-{}", uuid::Uuid::new_v4().simple())
}

pub async fn insert_company(conn: &mut AsyncPgConnection, name: &str, external_id: &str) -> QueryResult<i64> {
    diesel::insert_into(companies::table)
        .values((companies::name.eq(name), companies::external_id.eq(external_id)))
        .returning(companies::id)
        .get_result(conn)
        .await
}

/// Creates the default roles of a company; returns `(name, id)` pairs.
pub async fn insert_default_roles(conn: &mut AsyncPgConnection, company: i64) -> QueryResult<Vec<(String, i64)>> {
    let mut created = Vec::new();
    for (name, description, rights) in default_roles() {
        let role: i64 = diesel::insert_into(roles::table)
            .values((
                roles::company_id.eq(company),
                roles::name.eq(name),
                roles::description.eq(description),
                roles::is_default.eq(true),
            ))
            .returning(roles::id)
            .get_result(conn)
            .await?;
        let rows: Vec<_> = rights
            .iter()
            .map(|r| {
                (
                    access_rights::role_id.eq(role),
                    access_rights::resource.eq(r.resource.as_str()),
                    access_rights::action.eq(r.action.as_str()),
                    access_rights::qualifier.eq(r.qualifier.as_str()),
                )
            })
            .collect();
        diesel::insert_into(access_rights::table).values(rows).execute(conn).await?;
        created.push((name.to_owned(), role));
    }
    Ok(created)
}

/// Creates group `name` of `company`; it receives `role_in_new_accounts`
/// in every account connected from now on.
pub async fn insert_group(
    conn: &mut AsyncPgConnection,
    company: i64,
    name: &str,
    description: &str,
    role_in_new_accounts: Option<i64>,
) -> QueryResult<i64> {
    diesel::insert_into(groups::table)
        .values((
            groups::company_id.eq(company),
            groups::name.eq(name),
            groups::description.eq(description),
            groups::role_in_new_accounts.eq(role_in_new_accounts),
        ))
        .returning(groups::id)
        .get_result(conn)
        .await
}

pub async fn join_group(conn: &mut AsyncPgConnection, group: i64, user: i64) -> QueryResult<()> {
    diesel::insert_into(group_members::table)
        .values((group_members::group_id.eq(group), group_members::user_id.eq(user)))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn hold_code(conn: &mut AsyncPgConnection, user: i64, code: i64) -> QueryResult<()> {
    diesel::insert_into(user_budget_codes::table)
        .values((user_budget_codes::user_id.eq(user), user_budget_codes::budget_code_id.eq(code)))
        .execute(conn)
        .await
        .map(drop)
}

/// Creates budget code `name` of `company` with its quotas.
pub async fn insert_budget_code(
    conn: &mut AsyncPgConnection,
    company: i64,
    name: &str,
    finance_code: &str,
    description: &str,
    (soft, hard): (&bigdecimal::BigDecimal, &bigdecimal::BigDecimal),
) -> QueryResult<i64> {
    diesel::insert_into(budget_codes::table)
        .values((
            budget_codes::company_id.eq(company),
            budget_codes::name.eq(name),
            budget_codes::finance_code.eq(finance_code),
            budget_codes::description.eq(description),
            budget_codes::soft_quota.eq(soft),
            budget_codes::hard_quota.eq(hard),
        ))
        .returning(budget_codes::id)
        .get_result(conn)
        .await
}

/// Gives each group of `user` that has no role in account `to` the role it
/// has in account `from`. The groups it gave a role, by id.
pub async fn give_roles_held_in(conn: &mut AsyncPgConnection, user: i64, from: i64, to: i64) -> QueryResult<Vec<i64>> {
    use super::schema::group_roles;
    let held = group_roles::table
        .inner_join(group_members::table.on(group_members::group_id.eq(group_roles::group_id)))
        .filter(group_members::user_id.eq(user))
        .filter(group_roles::account_id.eq(from))
        .select((group_roles::group_id, group_roles::role_id))
        .load::<(i64, i64)>(conn)
        .await?;
    let rows: Vec<_> = held
        .into_iter()
        .map(|(group, role)| {
            (group_roles::group_id.eq(group), group_roles::account_id.eq(to), group_roles::role_id.eq(role))
        })
        .collect();
    diesel::insert_into(group_roles::table)
        .values(rows)
        .on_conflict_do_nothing()
        .returning(group_roles::group_id)
        .get_results(conn)
        .await
}

/// Gives every group of `company` that has a role for new accounts that
/// role in `account`.
pub async fn give_new_account_roles(conn: &mut AsyncPgConnection, company: i64, account: i64) -> QueryResult<()> {
    use super::schema::group_roles;
    let wanted = groups::table
        .filter(groups::company_id.eq(company))
        .filter(groups::role_in_new_accounts.is_not_null())
        .select((groups::id, groups::role_in_new_accounts.assume_not_null()))
        .load::<(i64, i64)>(conn)
        .await?;
    let rows: Vec<_> = wanted
        .into_iter()
        .map(|(group, role)| {
            (group_roles::group_id.eq(group), group_roles::account_id.eq(account), group_roles::role_id.eq(role))
        })
        .collect();
    diesel::insert_into(group_roles::table).values(rows).on_conflict_do_nothing().execute(conn).await.map(drop)
}
