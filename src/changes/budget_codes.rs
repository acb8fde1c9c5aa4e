//! Changes to the company's budget codes (the Budget Codes page): create,
//! update (optimistic, by version), deactivate with a replacement, and
//! reactivate.
//!
//! Codes are company-wide: every query is scoped by the actor's company, so
//! another company's id is not found. Each change asks `BUDGET Configure`
//! first, then works in one transaction with its audit event (resource
//! `BUDGET`, actions `create`, `update`, `deactivate`, `reactivate`).
//!
//! Names are unique per company regardless of case: a unique index holds
//! it, and the check before the write only gives the message early (a
//! writer the check could not see still meets the index, and gets the same
//! refusal). An update carries the version its form was read at; a stale
//! one is `Refusal::StaleVersion` and nothing is written. A deactivation
//! moves everything billed to the code to its replacement under locks on
//! both (`db::budget_codes::deactivate`), so nothing is left billed to a
//! code nobody can choose.

use diesel_async::{AsyncConnection as _, AsyncPgConnection};

use super::{Actor, ChangeError};
use crate::db;
use crate::db::budget::BudgetCode;
use crate::db::budget_codes::{CodeFields, INACTIVE, Moved, NotDeactivated};
use crate::domain::access::{Action, Resource};
use crate::domain::budget_codes::{BudgetCodeInput, replacement};
use crate::domain::refusal::Refusal;

fn fields(input: &BudgetCodeInput) -> CodeFields<'_> {
    CodeFields {
        name: &input.name,
        finance_code: &input.finance_code,
        description: &input.description,
        soft_quota: &input.soft_quota,
        hard_quota: &input.hard_quota,
    }
}

fn name_taken(input: &BudgetCodeInput) -> ChangeError {
    Refusal::BudgetCodeNameTaken { name: input.name.clone() }.into()
}

/// Adds a code to the actor's company, active; its id.
pub async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    input: &BudgetCodeInput,
) -> Result<i64, ChangeError> {
    actor.require(Resource::Budget, Action::Configure)?;
    let company = actor.account.company_id;
    conn.transaction(async |conn| {
        if db::budget_codes::name_taken(conn, company, &input.name, None).await? {
            return Err(name_taken(input));
        }
        let id = match db::budget_codes::insert(conn, company, &fields(input)).await {
            Ok(id) => id,
            Err(e) if db::unique_violation(&e) => return Err(name_taken(input)),
            Err(e) => return Err(e.into()),
        };
        let changes = serde_json::json!({
            "name": input.name, "finance_code": input.finance_code, "description": input.description,
            "soft_quota": input.soft_quota.to_string(), "hard_quota": input.hard_quota.to_string(),
        });
        db::audit_log::record(conn, &actor.event("create", Resource::Budget, id, changes)).await?;
        Ok(id)
    })
    .await
}

/// `{"field": {"from": old, "to": new}}` for the fields that changed.
fn differences(before: &BudgetCode, after: &BudgetCodeInput) -> serde_json::Value {
    let mut changes = serde_json::Map::new();
    let mut diff = |field: &str, from: String, to: String| {
        if from != to {
            changes.insert(field.into(), serde_json::json!({ "from": from, "to": to }));
        }
    };
    diff("name", before.name.clone(), after.name.clone());
    diff("finance_code", before.finance_code.clone(), after.finance_code.clone());
    diff("description", before.description.clone(), after.description.clone());
    diff("soft_quota", before.soft_quota.with_scale(2).to_string(), after.soft_quota.to_string());
    diff("hard_quota", before.hard_quota.with_scale(2).to_string(), after.hard_quota.to_string());
    serde_json::Value::Object(changes)
}

/// Saves `input` over version `version` of code `id` of the actor's company.
pub async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    id: i64,
    version: i32,
    input: &BudgetCodeInput,
) -> Result<(), ChangeError> {
    actor.require(Resource::Budget, Action::Configure)?;
    let company = actor.account.company_id;
    conn.transaction(async |conn| {
        if db::budget_codes::name_taken(conn, company, &input.name, Some(id)).await? {
            return Err(name_taken(input));
        }
        let before = db::budget_codes::find(conn, company, id).await?;
        match db::budget_codes::update(conn, company, id, version, &fields(input)).await {
            Ok(saved) => Refusal::stale_unless(saved, "budget code")?,
            Err(e) if db::unique_violation(&e) => return Err(name_taken(input)),
            Err(e) => return Err(e.into()),
        }
        let changes = differences(&before.code, input);
        db::audit_log::record(conn, &actor.event("update", Resource::Budget, id, changes)).await?;
        Ok(())
    })
    .await
}

/// A code deactivated: what moved to which replacement.
pub struct Deactivated {
    pub name: String,
    pub replacement: String,
    pub moved: Moved,
}

/// Deactivates code `id` of the actor's company; `chosen` is the
/// replacement as the form gives it (`domain::budget_codes::replacement`
/// says what it may be). A code inactive already is refused before the
/// choice is looked at; a replacement deactivated meanwhile is refused under
/// the locks.
pub async fn deactivate(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    id: i64,
    chosen: &str,
) -> Result<Deactivated, ChangeError> {
    actor.require(Resource::Budget, Action::Configure)?;
    let company = actor.account.company_id;
    conn.transaction(async |conn| {
        let code = db::budget_codes::find(conn, company, id).await?;
        let inactive = || Refusal::BudgetCodeInactive { name: code.code.name.clone() };
        if !code.code.is_active() {
            return Err(inactive().into());
        }
        let active: Vec<i64> = db::budget::codes_of_company(conn, company)
            .await?
            .into_iter()
            .filter(|c| c.is_active() && c.id != id)
            .map(|c| c.id)
            .collect();
        let replacement = replacement(id, chosen, &active)?;
        let (old, new, moved) = match db::budget_codes::deactivate(conn, company, id, replacement).await? {
            Ok(done) => done,
            Err(NotDeactivated::AlreadyInactive) => return Err(inactive().into()),
            Err(NotDeactivated::ReplacementInactive) => return Err(Refusal::ReplacementInactive.into()),
        };
        let changes = serde_json::json!({
            "status": { "from": old.code.status, "to": INACTIVE },
            "replacement": { "id": new.code.id, "name": new.code.name },
            "moved": { "servers": moved.servers, "image_records": moved.images, "users": moved.users },
        });
        db::audit_log::record(conn, &actor.event("deactivate", Resource::Budget, old.code.id, changes)).await?;
        Ok(Deactivated { name: old.code.name, replacement: new.code.name, moved })
    })
    .await
}

/// A code reactivated (`changed`), or found active already.
pub struct Reactivated {
    pub name: String,
    pub changed: bool,
}

/// Reactivates code `id` of the actor's company; an active code stays as it
/// is (nothing written).
pub async fn reactivate(conn: &mut AsyncPgConnection, actor: &Actor<'_>, id: i64) -> Result<Reactivated, ChangeError> {
    actor.require(Resource::Budget, Action::Configure)?;
    let company = actor.account.company_id;
    conn.transaction(async |conn| {
        let code = db::budget_codes::find(conn, company, id).await?;
        let changed = db::budget_codes::reactivate(conn, company, id).await?;
        if changed {
            let changes = serde_json::json!({ "status": { "from": INACTIVE, "to": BudgetCode::ACTIVE } });
            db::audit_log::record(conn, &actor.event("reactivate", Resource::Budget, id, changes)).await?;
        }
        Ok(Reactivated { name: code.code.name, changed })
    })
    .await
}
