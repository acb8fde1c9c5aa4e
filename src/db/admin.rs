//! Queries of the administration pages: users, groups, roles and their
//! access rights, always within one company (another company's id is
//! `NotFound`, which the web layer answers with 404).
//!
//! Changes take a connection that is inside the change's transaction;
//! [`lock_company`] serializes the administration changes of a company so
//! that two administrators deactivating each other at the same moment cannot
//! both pass the last-administrator check ([`administered_accounts`]).

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::lower;
use super::schema::{
    access_rights, account_memberships, accounts, budget_codes, companies, group_members, group_roles, groups, roles,
    sessions, user_budget_codes, users,
};
use super::users::{User, VersionedUser};
use crate::domain::access::{AccessRight, Grant, Rights};
use crate::domain::admin::UserStatus;

/// Writes the queries groups and roles share, for the company-named table
/// `$table` with its row `$row`: the company's rows by name, one of them by
/// id, whether a name is taken (ignoring case) and the insert and the
/// rename (optimistic, by version).
/// A macro because diesel's table types make one generic function over the
/// two tables far harder to read than the query itself.
macro_rules! company_named {
    ($table:ident, $row:ty { $list:ident, $find:ident, $name_taken:ident, $insert:ident, $update:ident }) => {
        /// The company's rows, by name (ignoring case).
        async fn $list(conn: &mut AsyncPgConnection, company: i64) -> QueryResult<Vec<$row>> {
            $table::table
                .filter($table::company_id.eq(company))
                .order((lower($table::name), $table::id))
                .select(<$row>::as_select())
                .load(conn)
                .await
        }

        /// The row `id` of the company.
        pub async fn $find(conn: &mut AsyncPgConnection, company: i64, id: i64) -> QueryResult<$row> {
            $table::table.find(id).filter($table::company_id.eq(company)).select(<$row>::as_select()).first(conn).await
        }

        /// Is the name taken in the company (ignoring case), by another row
        /// than `except`?
        pub async fn $name_taken(
            conn: &mut AsyncPgConnection,
            company: i64,
            name: &str,
            except: Option<i64>,
        ) -> QueryResult<bool> {
            let n: i64 = $table::table
                .filter($table::company_id.eq(company))
                .filter(lower($table::name).eq(lower(name)))
                .filter($table::id.ne(except.unwrap_or(0)))
                .count()
                .get_result(conn)
                .await?;
            Ok(n > 0)
        }

        pub async fn $insert(
            conn: &mut AsyncPgConnection,
            company: i64,
            name: &str,
            description: &str,
        ) -> QueryResult<i64> {
            diesel::insert_into($table::table)
                .values(($table::company_id.eq(company), $table::name.eq(name), $table::description.eq(description)))
                .returning($table::id)
                .get_result(conn)
                .await
        }

        /// Saves the name and description over version `version` of row
        /// `id`; `false` when the row has moved on (someone else saved first).
        pub async fn $update(
            conn: &mut AsyncPgConnection,
            id: i64,
            version: i32,
            name: &str,
            description: &str,
        ) -> QueryResult<bool> {
            let saved = diesel::update($table::table.find(id))
                .filter($table::version.eq(version))
                .set((
                    $table::name.eq(name),
                    $table::description.eq(description),
                    $table::version.eq($table::version + 1),
                ))
                .execute(conn)
                .await?;
            Ok(saved == 1)
        }
    };
}

/// How many rows of `$table` each of `$ids` has in `$column`, by id (an id
/// without rows is missing): one query for a whole list.
macro_rules! count_per {
    ($conn:expr, $table:ident :: $column:ident, $ids:expr) => {
        $table::table
            .filter($table::$column.eq_any($ids))
            .group_by($table::$column)
            .select(($table::$column, diesel::dsl::count_star()))
            .load::<(i64, i64)>($conn)
            .await?
            .into_iter()
            .collect::<HashMap<i64, i64>>()
    };
}

