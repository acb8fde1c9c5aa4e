//! Administration changes: users, groups, roles and their access rights.
//!
//! Every change runs in one transaction that first locks the company's row
//! (`db::admin::lock_company`), so two administrators never decide on the
//! same state at once; it then re-reads what it decides on, writes the
//! change and its audit event.
//!
//! Two rules hold for every change (their pure parts are in
//! `domain::admin`):
//! - **No escalation** ([`no_escalation`], [`escalation_check`]): putting a
//!   user into groups (adding, editing, reactivating, adding to this
//!   account), making them a member of a cloud account, setting a role on
//!   a group and adding a right to a role are
//!   refused (`Refusal::Escalation`, 403) when the rights that reach
//!   someone exceed the acting administrator's own, in this account or in
//!   any other account the change reaches (groups and roles are
//!   company-wide).
//! - **No reaching above** ([`within_reach`]): editing a user, resetting
//!   their password, deactivating them and taking them out of a cloud
//!   account are refused
//!   (`Refusal::Outranked`, 403) when they hold a right, in any account they
//!   work in, that the acting administrator does not hold there: a user
//!   administrator must not take over, lock out or demote an Admin, nor an
//!   administrator of one account one of another.
//! - **No withdrawing above** ([`withdrawal_check`]): taking a role from a
//!   group, or a right from a role, is refused (`Refusal::Withdrawal`, 403)
//!   when what is taken holds a right the acting administrator does not
//!   hold, here or in any account the role reaches: the members would be
//!   demoted past the administrator's own rights, as `within_reach` refuses
//!   for a user.
//! - **Last administrator** ([`keeping_admins`]): no change may leave an
//!   account of the company that has an administrator without one
//!   (`Refusal::LastAdmin` naming the account, 409). Accounts are counted
//!   before and after the write, under the company's lock and inside the
//!   change's transaction, which rolls back on refusal. Per account, not per
//!   company: an administrator of Production cannot give the role back in
//!   Staging through the console unless they work there, so Staging would
//!   be orphaned. An account that had no administrator before the change
//!   does not block it (nothing was lost).
//!
//! Groups and roles share their create and rename flow ([`Named`]).

pub mod groups;
pub mod roles;
pub mod users;

use std::collections::BTreeSet;

use diesel_async::{AsyncConnection as _, AsyncPgConnection};

use super::{Actor, ChangeError};
use crate::db;
use crate::domain::ValidationError;
use crate::domain::access::{AccessRight, Action, Resource};
use crate::domain::admin::{exceeds, role_rename};
use crate::domain::refusal::Refusal;

/// Refused (nothing changed) when the rights the groups carry exceed the
/// acting user's own, in this account or in any other account `member`
/// works in: groups are company-wide, so joining one grants its roles
/// everywhere.
pub(crate) async fn no_escalation(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    group_ids: &[i64],
    member: Option<i64>,
) -> Result<(), ChangeError> {
    if group_ids.is_empty() {
        return Ok(());
    }
    let others = match member {
        Some(member) => db::admin::member_accounts(conn, member).await?,
        None => Vec::new(),
    };
    for account in this_account_and(actor, others) {
        let wanted = db::admin::rights_of_groups(conn, account, group_ids).await?;
        escalation_check(conn, actor, account, &wanted).await?;
    }
    Ok(())
}

/// The current account first, then the others a change reaches.
pub(crate) fn this_account_and(actor: &Actor<'_>, others: Vec<i64>) -> Vec<i64> {
    let here = actor.account.id;
    std::iter::once(here).chain(others.into_iter().filter(|a| *a != here)).collect()
}

/// Refused when `wanted` holds a right the acting user does not hold in
/// `account`.
pub(crate) async fn escalation_check(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    account: i64,
    wanted: &[AccessRight],
) -> Result<(), ChangeError> {
    refuse_beyond(conn, actor, account, wanted, |right, account| Refusal::Escalation { right, account }).await
}

/// Refused when `taken` holds a right the acting user does not hold in
/// `account`: they may withdraw only what they could grant.
pub(crate) async fn withdrawal_check(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    account: i64,
    taken: &[AccessRight],
) -> Result<(), ChangeError> {
    refuse_beyond(conn, actor, account, taken, |right, account| Refusal::Withdrawal { right, account }).await
}

