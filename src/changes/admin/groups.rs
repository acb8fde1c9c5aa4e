//! Changes of groups (the Groups page): set a group's role in the current
//! account (0 or 1 role per group per account) and delete a group (refused
//! while it has members). Creating and renaming are shared with roles
//! (`super::create`, `super::update`).
//!
//! Setting a role is refused when the role given holds a right the acting
//! user does not hold in this account (no escalation), or the role taken
//! away does (no withdrawing above), and when taking a role away would leave
//! this account without an active administrator.

use diesel_async::{AsyncConnection as _, AsyncPgConnection};

use super::{escalation_check, keeping_admins, withdrawal_check};
use crate::changes::{Actor, ChangeError};
use crate::db::{self, admin::GroupRow};
use crate::domain::ValidationError;
use crate::domain::access::{AccessRight, Action, Resource};
use crate::domain::admin::group_deletion;
use crate::domain::refusal::Refusal;

/// A role set on a group.
pub struct RoleSet {
    pub group: String,
    /// The name of the role the group has now, if any.
    pub role: Option<String>,
}

/// The role the Set Role dialog showed the group to have, which the change
/// compares with the role it has now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShownRole {
    /// The form does not say (a script, or a dialog opened before it sent
    /// it): the role is set as asked, whatever it is now.
    Unknown,
    /// The dialog showed this role (`None`: no role).
    Was(Option<i64>),
}

/// Gives group `id` the role `role` (or none) in the actor's account. A role
/// of another company is invalid at `role_id`. When the group's role is no
/// longer the one the dialog `shown`, the change is refused
/// (`Refusal::GroupRoleChanged`), as a stale version is.
pub async fn set_role(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    id: i64,
    shown: ShownRole,
    role: Option<i64>,
) -> Result<RoleSet, ChangeError> {
    actor.require(Resource::Group, Action::Configure)?;
    let company = actor.account.company_id;
    let account = actor.account.id;
    conn.transaction(async |conn| {
        db::admin::lock_company(conn, company).await?;
        let group = db::admin::find_group(conn, company, id).await?;
        let role = match role {
            Some(role) => Some(db::admin::find_role(conn, company, role).await.map_err(|e| match e {
                diesel::result::Error::NotFound => {
                    ChangeError::from(ValidationError::new("role_id", "That role does not exist."))
                }
                other => other.into(),
            })?),
            None => None,
        };
        let before = db::admin::group_role(conn, group.id, account).await?;
        let before_id = before.as_ref().map(|(id, _)| *id);
        if let ShownRole::Was(shown) = shown
            && shown != before_id
        {
            let now = before.map(|(_, name)| name);
            return Err(Refusal::GroupRoleChanged { group: group.name, now }.into());
        }
        let role_id = role.as_ref().map(|r| r.id);
        if before_id != role_id {
            if let Some((taken, _)) = &before {
                let taken = rights_of_role(conn, *taken).await?;
                withdrawal_check(conn, actor, account, &taken).await?;
            }
            if let Some(given) = role_id {
                let given = rights_of_role(conn, given).await?;
                escalation_check(conn, actor, account, &given).await?;
            }
        }
        let before = before.map(|(_, name)| name);
        keeping_admins(conn, company, async |conn| {
            Ok(db::admin::set_group_role(conn, group.id, account, role_id).await?)
        })
        .await?;
        let after = role.map(|r| r.name);
        let changes = serde_json::json!({ "account": actor.account.name, "role": { "from": before, "to": after } });
        db::audit_log::record(conn, &actor.event("set_role", Resource::Group, group.id, changes)).await?;
        Ok(RoleSet { group: group.name, role: after })
    })
    .await
}

/// The access rights role `role` holds.
async fn rights_of_role(conn: &mut AsyncPgConnection, role: i64) -> Result<Vec<AccessRight>, ChangeError> {
    Ok(db::admin::role_rights(conn, role).await?.iter().filter_map(db::admin::RightRow::right).collect())
}

/// Deletes group `id` of the actor's company, unless it has members
/// (counted again under the lock); the group deleted.
pub async fn delete(conn: &mut AsyncPgConnection, actor: &Actor<'_>, id: i64) -> Result<GroupRow, ChangeError> {
    actor.require(Resource::Group, Action::Delete)?;
    let company = actor.account.company_id;
    conn.transaction(async |conn| {
        db::admin::lock_company(conn, company).await?;
        let group = db::admin::find_group(conn, company, id).await?;
        group_deletion(db::admin::group_member_count(conn, group.id).await?)?;
        // Unreachable while a group with members cannot be deleted; kept so
        // the rule holds if that ever changes.
        keeping_admins(conn, company, async |conn| Ok(db::admin::delete_group(conn, group.id).await?)).await?;
        let changes = serde_json::json!({ "name": group.name, "description": group.description });
        db::audit_log::record(conn, &actor.event("delete", Resource::Group, group.id, changes)).await?;
        Ok(group)
    })
    .await
}