/// Takes the company's row lock until the transaction ends.
pub async fn lock_company(conn: &mut AsyncPgConnection, company: i64) -> QueryResult<()> {
    companies::table.find(company).select(companies::id).for_update().get_result::<i64>(conn).await.map(drop)
}

/// The accounts of the company, `(id, name)` by id, where an active member
/// holds `ANY ANY ANY` (what the default Admin role is) through a group's
/// role there: the accounts that have an administrator now.
pub async fn administered_accounts(conn: &mut AsyncPgConnection, company: i64) -> QueryResult<Vec<(i64, String)>> {
    accounts::table
        .inner_join(group_roles::table.on(group_roles::account_id.eq(accounts::id)))
        .inner_join(access_rights::table.on(access_rights::role_id.eq(group_roles::role_id)))
        .inner_join(group_members::table.on(group_members::group_id.eq(group_roles::group_id)))
        .inner_join(
            account_memberships::table.on(account_memberships::account_id
                .eq(accounts::id)
                .and(account_memberships::user_id.eq(group_members::user_id))),
        )
        .inner_join(users::table.on(users::id.eq(group_members::user_id)))
        .filter(accounts::company_id.eq(company))
        .filter(users::status.eq(UserStatus::Active.as_str()))
        .filter(access_rights::resource.eq("ANY"))
        .filter(access_rights::action.eq("ANY"))
        .filter(access_rights::qualifier.eq("ANY"))
        .select((accounts::id, accounts::name))
        .distinct()
        .order(accounts::id)
        .load(conn)
        .await
}

fn parse_rights(rows: Vec<(String, String, String)>) -> Vec<AccessRight> {
    rows.into_iter().filter_map(|(r, a, q)| parse_right(&r, &a, &q)).collect()
}

/// A stored right, unless it names something this build does not know.
fn parse_right(resource: &str, action: &str, qualifier: &str) -> Option<AccessRight> {
    Some(AccessRight::new(resource.parse().ok()?, action.parse().ok()?, qualifier.parse().ok()?))
}

/// The rights `user` holds in `account` (read in the transaction that acts
/// on them). Stored names this build does not know are skipped.
pub async fn rights_in(conn: &mut AsyncPgConnection, account: i64, user: i64) -> QueryResult<Vec<AccessRight>> {
    let rows = group_members::table
        .inner_join(group_roles::table.on(group_roles::group_id.eq(group_members::group_id)))
        .inner_join(
            account_memberships::table.on(account_memberships::account_id
                .eq(group_roles::account_id)
                .and(account_memberships::user_id.eq(group_members::user_id))),
        )
        .inner_join(access_rights::table.on(access_rights::role_id.eq(group_roles::role_id)))
        .filter(group_members::user_id.eq(user))
        .filter(group_roles::account_id.eq(account))
        .select((access_rights::resource, access_rights::action, access_rights::qualifier))
        .load(conn)
        .await?;
    Ok(parse_rights(rows))
}

/// The accounts `user` is a member of.
pub async fn member_accounts(conn: &mut AsyncPgConnection, user: i64) -> QueryResult<Vec<i64>> {
    account_memberships::table
        .filter(account_memberships::user_id.eq(user))
        .order(account_memberships::account_id)
        .select(account_memberships::account_id)
        .load(conn)
        .await
}

/// Makes `accounts` the ones of company `company` that user `user` may
/// enter; memberships of its disabled accounts, and of other companies'
/// accounts, are kept (the form offers neither).
pub async fn set_user_accounts(
    conn: &mut AsyncPgConnection,
    user: i64,
    company: i64,
    accounts: &[i64],
) -> QueryResult<()> {
    use super::schema::accounts;
    let enabled = accounts::table
        .filter(accounts::company_id.eq(company))
        .filter(accounts::disabled_at.is_null())
        .select(accounts::id);
    diesel::delete(
        account_memberships::table
            .filter(account_memberships::user_id.eq(user))
            .filter(account_memberships::account_id.ne_all(accounts))
            .filter(account_memberships::account_id.eq_any(enabled)),
    )
    .execute(conn)
    .await?;
    for &account in accounts {
        super::accounts::add_member(conn, account, user).await?;
    }
    Ok(())
}

