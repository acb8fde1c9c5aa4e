//! The inbound rules of firewalls (`firewall_rules`), as syncs and the
//! firewall's page write them.
//!
//! A rule added on the page is `PENDING` until its `authorize_ingress` job
//! has run, one removed is `DELETING` until `revoke_ingress` has; a sync
//! leaves both to their jobs. Every write of a rule's state notes the time
//! on its firewall (`firewalls.rules_changed_at`): a sync whose listing is
//! older than that leaves the firewall's rules alone, so it can neither
//! drop a rule a job just added nor bring back one a job just removed.
//! A rule is reached through its firewall, in the account, only.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use diesel::dsl::now;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{firewall_rules, firewalls};
use crate::domain::firewalls::Rule;
use crate::domain::resource::ResourceState;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = firewall_rules)]
pub struct RuleRow {
    pub id: i64,
    pub firewall_id: i64,
    pub protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub source: String,
    #[diesel(deserialize_as = String)]
    pub state: ResourceState,
    pub last_error: Option<String>,
}

impl RuleRow {
    pub fn rule(&self) -> Rule {
        Rule {
            protocol: self.protocol.clone(),
            from_port: self.from_port,
            to_port: self.to_port,
            source: self.source.clone(),
        }
    }
}

/// The rules of firewall `firewall_id`, in a stable order: by protocol,
/// ports and source. Being removed ones included (they show as removing).
pub async fn list(conn: &mut AsyncPgConnection, firewall_id: i64) -> QueryResult<Vec<RuleRow>> {
    firewall_rules::table
        .filter(firewall_rules::firewall_id.eq(firewall_id))
        .order((
            firewall_rules::protocol,
            firewall_rules::from_port.asc().nulls_first(),
            firewall_rules::to_port.asc().nulls_first(),
            firewall_rules::source,
        ))
        .select(RuleRow::as_select())
        .load(conn)
        .await
}

/// Rule `id` of firewall `firewall_id`; `NotFound` for any other.
pub async fn find(conn: &mut AsyncPgConnection, firewall_id: i64, id: i64) -> QueryResult<RuleRow> {
    firewall_rules::table
        .filter(firewall_rules::firewall_id.eq(firewall_id))
        .find(id)
        .select(RuleRow::as_select())
        .first(conn)
        .await
}

/// [`find`], locked for a change.
pub async fn find_for_change(conn: &mut AsyncPgConnection, firewall_id: i64, id: i64) -> QueryResult<RuleRow> {
    firewall_rules::table
        .filter(firewall_rules::firewall_id.eq(firewall_id))
        .filter(firewall_rules::id.eq(id))
        .select(RuleRow::as_select())
        .for_update()
        .first(conn)
        .await
}

