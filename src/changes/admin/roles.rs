//! Changes of roles (the Roles page): add and delete an access right, and
//! delete a role. Creating and renaming are shared with groups
//! (`super::create`, `super::update`).
//!
//! Adding or deleting a right the acting user does not hold, in this
//! account or in any account where a group has the role, is refused (no
//! escalation, no withdrawing above). The
//! default roles keep their names and cannot be deleted; a role a group has
//! in some account cannot be deleted until no group has it; the default
//! Admin role's rights cannot be changed (it holds every right); and deleting a right is refused
//! when an account would be left without an active administrator.

use diesel_async::{AsyncConnection as _, AsyncPgConnection};

use super::{escalation_check, keeping_admins, this_account_and, withdrawal_check};
use crate::changes::{Actor, ChangeError};
use crate::db::{self, admin::RightRow, admin::RoleRow};
use crate::domain::access::{AccessRight, Action, Resource};
use crate::domain::admin::{is_admin_role, role_deletion};
use crate::domain::refusal::Refusal;

fn right_json(right: &AccessRight) -> serde_json::Value {
    serde_json::json!({ "resource": right.resource.as_str(), "action": right.action.as_str(), "qualifier": right.qualifier.as_str() })
}

/// Gives role `id` of the actor's company the access right `right` (one
/// that means something: `AccessRight::meaningful`); the role.
pub async fn add_right(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    id: i64,
    right: &AccessRight,
) -> Result<RoleRow, ChangeError> {
    actor.require(Resource::Role, Action::Configure)?;
    right.meaningful()?;
    let company = actor.account.company_id;
    conn.transaction(async |conn| {
        db::admin::lock_company(conn, company).await?;
        let role = db::admin::find_role(conn, company, id).await?;
        if is_admin_role(role.is_default, &role.name) {
            return Err(Refusal::AdminRoleLocked.into());
        }
        // A role is company-wide: the right reaches every account where a
        // group has the role.
        for account in this_account_and(actor, db::admin::role_accounts(conn, role.id).await?) {
            escalation_check(conn, actor, account, &[*right]).await?;
        }
        if !db::admin::add_right(conn, role.id, right).await? {
            return Err(Refusal::RightHeld { role: role.name, right: *right }.into());
        }
        let changes = serde_json::json!({ "added_right": right_json(right) });
        db::audit_log::record(conn, &actor.event("add_right", Resource::Role, role.id, changes)).await?;
        Ok(role)
    })
    .await
}

/// Takes the access right `right_id` from role `id`; the right taken.
pub async fn delete_right(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    id: i64,
    right_id: i64,
) -> Result<RightRow, ChangeError> {
    actor.require(Resource::Role, Action::Configure)?;
    let company = actor.account.company_id;
    conn.transaction(async |conn| {
        db::admin::lock_company(conn, company).await?;
        let role = db::admin::find_role(conn, company, id).await?;
        let row = db::admin::find_right(conn, role.id, right_id).await?;
        if is_admin_role(role.is_default, &role.name) {
            return Err(Refusal::AdminRoleLocked.into());
        }
        // The right leaves every account where a group has the role.
        let taken: Vec<AccessRight> = row.right().into_iter().collect();
        for account in this_account_and(actor, db::admin::role_accounts(conn, role.id).await?) {
            withdrawal_check(conn, actor, account, &taken).await?;
        }
        keeping_admins(conn, company, async |conn| Ok(db::admin::delete_right(conn, row.id).await?)).await?;
        let changes = serde_json::json!({
            "deleted_right": { "resource": row.resource, "action": row.action, "qualifier": row.qualifier },
        });
        db::audit_log::record(conn, &actor.event("delete_right", Resource::Role, role.id, changes)).await?;
        Ok(row)
    })
    .await
}

/// Deletes role `id` of the actor's company with its rights, unless it is
/// a default role or a group has it (counted again under the lock); the
/// role deleted.
pub async fn delete(conn: &mut AsyncPgConnection, actor: &Actor<'_>, id: i64) -> Result<RoleRow, ChangeError> {
    actor.require(Resource::Role, Action::Delete)?;
    let company = actor.account.company_id;
    conn.transaction(async |conn| {
        db::admin::lock_company(conn, company).await?;
        let role = db::admin::find_role(conn, company, id).await?;
        role_deletion(role.is_default, db::admin::role_use_count(conn, role.id).await?)?;
        let rights: Vec<String> = db::admin::role_rights(conn, role.id)
            .await?
            .into_iter()
            .map(|r| format!("{} {} {}", r.resource, r.action, r.qualifier))
            .collect();
        db::admin::delete_role(conn, role.id).await?;
        let changes = serde_json::json!({ "name": role.name, "description": role.description, "rights": rights });
        db::audit_log::record(conn, &actor.event("delete", Resource::Role, role.id, changes)).await?;
        Ok(role)
    })
    .await
}