/// The accounts where some group has the role.
pub async fn role_accounts(conn: &mut AsyncPgConnection, role: i64) -> QueryResult<Vec<i64>> {
    group_roles::table
        .filter(group_roles::role_id.eq(role))
        .select(group_roles::account_id)
        .distinct()
        .order(group_roles::account_id)
        .load(conn)
        .await
}

/// The rights that the groups `group_ids` carry in `account`.
pub async fn rights_of_groups(
    conn: &mut AsyncPgConnection,
    account: i64,
    group_ids: &[i64],
) -> QueryResult<Vec<AccessRight>> {
    Ok(grants_of_groups(conn, account, group_ids).await?.into_iter().map(|grant| grant.right).collect())
}

/// The rights that the groups `group_ids` carry in `account`, each with
/// the group it comes through. Stored names this build does not know are
/// skipped.
pub async fn grants_of_groups(
    conn: &mut AsyncPgConnection,
    account: i64,
    group_ids: &[i64],
) -> QueryResult<Vec<Grant>> {
    let rows: Vec<(String, String, String, i64)> = group_roles::table
        .inner_join(access_rights::table.on(access_rights::role_id.eq(group_roles::role_id)))
        .filter(group_roles::account_id.eq(account))
        .filter(group_roles::group_id.eq_any(group_ids))
        .select((access_rights::resource, access_rights::action, access_rights::qualifier, group_roles::group_id))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(r, a, q, via_group)| Some(Grant { right: parse_right(&r, &a, &q)?, via_group }))
        .collect())
}

/// User `user`'s rights in `account` as the access decision reads them
/// (`Rights::allows`), read in the transaction that acts on them: their
/// groups' roles there if they are a member, their groups and their codes.
pub async fn rights_of_user(conn: &mut AsyncPgConnection, account: i64, user: i64) -> QueryResult<Rights> {
    let groups = user_groups(conn, user).await?;
    let codes = user_codes(conn, user).await?;
    let member = member_accounts(conn, user).await?.contains(&account);
    let grants = if member { grants_of_groups(conn, account, &groups).await? } else { Vec::new() };
    Ok(Rights::new(user, groups, codes, grants))
}

// ---------------------------------------------------------------- users

/// A user of the list, with names of their groups and budget codes.
pub struct UserListRow {
    pub user: User,
    pub groups: Vec<String>,
    pub budget_codes: Vec<String>,
    /// A member of the account the list is for.
    pub member: bool,
}

/// The users of `company`, by family name, with what the list shows.
pub async fn list_users(conn: &mut AsyncPgConnection, company: i64, account: i64) -> QueryResult<Vec<UserListRow>> {
    let people: Vec<User> = users::table
        .filter(users::company_id.eq(company))
        .order((lower(users::family_name), lower(users::given_name), users::id))
        .select(User::as_select())
        .load(conn)
        .await?;
    let ids: Vec<i64> = people.iter().map(|u| u.id).collect();
    let mut group_names: HashMap<i64, Vec<String>> = HashMap::new();
    let memberships: Vec<(i64, String)> = group_members::table
        .inner_join(groups::table)
        .filter(group_members::user_id.eq_any(&ids))
        .order(groups::name)
        .select((group_members::user_id, groups::name))
        .load(conn)
        .await?;
    for (user, name) in memberships {
        group_names.entry(user).or_default().push(name);
    }
    let mut code_names: HashMap<i64, Vec<String>> = HashMap::new();
    let held: Vec<(i64, String)> = user_budget_codes::table
        .inner_join(budget_codes::table)
        .filter(user_budget_codes::user_id.eq_any(&ids))
        .order(budget_codes::name)
        .select((user_budget_codes::user_id, budget_codes::name))
        .load(conn)
        .await?;
    for (user, name) in held {
        code_names.entry(user).or_default().push(name);
    }
    let members: Vec<i64> = account_memberships::table
        .filter(account_memberships::account_id.eq(account))
        .filter(account_memberships::user_id.eq_any(&ids))
        .select(account_memberships::user_id)
        .load(conn)
        .await?;
    Ok(people
        .into_iter()
        .map(|user| UserListRow {
            groups: group_names.remove(&user.id).unwrap_or_default(),
            budget_codes: code_names.remove(&user.id).unwrap_or_default(),
            member: members.contains(&user.id),
            user,
        })
        .collect())
}