/// The firewall's row of `rule`, in whatever state.
pub async fn holding(conn: &mut AsyncPgConnection, firewall_id: i64, rule: &Rule) -> QueryResult<Option<RuleRow>> {
    firewall_rules::table
        .filter(firewall_rules::firewall_id.eq(firewall_id))
        .filter(firewall_rules::protocol.eq(&rule.protocol))
        .filter(firewall_rules::source.eq(&rule.source))
        .filter(firewall_rules::from_port.is_not_distinct_from(rule.from_port))
        .filter(firewall_rules::to_port.is_not_distinct_from(rule.to_port))
        .select(RuleRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Adds `rule` to the firewall in `state`; its id, or `None` when the
/// firewall holds it already (a sync wrote it meanwhile).
pub async fn insert(
    conn: &mut AsyncPgConnection,
    firewall_id: i64,
    rule: &Rule,
    state: ResourceState,
) -> QueryResult<Option<i64>> {
    diesel::insert_into(firewall_rules::table)
        .values((
            firewall_rules::firewall_id.eq(firewall_id),
            firewall_rules::protocol.eq(&rule.protocol),
            firewall_rules::from_port.eq(rule.from_port),
            firewall_rules::to_port.eq(rule.to_port),
            firewall_rules::source.eq(&rule.source),
            firewall_rules::state.eq(state.as_str()),
        ))
        .on_conflict_do_nothing()
        .returning(firewall_rules::id)
        .get_result(conn)
        .await
        .optional()
}

/// Notes that firewall `firewall_id` of the account changes its rules now
/// (see the module's note); false when the account has no such firewall.
async fn touch(conn: &mut AsyncPgConnection, account_id: i64, firewall_id: i64) -> QueryResult<bool> {
    let touched = diesel::update(
        firewalls::table.filter(firewalls::account_id.eq(account_id)).filter(firewalls::id.eq(firewall_id)),
    )
    .set(firewalls::rules_changed_at.eq(now))
    .execute(conn)
    .await?;
    Ok(touched == 1)
}

/// Moves rule `id` from state `from` to `to` with `error` (none clears it);
/// false when it was not in `from` (a sync or another job settled it).
pub async fn settle(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    firewall_id: i64,
    id: i64,
    (from, to): (ResourceState, ResourceState),
    error: Option<&str>,
) -> QueryResult<bool> {
    if !touch(conn, account_id, firewall_id).await? {
        return Ok(false);
    }
    let changed = diesel::update(
        firewall_rules::table
            .filter(firewall_rules::firewall_id.eq(firewall_id))
            .filter(firewall_rules::id.eq(id))
            .filter(firewall_rules::state.eq(from.as_str())),
    )
    .set((firewall_rules::state.eq(to.as_str()), firewall_rules::last_error.eq(error)))
    .execute(conn)
    .await?;
    Ok(changed == 1)
}

/// Removes rule `id` if it is in `state`; false when it was not.
pub async fn remove(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    firewall_id: i64,
    id: i64,
    state: ResourceState,
) -> QueryResult<bool> {
    if !touch(conn, account_id, firewall_id).await? {
        return Ok(false);
    }
    let removed = diesel::delete(
        firewall_rules::table
            .filter(firewall_rules::firewall_id.eq(firewall_id))
            .filter(firewall_rules::id.eq(id))
            .filter(firewall_rules::state.eq(state.as_str())),
    )
    .execute(conn)
    .await?;
    Ok(removed == 1)
}

/// Stores what the provider lets in through each firewall of `listed`
/// (firewall id, the rules the provider reports), inside the sync's
/// transaction, from a listing taken at `listed_at`. A rule the provider no
/// longer has is removed if it was active; one it has is added, or made
/// active if it had failed; a rule being added or removed waits for its
/// job. A firewall whose rules a job changed since `listed_at` is left
/// alone (its job's own sync follows). Nothing is written when nothing
/// changed.
pub async fn sync(
    conn: &mut AsyncPgConnection,
    listed: &[(i64, &[Rule])],
    listed_at: DateTime<Utc>,
) -> QueryResult<()> {
    use ResourceState::{Active, Error};
    let ids: Vec<i64> = listed.iter().map(|(id, _)| *id).collect();
    // Locked: a job that changes one of these firewalls' rules waits for
    // this sync, or this sync sees the time it noted.
    let changed: Vec<(i64, Option<DateTime<Utc>>)> = firewalls::table
        .filter(firewalls::id.eq_any(&ids))
        .select((firewalls::id, firewalls::rules_changed_at))
        .for_share()
        .load(conn)
        .await?;
    let fresh = |id: i64| changed.iter().any(|(row, at)| *row == id && at.is_none_or(|at| at < listed_at));
    let listed: Vec<&(i64, &[Rule])> = listed.iter().filter(|(id, _)| fresh(*id)).collect();
    let ids: Vec<i64> = listed.iter().map(|(id, _)| *id).collect();
    let held: Vec<RuleRow> = firewall_rules::table
        .filter(firewall_rules::firewall_id.eq_any(&ids))
        .select(RuleRow::as_select())
        .load(conn)
        .await?;
    let mut gone = Vec::new();
    let mut settled = Vec::new();
    let mut new = Vec::new();
    for (firewall_id, reported) in listed {
        let rows: Vec<&RuleRow> = held.iter().filter(|row| row.firewall_id == *firewall_id).collect();
        for row in &rows {
            let at_provider = reported.contains(&row.rule());
            match row.state {
                Active if !at_provider => gone.push(row.id),
                Error if at_provider => settled.push(row.id),
                _ => {}
            }
        }
        let mut seen = HashSet::new();
        for rule in reported.iter() {
            let key = (&rule.protocol, rule.from_port, rule.to_port, &rule.source);
            if seen.insert(key) && !rows.iter().any(|row| row.rule() == *rule) {
                new.push((
                    firewall_rules::firewall_id.eq(*firewall_id),
                    firewall_rules::protocol.eq(&rule.protocol),
                    firewall_rules::from_port.eq(rule.from_port),
                    firewall_rules::to_port.eq(rule.to_port),
                    firewall_rules::source.eq(&rule.source),
                    firewall_rules::state.eq(Active.as_str()),
                ));
            }
        }
    }
    if !gone.is_empty() {
        diesel::delete(firewall_rules::table.filter(firewall_rules::id.eq_any(&gone))).execute(conn).await?;
    }
    if !settled.is_empty() {
        diesel::update(firewall_rules::table.filter(firewall_rules::id.eq_any(&settled)))
            .set((firewall_rules::state.eq(Active.as_str()), firewall_rules::last_error.eq(None::<String>)))
            .execute(conn)
            .await?;
    }
    if !new.is_empty() {
        diesel::insert_into(firewall_rules::table).values(&new).on_conflict_do_nothing().execute(conn).await?;
    }
    Ok(())
}
