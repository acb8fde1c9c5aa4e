//! Servers launched from image records.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Deserialize as _;

use super::keyset::limited;
use super::schema::{budget_codes, groups, image_records, jobs, products, provider_images, servers, users};
use crate::domain::access::{Action, Ownership, Reach, Resource, Rights};
use crate::domain::page::{Cursor, PAGE_SIZE, Page, PageRequest};
use crate::domain::servers::{KeptConfig, KeptVolumes, ServerState};

/// The stored states in which a server still exists at the provider (or is
/// about to), for `servers::state.eq_any(..)`.
pub fn alive() -> Vec<&'static str> {
    ServerState::ALL.into_iter().filter(|state| state.alive()).map(ServerState::as_str).collect()
}

/// A server as it is recorded at launch.
#[derive(Debug, Insertable)]
#[diesel(table_name = servers)]
pub struct NewServer<'a> {
    pub account_id: i64,
    pub image_record_id: Option<i64>,
    pub provider_image_id: i64,
    pub name: &'a str,
    pub description: &'a str,
    pub product_id: &'a str,
    pub zone: Option<&'a str>,
    pub owner_user_id: Option<i64>,
    pub owner_group_id: Option<i64>,
    pub budget_code_id: i64,
    pub hourly_rate: bigdecimal::BigDecimal,
    pub provider_instance_id: Option<&'a str>,
    pub private_ip: Option<&'a str>,
    /// A [`ServerState`], as stored.
    pub state: &'a str,
}

pub async fn insert(conn: &mut AsyncPgConnection, server: &NewServer<'_>) -> QueryResult<i64> {
    diesel::insert_into(servers::table).values(server).returning(servers::id).get_result(conn).await
}

/// A server's addresses as the provider reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Queryable)]
pub struct Addresses {
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
}