/// The user `id` of `company`.
pub async fn find_user(conn: &mut AsyncPgConnection, company: i64, id: i64) -> QueryResult<User> {
    users::table.find(id).filter(users::company_id.eq(company)).select(User::as_select()).first(conn).await
}

/// The id of the user with this email (ignoring case), other than `except`.
pub async fn email_owner(conn: &mut AsyncPgConnection, email: &str, except: Option<i64>) -> QueryResult<Option<i64>> {
    users::table
        .filter(lower(users::email).eq(lower(email)))
        .filter(users::id.ne(except.unwrap_or(0)))
        .select(users::id)
        .first(conn)
        .await
        .optional()
}

/// The user `id` of `company` with the version their edit form carries.
pub async fn find_versioned_user(conn: &mut AsyncPgConnection, company: i64, id: i64) -> QueryResult<VersionedUser> {
    users::table.find(id).filter(users::company_id.eq(company)).select(VersionedUser::as_select()).first(conn).await
}

/// Saves the names and email over version `version` of the user; `false`
/// when the user has moved on (someone else saved first). Their groups and
/// codes are written with it, in the same transaction.
pub async fn update_user(
    conn: &mut AsyncPgConnection,
    id: i64,
    version: i32,
    (given, family, email): (&str, &str, &str),
) -> QueryResult<bool> {
    let saved = diesel::update(users::table.find(id))
        .filter(users::version.eq(version))
        .set((
            users::given_name.eq(given),
            users::family_name.eq(family),
            users::email.eq(email),
            users::version.eq(users::version + 1),
        ))
        .execute(conn)
        .await?;
    Ok(saved == 1)
}

/// Every other write of a user adds one to the version too, so an edit form
/// read before it is stale.
pub async fn set_status(conn: &mut AsyncPgConnection, id: i64, status: UserStatus) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((users::status.eq(status.as_str()), users::version.eq(users::version + 1)))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn set_password_hash(conn: &mut AsyncPgConnection, id: i64, hash: &str) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((users::password_hash.eq(hash), users::version.eq(users::version + 1)))
        .execute(conn)
        .await
        .map(drop)
}

/// Ends every session of the user: their next request is signed out.
pub async fn end_sessions(conn: &mut AsyncPgConnection, user: i64) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user))).execute(conn).await
}

pub async fn user_groups(conn: &mut AsyncPgConnection, user: i64) -> QueryResult<Vec<i64>> {
    group_members::table
        .filter(group_members::user_id.eq(user))
        .order(group_members::group_id)
        .select(group_members::group_id)
        .load(conn)
        .await
}

pub async fn user_codes(conn: &mut AsyncPgConnection, user: i64) -> QueryResult<Vec<i64>> {
    user_budget_codes::table
        .filter(user_budget_codes::user_id.eq(user))
        .order(user_budget_codes::budget_code_id)
        .select(user_budget_codes::budget_code_id)
        .load(conn)
        .await
}

/// Replaces the user's groups.
pub async fn set_user_groups(conn: &mut AsyncPgConnection, user: i64, group_ids: &[i64]) -> QueryResult<()> {
    diesel::delete(group_members::table.filter(group_members::user_id.eq(user))).execute(conn).await?;
    let rows: Vec<_> =
        group_ids.iter().map(|&g| (group_members::group_id.eq(g), group_members::user_id.eq(user))).collect();
    diesel::insert_into(group_members::table).values(rows).execute(conn).await.map(drop)
}