/// `refusal` of the first of `rights` the acting user does not hold in
/// `account`, if any.
async fn refuse_beyond(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    account: i64,
    rights: &[AccessRight],
    refusal: fn(AccessRight, Option<String>) -> Refusal,
) -> Result<(), ChangeError> {
    match beyond_actor(conn, actor, account, rights).await? {
        Some((right, account)) => Err(refusal(right, account).into()),
        None => Ok(()),
    }
}

/// What [`within_reach`] read of its target, for a change that goes on to
/// alter it.
pub(crate) struct Standing {
    /// The groups the target is in.
    pub groups: Vec<i64>,
    /// The accounts the target is a member of.
    pub accounts: Vec<i64>,
}

/// Refused when user `target` (named `name`) holds, through their groups,
/// a right the acting user does not hold, in any account the target works
/// in; else the target's groups and accounts.
pub(crate) async fn within_reach(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    target: i64,
    name: &str,
) -> Result<Standing, ChangeError> {
    let groups = db::admin::user_groups(conn, target).await?;
    let accounts = db::admin::member_accounts(conn, target).await?;
    if !groups.is_empty() {
        // Their groups' roles reach them where they are a member; the
        // current account first, so the refusal names another only when
        // this one holds.
        let mut current_first = accounts.clone();
        current_first.sort_by_key(|account| *account != actor.account.id);
        for account in current_first {
            let held = db::admin::rights_of_groups(conn, account, &groups).await?;
            if let Some((right, account)) = beyond_actor(conn, actor, account, &held).await? {
                return Err(Refusal::Outranked { user: name.to_owned(), right, account }.into());
            }
        }
    }
    Ok(Standing { groups, accounts })
}

/// The first of `wanted` the acting user does not hold in `account`, with
/// the account's name when it is not the current one.
async fn beyond_actor(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    account: i64,
    wanted: &[AccessRight],
) -> Result<Option<(AccessRight, Option<String>)>, ChangeError> {
    beyond(conn, actor.user.id, Some(actor.account.id), account, wanted).await
}

/// The first of `wanted` that user `acting` does not hold in `account`,
/// with the account's name when it is not `here` (the account they work in).
pub(crate) async fn beyond(
    conn: &mut AsyncPgConnection,
    acting: i64,
    here: Option<i64>,
    account: i64,
    wanted: &[AccessRight],
) -> Result<Option<(AccessRight, Option<String>)>, ChangeError> {
    let held = db::admin::rights_in(conn, account, acting).await?;
    let Some(right) = exceeds(&held, wanted) else {
        return Ok(None);
    };
    let elsewhere = if here == Some(account) { None } else { Some(db::accounts::find(conn, account).await?.name) };
    Ok(Some((*right, elsewhere)))
}

/// Runs `write` (inside the caller's transaction, under the company's
/// lock) and refuses it when it took the last administrator from an account
/// that had one; the caller's transaction then rolls back, so nothing is
/// written. Every change that can take an administrator away (a role set on
/// a group, a right taken from a role, a user taken out of a group or
/// deactivated, a group deleted) writes through this.
pub(crate) async fn keeping_admins<T>(
    conn: &mut AsyncPgConnection,
    company: i64,
    write: impl AsyncFnOnce(&mut AsyncPgConnection) -> Result<T, ChangeError>,
) -> Result<T, ChangeError> {
    let before = db::admin::administered_accounts(conn, company).await?;
    let written = write(conn).await?;
    let after = db::admin::administered_accounts(conn, company).await?;
    match before.into_iter().find(|(id, _)| !after.iter().any(|(kept, _)| kept == id)) {
        Some((_, account)) => Err(Refusal::LastAdmin { account }.into()),
        None => Ok(written),
    }
}

pub(crate) fn unique(ids: &[i64]) -> Vec<i64> {
    ids.iter().copied().collect::<BTreeSet<_>>().into_iter().collect()
}