/// The provider started the server's instance.
pub async fn launched(
    conn: &mut AsyncPgConnection,
    id: i64,
    instance_id: &str,
    state: ServerState,
    addresses: &Addresses,
) -> QueryResult<()> {
    diesel::update(servers::table.find(id))
        .set((
            servers::provider_instance_id.eq(instance_id),
            servers::instance_recorded_at.eq(diesel::dsl::now),
            servers::state.eq(state.as_str()),
            servers::private_ip.eq(&addresses.private_ip),
            servers::public_ip.eq(&addresses.public_ip),
            servers::last_error.eq(None::<String>),
            servers::version.eq(servers::version + 1),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// The account's launches that failed for good since `since` without an
/// instance id: their answer may have been lost while the provider started
/// the instance. Each server with its launch job's (of kind `launch`)
/// idempotency key.
pub async fn unseen_launches(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    launch: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> QueryResult<Vec<(i64, String)>> {
    let failed: Vec<i64> = servers::table
        .filter(servers::account_id.eq(account_id))
        .filter(servers::state.eq(ServerState::Error.as_str()))
        .filter(servers::provider_instance_id.is_null())
        .filter(servers::launched_at.gt(since))
        .select(servers::id)
        .load(conn)
        .await?;
    if failed.is_empty() {
        return Ok(Vec::new());
    }
    let launches: Vec<(serde_json::Value, String)> = jobs::table
        .filter(jobs::account_id.eq(account_id))
        .filter(jobs::kind.eq(launch))
        .filter(jobs::state.eq("ERROR"))
        .filter(jobs::created_at.gt(since))
        .select((jobs::payload, jobs::idempotency_key))
        .load(conn)
        .await?;
    Ok(launches
        .into_iter()
        .filter_map(|(payload, key)| Some((payload.get("server_id")?.as_i64()?, key)))
        .filter(|(server, _)| failed.contains(server))
        .collect())
}

/// Records the instance found for a launch that had failed without one
/// ([`unseen_launches`]), if the server is still as that left it; whether
/// it was.
pub async fn found_launch(
    conn: &mut AsyncPgConnection,
    id: i64,
    instance_id: &str,
    state: ServerState,
    addresses: &Addresses,
) -> QueryResult<bool> {
    let written = diesel::update(
        servers::table
            .find(id)
            .filter(servers::state.eq(ServerState::Error.as_str()))
            .filter(servers::provider_instance_id.is_null()),
    )
    .set((
        servers::provider_instance_id.eq(instance_id),
        servers::instance_recorded_at.eq(diesel::dsl::now),
        servers::state.eq(state.as_str()),
        servers::state_since.eq(diesel::dsl::now),
        servers::private_ip.eq(&addresses.private_ip),
        servers::public_ip.eq(&addresses.public_ip),
        servers::last_error.eq(None::<String>),
        servers::version.eq(servers::version + 1),
    ))
    .execute(conn)
    .await?;
    Ok(written == 1)
}

/// A server the provider knows, for the state sync.
#[derive(Debug, Clone, Queryable)]
pub struct LiveServer {
    pub id: i64,
    pub instance_id: String,
    #[diesel(deserialize_as = String)]
    pub state: ServerState,
    /// The row's version when the sync read it: what it observes is written
    /// only over that version (see [`observed`]).
    pub version: i32,
    pub addresses: Addresses,
    /// When its instance's id was recorded (at launch).
    pub instance_recorded_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When the console saw it enter its state.
    pub state_since: chrono::DateTime<chrono::Utc>,
}

/// The account's servers that exist at the provider and are not gone.
pub async fn at_provider(conn: &mut AsyncPgConnection, account_id: i64) -> QueryResult<Vec<LiveServer>> {
    servers::table
        .filter(servers::account_id.eq(account_id))
        .filter(servers::state.eq_any(alive()))
        .filter(servers::provider_instance_id.is_not_null())
        .select((
            servers::id,
            servers::provider_instance_id.assume_not_null(),
            servers::state,
            servers::version,
            (servers::private_ip, servers::public_ip),
            servers::instance_recorded_at,
            servers::state_since,
        ))
        .load(conn)
        .await
}

/// Records what the provider reports about a server. It becomes ready the
/// first time its status checks pass, and terminated once the provider
/// says so (or no longer knows it).
///
/// The report is written only over the row the sync read (`server.version`):
/// a change made while the provider was being asked (a Pause that moved it
/// to PAUSING) is newer than the report, which would otherwise set it back
/// to RUNNING. Such a server is left as the change made it; the change's own
/// follow-up sync observes it. Returns false when the report differs from
/// what the sync read and was not written for that reason.
pub async fn observed(
    conn: &mut AsyncPgConnection,
    server: &LiveServer,
    state: ServerState,
    ready: bool,
    addresses: &Addresses,
) -> QueryResult<bool> {
    use diesel::dsl::now;
    let as_read = servers::table.find(server.id).filter(servers::version.eq(server.version));
    // The two time stamps first: they leave the version as it is.
    if ready {
        diesel::update(as_read.filter(servers::ready_at.is_null()))
            .set(servers::ready_at.eq(now))
            .execute(conn)
            .await?;
    }
    if state == ServerState::Terminated {
        diesel::update(as_read.filter(servers::terminated_at.is_null()))
            .set(servers::terminated_at.eq(now))
            .execute(conn)
            .await?;
    }
    // The same report again writes nothing (and keeps the version an open
    // dialog holds); a new one moves the version on.
    if state == server.state && *addresses == server.addresses {
        return Ok(true);
    }
    let since = if state == server.state { server.state_since } else { chrono::Utc::now() };
    let updated = diesel::update(as_read)
        .set((
            servers::state.eq(state.as_str()),
            servers::state_since.eq(since),
            servers::private_ip.eq(&addresses.private_ip),
            servers::public_ip.eq(&addresses.public_ip),
            servers::version.eq(servers::version + 1),
        ))
        .execute(conn)
        .await?;
    Ok(updated == 1)
}

/// A job about the server failed for good: the server shows the provider's
/// reason; a failed launch leaves it in ERROR.
pub async fn failed(conn: &mut AsyncPgConnection, id: i64, error: &str, launch: bool) -> QueryResult<()> {
    if launch {
        diesel::update(servers::table.find(id))
            .set((
                servers::state.eq(ServerState::Error.as_str()),
                servers::last_error.eq(error),
                servers::version.eq(servers::version + 1),
            ))
            .execute(conn)
            .await
            .map(drop)
    } else {
        diesel::update(servers::table.find(id)).set(servers::last_error.eq(error)).execute(conn).await.map(drop)
    }
}

/// The rest of a server's launch settings, written with its row.
pub async fn configure(
    conn: &mut AsyncPgConnection,
    id: i64,
    label: &str,
    firewall_ids: &[i64],
    key_pair_name: Option<&str>,
    volume_config: Option<serde_json::Value>,
    config_management: Option<serde_json::Value>,
) -> QueryResult<()> {
    diesel::update(servers::table.find(id))
        .set((
            servers::label.eq(label),
            servers::firewall_ids.eq(firewall_ids),
            servers::key_pair_name.eq(key_pair_name),
            servers::volume_config.eq(volume_config),
            servers::config_management.eq(config_management),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// A server as its row on the servers page shows it.
#[derive(Debug, Clone, Queryable)]
pub struct ServerRow {
    pub id: i64,
    pub name: String,
    pub label: String,
    #[diesel(deserialize_as = String)]
    pub state: ServerState,
    pub provider_instance_id: Option<String>,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
    pub product_id: String,
    pub owner_user_id: Option<i64>,
    pub owner_group_id: Option<i64>,
    pub budget_code_id: i64,
    pub last_error: Option<String>,
    pub version: i32,
    pub launched_at: chrono::DateTime<chrono::Utc>,
    pub ready_at: Option<chrono::DateTime<chrono::Utc>>,
    pub image_record_id: Option<i64>,
    pub image_name: Option<String>,
    /// Who owns the record, in which group, billed to what: whether the
    /// user may see it ([`ServerRow::image_record_seen_by`]).
    pub image_owner_user_id: Option<i64>,
    pub image_owner_group_id: Option<i64>,
    pub image_budget_code_id: Option<i64>,
    pub provider_image_id: String,
    pub platform: String,
    pub budget_code: String,
}

impl ServerRow {
    /// The row's place in the list ([`page`]).
    pub fn cursor(&self) -> Cursor {
        Cursor::by_id(self.id)
    }

    /// The id and name of the image record the server was launched from,
    /// when `rights` let the user see that record (`IMAGE Access` over its
    /// owner, group or code); else the server names its image by the
    /// provider's id only, as it does for a record since deleted.
    pub fn image_record_seen_by(&self, rights: &Rights) -> Option<(i64, &str)> {
        let owner = Ownership {
            owner_user: self.image_owner_user_id,
            owner_group: self.image_owner_group_id,
            budget_code: self.image_budget_code_id,
        };
        let record = self.image_record_id.zip(self.image_name.as_deref())?;
        rights.allows(Resource::Image, Action::Access, &owner).then_some(record)
    }
}

macro_rules! server_rows {
    () => {
        servers::table
            .inner_join(provider_images::table)
            .left_join(image_records::table)
            .inner_join(budget_codes::table)
            .select((
                servers::id,
                servers::name,
                servers::label,
                servers::state,
                servers::provider_instance_id,
                servers::private_ip,
                servers::public_ip,
                servers::product_id,
                servers::owner_user_id,
                servers::owner_group_id,
                servers::budget_code_id,
                servers::last_error,
                servers::version,
                servers::launched_at,
                servers::ready_at,
                servers::image_record_id,
                image_records::name.nullable(),
                image_records::owner_user_id.nullable(),
                image_records::owner_group_id.nullable(),
                image_records::budget_code_id.nullable(),
                // A server is launched from an image the provider has made.
                provider_images::provider_image_id.assume_not_null(),
                provider_images::platform,
                budget_codes::name,
            ))
    };
}

/// A page of the account's servers, newest first (by id, the order they
/// were launched in): every live one, and those that ended within the last
/// day. The index `servers_by_account` (`account_id, id`) serves every page.
pub async fn page(
    conn: &mut AsyncPgConnection,
    account_id: i64,
    reach: &Reach,
    request: &PageRequest,
) -> QueryResult<Page<ServerRow>> {
    let day_ago = chrono::Utc::now() - chrono::Duration::days(1);
    let query = server_rows!()
        .filter(servers::account_id.eq(account_id))
        .filter(servers::terminated_at.is_null().or(servers::terminated_at.gt(day_ago)))
        .into_boxed();
    let query = within_reach!(query, servers, reach);
    // Newest first: forward pages walk down the ids, the previous page up.
    let query = match request {
        PageRequest::First => query.order(servers::id.desc()),
        PageRequest::After(cursor) => query.filter(servers::id.lt(cursor.id)).order(servers::id.desc()),
        PageRequest::Before(cursor) => query.filter(servers::id.gt(cursor.id)).order(servers::id.asc()),
    };
    let rows = limited(query, PAGE_SIZE + 1).load(conn).await?;
    Ok(Page::from_fetched(rows, request))
}

/// One server of the account; `NotFound` for another account's id.
pub async fn find(conn: &mut AsyncPgConnection, account_id: i64, id: i64) -> QueryResult<ServerRow> {
    server_rows!().filter(servers::account_id.eq(account_id)).filter(servers::id.eq(id)).first(conn).await
}

/// What a server's page tells beyond its row: where and how it was
/// launched, who keeps it, what it costs.
#[derive(Debug, Queryable)]
pub struct ServerFacts {
    pub description: String,
    pub zone: Option<String>,
    pub key_pair_name: Option<String>,
    pub firewall_ids: Vec<i64>,
    pub hourly_rate: bigdecimal::BigDecimal,
    pub volume_config: Option<serde_json::Value>,
    pub config_management: Option<serde_json::Value>,
    pub terminated_at: Option<chrono::DateTime<chrono::Utc>>,
    pub state_since: chrono::DateTime<chrono::Utc>,
    pub owner_given_name: Option<String>,
    pub owner_family_name: Option<String>,
    pub group: Option<String>,
    /// The size's CPUs and memory, while the account's sizes list it.
    pub cpus: Option<i32>,
    pub ram_mb: Option<i64>,
}

impl ServerFacts {
    /// Its keeper's name.
    pub fn keeper(&self) -> Option<String> {
        Some(format!("{} {}", self.owner_given_name.as_ref()?, self.owner_family_name.as_ref()?))
    }

    /// Its volume group. Written by the console at launch; a value it
    /// cannot read is none rather than a refused page.
    pub fn volumes(&self) -> Option<KeptVolumes> {
        KeptVolumes::deserialize(self.volume_config.as_ref()?).ok()
    }

    /// Its configuration management (read as [`ServerFacts::volumes`]).
    pub fn configuration(&self) -> Option<KeptConfig> {
        KeptConfig::deserialize(self.config_management.as_ref()?).ok()
    }
}

/// The facts of server `id` of the account, and the names of its firewalls
/// that still exist (in name order).
pub async fn facts(conn: &mut AsyncPgConnection, account_id: i64, id: i64) -> QueryResult<(ServerFacts, Vec<String>)> {
    let facts: ServerFacts = servers::table
        .left_join(users::table.on(users::id.nullable().eq(servers::owner_user_id)))
        .left_join(groups::table.on(groups::id.nullable().eq(servers::owner_group_id)))
        .left_join(
            products::table
                .on(products::account_id.eq(servers::account_id).and(products::product_id.eq(servers::product_id))),
        )
        .filter(servers::account_id.eq(account_id))
        .filter(servers::id.eq(id))
        .select((
            servers::description,
            servers::zone,
            servers::key_pair_name,
            servers::firewall_ids,
            servers::hourly_rate,
            servers::volume_config,
            servers::config_management,
            servers::terminated_at,
            servers::state_since,
            users::given_name.nullable(),
            users::family_name.nullable(),
            groups::name.nullable(),
            products::cpus.nullable(),
            products::ram_mb.nullable(),
        ))
        .first(conn)
        .await?;
    let firewalls = super::firewalls::names(conn, account_id, &facts.firewall_ids).await?;
    Ok((facts, firewalls))
}

/// What server `id` costs an hour while it runs.
pub async fn hourly_rate(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<bigdecimal::BigDecimal> {
    servers::table.find(id).select(servers::hourly_rate).first(conn).await
}

/// Moves a server into the state an action starts (e.g. `Pausing`) if it is
/// still at `version`; false when it changed meanwhile.
pub async fn begin(conn: &mut AsyncPgConnection, id: i64, version: i32, state: ServerState) -> QueryResult<bool> {
    let updated = diesel::update(servers::table.find(id).filter(servers::version.eq(version)))
        .set((
            servers::state.eq(state.as_str()),
            servers::last_error.eq(None::<String>),
            servers::version.eq(servers::version + 1),
        ))
        .execute(conn)
        .await?;
    Ok(updated == 1)
}