/// Replaces the user's budget codes.
pub async fn set_user_codes(conn: &mut AsyncPgConnection, user: i64, code_ids: &[i64]) -> QueryResult<()> {
    diesel::delete(user_budget_codes::table.filter(user_budget_codes::user_id.eq(user))).execute(conn).await?;
    let rows: Vec<_> = code_ids
        .iter()
        .map(|&c| (user_budget_codes::user_id.eq(user), user_budget_codes::budget_code_id.eq(c)))
        .collect();
    diesel::insert_into(user_budget_codes::table).values(rows).execute(conn).await.map(drop)
}

pub async fn is_member(conn: &mut AsyncPgConnection, account: i64, user: i64) -> QueryResult<bool> {
    let n: i64 = account_memberships::table
        .filter(account_memberships::account_id.eq(account))
        .filter(account_memberships::user_id.eq(user))
        .count()
        .get_result(conn)
        .await?;
    Ok(n > 0)
}

/// `(id, name)` of the company's groups, by name.
pub async fn group_choices(conn: &mut AsyncPgConnection, company: i64) -> QueryResult<Vec<(i64, String)>> {
    groups::table
        .filter(groups::company_id.eq(company))
        .order((lower(groups::name), groups::id))
        .select((groups::id, groups::name))
        .load(conn)
        .await
}

/// `(id, name)` of the company's active budget codes, by name.
pub async fn code_choices(conn: &mut AsyncPgConnection, company: i64) -> QueryResult<Vec<(i64, String)>> {
    budget_codes::table
        .filter(budget_codes::company_id.eq(company))
        .filter(budget_codes::status.eq("active"))
        .order((budget_codes::name, budget_codes::id))
        .select((budget_codes::id, budget_codes::name))
        .load(conn)
        .await
}

// ---------------------------------------------------------------- groups

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = groups)]
pub struct GroupRow {
    pub id: i64,
    pub company_id: i64,
    pub name: String,
    pub description: String,
    /// What the edit form carries; every rename adds one.
    pub version: i32,
}

/// A group of the list: its role in the account and how many members.
pub struct GroupListRow {
    pub group: GroupRow,
    pub role: Option<(i64, String)>,
    pub members: i64,
}

company_named!(groups, GroupRow { company_groups, find_group, group_name_taken, insert_group, update_group });

pub async fn list_groups(conn: &mut AsyncPgConnection, company: i64, account: i64) -> QueryResult<Vec<GroupListRow>> {
    let rows = company_groups(conn, company).await?;
    let ids: Vec<i64> = rows.iter().map(|g| g.id).collect();
    let roles_here: HashMap<i64, (i64, String)> = group_roles::table
        .inner_join(roles::table)
        .filter(group_roles::account_id.eq(account))
        .filter(group_roles::group_id.eq_any(&ids))
        .select((group_roles::group_id, roles::id, roles::name))
        .load::<(i64, i64, String)>(conn)
        .await?
        .into_iter()
        .map(|(g, r, n)| (g, (r, n)))
        .collect();
    let counts = count_per!(conn, group_members::group_id, &ids);
    Ok(rows
        .into_iter()
        .map(|group| GroupListRow {
            role: roles_here.get(&group.id).cloned(),
            members: counts.get(&group.id).copied().unwrap_or(0),
            group,
        })
        .collect())
}

/// The role (id, name) group `group` has in `account`, if any.
pub async fn group_role(conn: &mut AsyncPgConnection, group: i64, account: i64) -> QueryResult<Option<(i64, String)>> {
    group_roles::table
        .inner_join(roles::table)
        .filter(group_roles::account_id.eq(account))
        .filter(group_roles::group_id.eq(group))
        .select((roles::id, roles::name))
        .first(conn)
        .await
        .optional()
}

pub async fn group_member_count(conn: &mut AsyncPgConnection, group: i64) -> QueryResult<i64> {
    group_members::table.filter(group_members::group_id.eq(group)).count().get_result(conn).await
}