/// The ids, once each, when every one is one of `choices`; else invalid at
/// `field` (a form no page offers: the pages answer it with 400).
pub(crate) fn known(
    ids: &[i64],
    choices: &[(i64, String)],
    field: &'static str,
    what: &str,
) -> Result<Vec<i64>, ChangeError> {
    let ids = unique(ids);
    if ids.iter().all(|id| choices.iter().any(|(c, _)| c == id)) {
        Ok(ids)
    } else {
        Err(ValidationError::new(field, format!("The form names a {what} that does not exist.")).into())
    }
}

/// The names of `ids` among `choices`, in the choices' order.
pub(crate) fn names(ids: &[i64], choices: &[(i64, String)]) -> Vec<String> {
    choices.iter().filter(|(id, _)| ids.contains(id)).map(|(_, n)| n.clone()).collect()
}

/// What has a company-wide name and a description: groups and roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Named {
    Group,
    Role,
}

impl Named {
    pub fn resource(self) -> Resource {
        match self {
            Named::Group => Resource::Group,
            Named::Role => Resource::Role,
        }
    }

    /// The word for one of them in sentences.
    pub fn what(self) -> &'static str {
        match self {
            Named::Group => "group",
            Named::Role => "role",
        }
    }

    async fn name_taken(
        self,
        conn: &mut AsyncPgConnection,
        company: i64,
        name: &str,
        except: Option<i64>,
    ) -> Result<(), ChangeError> {
        let taken = match self {
            Named::Group => db::admin::group_name_taken(conn, company, name, except).await?,
            Named::Role => db::admin::role_name_taken(conn, company, name, except).await?,
        };
        if taken { Err(Refusal::CompanyNameTaken { what: self.what(), name: name.to_owned() }.into()) } else { Ok(()) }
    }
}

/// Creates a group or a role named `name` in the actor's company; its id.
pub async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    kind: Named,
    name: &str,
    description: &str,
) -> Result<i64, ChangeError> {
    actor.require(kind.resource(), Action::Configure)?;
    let company = actor.account.company_id;
    conn.transaction(async |conn| {
        db::admin::lock_company(conn, company).await?;
        kind.name_taken(conn, company, name, None).await?;
        let id = match kind {
            Named::Group => db::admin::insert_group(conn, company, name, description).await?,
            Named::Role => db::admin::insert_role(conn, company, name, description).await?,
        };
        let changes = serde_json::json!({ "name": name, "description": description });
        db::audit_log::record(conn, &actor.event("create", kind.resource(), id, changes)).await?;
        Ok(id)
    })
    .await
}

/// Renames (and describes anew) the group or role `id` of the actor's
/// company, over version `version` (what the edit form was read at): a
/// stale form is refused before anything else is looked at, so the dialog
/// can show what the row holds now. A default role keeps its name.
pub async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    kind: Named,
    id: i64,
    version: i32,
    name: &str,
    description: &str,
) -> Result<(), ChangeError> {
    actor.require(kind.resource(), Action::Configure)?;
    let company = actor.account.company_id;
    conn.transaction(async |conn| {
        db::admin::lock_company(conn, company).await?;
        let (old_name, old_description) = match kind {
            Named::Group => {
                let group = db::admin::find_group(conn, company, id).await?;
                Refusal::stale_unless(group.version == version, kind.what())?;
                (group.name, group.description)
            }
            Named::Role => {
                let role = db::admin::find_role(conn, company, id).await?;
                Refusal::stale_unless(role.version == version, kind.what())?;
                role_rename(role.is_default, &role.name, name)?;
                (role.name, role.description)
            }
        };
        kind.name_taken(conn, company, name, Some(id)).await?;
        // The company's lock keeps the version found; the write asks for it
        // again all the same, for writers that do not take that lock.
        let saved = match kind {
            Named::Group => db::admin::update_group(conn, id, version, name, description).await?,
            Named::Role => db::admin::update_role(conn, id, version, name, description).await?,
        };
        Refusal::stale_unless(saved, kind.what())?;
        let changes = serde_json::json!({
            "name": { "from": old_name, "to": name },
            "description": { "from": old_description, "to": description },
        });
        db::audit_log::record(conn, &actor.event("update", kind.resource(), id, changes)).await?;
        Ok(())
    })
    .await
}