/// Deletes a group without members, with its roles in every account; the
/// images and servers it owned keep no owning group (their foreign keys set
/// it to NULL, those written while the delete waited for the group included).
pub async fn delete_group(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
    diesel::delete(group_roles::table.filter(group_roles::group_id.eq(id))).execute(conn).await?;
    diesel::delete(groups::table.find(id)).execute(conn).await.map(drop)
}

/// Sets (or with `None` removes) the group's role in the account.
pub async fn set_group_role(
    conn: &mut AsyncPgConnection,
    group: i64,
    account: i64,
    role: Option<i64>,
) -> QueryResult<()> {
    let here = group_roles::table.filter(group_roles::group_id.eq(group)).filter(group_roles::account_id.eq(account));
    diesel::delete(here).execute(conn).await?;
    if let Some(role) = role {
        diesel::insert_into(group_roles::table)
            .values((
                group_roles::group_id.eq(group),
                group_roles::account_id.eq(account),
                group_roles::role_id.eq(role),
            ))
            .execute(conn)
            .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- roles

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = roles)]
pub struct RoleRow {
    pub id: i64,
    pub company_id: i64,
    pub name: String,
    pub description: String,
    pub is_default: bool,
    /// What the edit form carries; every rename adds one.
    pub version: i32,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = access_rights)]
pub struct RightRow {
    pub id: i64,
    pub role_id: i64,
    pub resource: String,
    pub action: String,
    pub qualifier: String,
}

impl RightRow {
    /// The right as the access decision reads it; `None` for a stored
    /// triple it does not know (it grants nothing).
    pub fn right(&self) -> Option<AccessRight> {
        Some(AccessRight::new(self.resource.parse().ok()?, self.action.parse().ok()?, self.qualifier.parse().ok()?))
    }
}

company_named!(roles, RoleRow { company_roles, find_role, role_name_taken, insert_role, update_role });

/// The company's roles, by name, with how many rights each has.
pub async fn list_roles(conn: &mut AsyncPgConnection, company: i64) -> QueryResult<Vec<(RoleRow, i64)>> {
    let rows = company_roles(conn, company).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let counts = count_per!(conn, access_rights::role_id, &ids);
    Ok(rows
        .into_iter()
        .map(|r| {
            let n = counts.get(&r.id).copied().unwrap_or(0);
            (r, n)
        })
        .collect())
}

/// How many `(group, account)` pairs have the role.
pub async fn role_use_count(conn: &mut AsyncPgConnection, role: i64) -> QueryResult<i64> {
    group_roles::table.filter(group_roles::role_id.eq(role)).count().get_result(conn).await
}

/// Deletes a role no group has; its rights go with it (`ON DELETE CASCADE`).
pub async fn delete_role(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
    diesel::delete(roles::table.find(id)).execute(conn).await.map(drop)
}

pub async fn role_rights(conn: &mut AsyncPgConnection, role: i64) -> QueryResult<Vec<RightRow>> {
    access_rights::table
        .filter(access_rights::role_id.eq(role))
        .order((access_rights::resource, access_rights::action, access_rights::qualifier))
        .select(RightRow::as_select())
        .load(conn)
        .await
}

/// Adds a right to a role; false when the role has it already.
pub async fn add_right(conn: &mut AsyncPgConnection, role: i64, right: &AccessRight) -> QueryResult<bool> {
    let added = diesel::insert_into(access_rights::table)
        .values((
            access_rights::role_id.eq(role),
            access_rights::resource.eq(right.resource.as_str()),
            access_rights::action.eq(right.action.as_str()),
            access_rights::qualifier.eq(right.qualifier.as_str()),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(added == 1)
}

/// The right `id` of `role`.
pub async fn find_right(conn: &mut AsyncPgConnection, role: i64, id: i64) -> QueryResult<RightRow> {
    access_rights::table
        .find(id)
        .filter(access_rights::role_id.eq(role))
        .select(RightRow::as_select())
        .first(conn)
        .await
}

pub async fn delete_right(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
    diesel::delete(access_rights::table.find(id)).execute(conn).await.map(drop)
}
