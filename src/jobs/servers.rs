//! Servers at the provider: the launch, the state sync that follows servers
//! until they settle, pause/start/reboot/terminate, and images made from
//! servers.
//!
//! A server's progress is `requested` (its row and launch job exist),
//! `pending` (the provider has the instance), `running`, and `ready` (the
//! provider's status checks pass). While any server of an account is on its
//! way, `sync_servers` runs again every two seconds (the same job row, put
//! back in the queue), so the servers page can show live progress.

use std::time::Duration;

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};

use super::JobError;
use crate::cloud::{CloudError, CloudProvider, Instance, InstanceState, LISTING_LAG, RunRequest, Volume};
use crate::db::jobs::{Job, NewJob};
use crate::db::{self, Pool, accounts::Account};
use crate::domain::access::{JobSubject, Ownership};
use crate::domain::servers::ServerState;

pub const RUN_INSTANCE: &str = "run_instance";
/// A sync kind: at most one is queued per account.
pub const SYNC_SERVERS: &str = "sync_servers";
pub const SERVER_ACTION: &str = "server_action";
pub const CREATE_IMAGE: &str = "create_image";

/// How soon a sync of servers on their way runs again.
pub const FOLLOW_EVERY: Duration = Duration::from_secs(2);

/// The payload of a `run_instance` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInstancePayload {
    pub image_id: String,
    pub instance_type: String,
    pub name: String,
    #[serde(default)]
    pub zone: Option<String>,
    /// Security group ids.
    #[serde(default)]
    pub security_groups: Vec<String>,
    #[serde(default)]
    pub key_name: Option<String>,
    #[serde(default)]
    pub user_data: Option<String>,
    #[serde(default)]
    pub volumes: Vec<Volume>,
    /// The console's server row the instance is for, if any.
    #[serde(default)]
    pub server_id: Option<i64>,
}

impl RunInstancePayload {
    pub fn job(&self, account_id: i64, max_attempts: i32, server: Ownership) -> NewJob<'static> {
        super::new_job(account_id, RUN_INSTANCE, self, max_attempts, JobSubject::Server(server))
    }
}

/// What a server action asks of the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerCommand {
    Pause,
    Start,
    Reboot,
    Terminate,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerActionPayload {
    pub server_id: i64,
    pub instance_id: String,
    pub command: ServerCommand,
}

impl ServerActionPayload {
    pub fn job(&self, account_id: i64, max_attempts: i32, server: Ownership) -> NewJob<'static> {
        super::new_job(account_id, SERVER_ACTION, self, max_attempts, JobSubject::Server(server))
    }
}

/// An image to make from a server, and the console metadata its record gets.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateImagePayload {
    pub server_id: i64,
    pub instance_id: String,
    pub name: String,
    pub description: String,
    pub platform: String,
    pub owner_user_id: i64,
    pub owner_group_id: Option<i64>,
    pub budget_code_id: i64,
    /// The pending record Make Image wrote (`db::images::pending_image`);
    /// absent in jobs queued before records were written up front.
    #[serde(default)]
    pub record_id: Option<i64>,
}

impl CreateImagePayload {
    pub fn job(&self, account_id: i64, max_attempts: i32, server: Ownership) -> NewJob<'static> {
        super::new_job(account_id, CREATE_IMAGE, self, max_attempts, JobSubject::Server(server))
    }
}

/// The server row a job is about, if it names one.
pub fn server_of(job: &Job) -> Option<i64> {
    job.payload.get("server_id").and_then(serde_json::Value::as_i64)
}

/// Starts a server at the provider. The job's idempotency key goes with the
/// request, so running the job again (after a lost answer or a dead worker)
/// finds the server instead of starting a second one.
pub async fn run_instance(
    pool: &Pool,
    provider: &dyn CloudProvider,
    job: &Job,
) -> Result<Option<serde_json::Value>, JobError> {
    let payload: RunInstancePayload = super::payload_of(job)?;
    let request = RunRequest {
        image_id: payload.image_id,
        instance_type: payload.instance_type,
        zone: payload.zone,
        security_groups: payload.security_groups,
        key_name: payload.key_name,
        user_data: payload.user_data,
        volumes: payload.volumes,
        name: payload.name,
        idempotency_key: job.idempotency_key.clone(),
    };
    let instance = provider.run_instance(&request).await?;
    tracing::info!(instance = %instance.id, "server started");
    if let Some(server) = payload.server_id {
        let mut conn = pool.get().await?;
        db::servers::launched(&mut conn, server, &instance.id, state_of(&instance), &addresses(&instance)).await?;
    }
    Ok(Some(serde_json::json!({ "instance_id": instance.id })))
}

/// How long a launch that failed without an instance id is looked for at
/// the provider.
const LOST_LAUNCH_SEARCH: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// A launch whose answer was lost, and whose retries all failed (the
/// provider was unreachable for longer than they lasted), left its server
/// in ERROR with no instance id, while the provider may have started the
/// instance: a server that runs, and costs, unseen. The sync looks for
/// such instances by the launch's idempotency tag, for a day, and takes
/// them in; the sync then follows them as any other.
/// Whether it asked the provider anything (it had launches to look for).
async fn find_lost_launches(pool: &Pool, provider: &dyn CloudProvider, account: &Account) -> Result<bool, JobError> {
    let unseen = {
        let mut conn = pool.get().await?;
        db::servers::unseen_launches(&mut conn, account.id, RUN_INSTANCE, Utc::now() - LOST_LAUNCH_SEARCH).await?
    };
    let searched = !unseen.is_empty();
    for (server, key) in unseen {
        let Some(instance) = provider.launched_with(&key).await? else { continue };
        let mut conn = pool.get().await?;
        if db::servers::found_launch(&mut conn, server, &instance.id, state_of(&instance), &addresses(&instance))
            .await?
        {
            tracing::warn!(server, instance = %instance.id, "found the instance of a launch whose answer was lost");
        }
    }
    Ok(searched)
}

fn addresses(instance: &Instance) -> db::servers::Addresses {
    db::servers::Addresses { private_ip: instance.private_ip.clone(), public_ip: instance.public_ip.clone() }
}

/// The console's state for what the provider reports.
fn state_of(instance: &Instance) -> ServerState {
    match instance.state {
        InstanceState::Pending => ServerState::Pending,
        InstanceState::Running => ServerState::Running,
        InstanceState::Stopping => ServerState::Pausing,
        InstanceState::Stopped => ServerState::Paused,
        InstanceState::ShuttingDown => ServerState::Stopping,
        InstanceState::Terminated => ServerState::Terminated,
    }
}

/// Reads the state of the account's live servers from the provider.
pub async fn sync(pool: &Pool, provider: &dyn CloudProvider, account: &Account) -> Result<Synced, JobError> {
    let searched = find_lost_launches(pool, provider, account).await?;
    let live = {
        let mut conn = pool.get().await?;
        db::servers::at_provider(&mut conn, account.id).await?
    };
    if live.is_empty() {
        return Ok(Synced { unsettled: 0, asked: searched });
    }
    let ids: Vec<String> = live.iter().map(|s| s.instance_id.clone()).collect();
    let instances = provider.describe_instances(&ids).await?;
    let running: Vec<String> =
        instances.iter().filter(|i| i.state == InstanceState::Running).map(|i| i.id.clone()).collect();
    let ready = provider.ready_instances(&running).await?;
    let mut conn = pool.get().await?;
    let mut unsettled = 0;
    let now = chrono::Utc::now();
    for server in &live {
        let reported = instances.iter().find(|i| i.id == server.instance_id);
        // A server the provider does not report is taken as terminated once
        // its instance is older than the listing lag; until then the sync
        // follows it as still settling.
        if reported.is_none() && server.instance_recorded_at.is_some_and(|at| now - at < LISTING_LAG) {
            // Launched a moment ago: not reported yet, rather than gone.
            unsettled += 1;
            continue;
        }
        let state = reported.map_or(ServerState::Terminated, state_of);
        let is_ready = ready.contains(&server.instance_id);
        // A terminated instance has no address any more (EC2 may still
        // report the private one for a while; the local endpoint keeps both).
        let addresses = match reported {
            Some(instance) if state != ServerState::Terminated => addresses(instance),
            _ => db::servers::Addresses::default(),
        };
        if !db::servers::observed(&mut conn, server, state, is_ready, &addresses).await? {
            // Changed while the provider was asked: the report is older than
            // the change, and the next round observes what the change did.
            unsettled += 1;
            continue;
        }
        if settling(server, state, is_ready, now) {
            unsettled += 1;
        }
    }
    Ok(Synced { unsettled, asked: true })
}

/// What a sync of servers did.
pub struct Synced {
    /// The servers still on their way (the job then runs again shortly).
    pub unsettled: usize,
    /// Whether it asked the provider anything: with no server to follow and
    /// no lost launch to look for it asks nothing, and so learns nothing of
    /// whether the provider answers.
    pub asked: bool,
}

/// How long a running server is followed (every [`FOLLOW_EVERY`]) until its
/// status checks pass. EC2's pass within minutes of a boot; a server still
/// failing them after this is impaired, and the periodic sync goes on
/// reading it every few minutes, rather than asking EC2 twice every two
/// seconds for as long as it runs.
pub const READINESS_PATIENCE: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

/// Whether `server`, reported in `state` (its checks passing or not), is
/// still on its way, so the sync follows it.
fn settling(server: &db::servers::LiveServer, state: ServerState, ready: bool, now: chrono::DateTime<Utc>) -> bool {
    match state {
        ServerState::Pending | ServerState::Pausing | ServerState::Stopping | ServerState::Rebooting => true,
        // Running since this report, or for less than the patience.
        ServerState::Running => !ready && (server.state != state || now - server.state_since < READINESS_PATIENCE),
        _ => false,
    }
}

/// Pauses (stops), starts, reboots or terminates a server. A server already
/// in the wanted state counts as done.
pub async fn action(provider: &dyn CloudProvider, job: &Job) -> Result<Option<serde_json::Value>, JobError> {
    let ServerActionPayload { instance_id, command, .. } = super::payload_of(job)?;
    let outcome = match command {
        ServerCommand::Pause => provider.stop_instance(&instance_id).await,
        ServerCommand::Start => provider.start_instance(&instance_id).await,
        ServerCommand::Reboot => provider.reboot_instance(&instance_id).await,
        ServerCommand::Terminate => provider.terminate_instance(&instance_id).await,
    };
    match outcome {
        Ok(()) => Ok(None),
        Err(CloudError::Refused { code, .. })
            if command == ServerCommand::Terminate && code.starts_with("InvalidInstanceID") =>
        {
            Ok(Some(serde_json::json!({ "note": "the server was already gone at the provider" })))
        }
        Err(e) => Err(e.into()),
    }
}

/// How far the provider's clock may be from ours when an image's creation
/// time is compared with a job's.
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// Makes an image from a server and fills in its pending record (written by
/// Make Image) with the provider's id; the image stays PENDING until the
/// provider has it ready (the images sync then says ACTIVE). A retry after a
/// lost answer finds the image by its name (EC2 refuses a second image of a
/// name), unless that one was made before the job was queued or another
/// record has it: then it is another image, and the job fails. EC2 lists
/// and describes a new image only after a while (eventual consistency): an
/// image not found yet is a failure the queue retries, never a refusal. If
/// the job gives up, [`failed`] marks the record FAILED with the reason.
pub async fn create_image(
    pool: &Pool,
    provider: &dyn CloudProvider,
    account: &Account,
    job: &Job,
) -> Result<Option<serde_json::Value>, JobError> {
    let p: CreateImagePayload = super::payload_of(job)?;
    let image_id = match provider.create_image(&p.instance_id, &p.name, &p.description).await {
        Ok(id) => id,
        Err(CloudError::Refused { code, .. }) if code == "InvalidAMIName.Duplicate" => {
            // EC2 lists a new image a while after making it: not found
            // yet is tried again later, as is a description below.
            let found =
                provider.list_own_images().await?.into_iter().find(|i| i.name == p.name).ok_or_else(|| {
                    CloudError::Failed(format!("the image named {} is made but not listed yet", p.name))
                })?;
            let made_before = found.created_at.is_some_and(|at| at < job.created_at - CLOCK_SKEW);
            let recorded =
                db::images::recorded_elsewhere(&mut *pool.get().await?, account.id, &found.id, p.record_id).await?;
            if made_before || recorded {
                return Err(JobError::Invalid(format!(
                    "the account already has another image named {} ({}): choose another name",
                    p.name, found.id
                )));
            }
            found.id
        }
        Err(e) => return Err(e.into()),
    };
    let image = provider
        .describe_image(&image_id)
        .await?
        .ok_or_else(|| CloudError::Failed(format!("the new image {image_id} is not described yet")))?;
    let mut reported = super::sync::reported(image);
    reported.platform = crate::domain::images::Platform::from_stored(&p.platform).as_str();
    let mut conn = pool.get().await?;
    let record = db::sync::made_image(
        &mut conn,
        account,
        &reported,
        &db::sync::ImageOwner {
            owner_user_id: p.owner_user_id,
            owner_group_id: p.owner_group_id,
            budget_code_id: p.budget_code_id,
        },
        p.record_id,
    )
    .await?;
    tracing::info!(image = %image_id, record, "image made from a server");
    Ok(Some(serde_json::json!({ "image_id": image_id, "record_id": record })))
}

/// When a job about a server failed for good, the server shows why; a
/// launch that failed leaves the server in ERROR, and an image that could
/// not be made shows as failed on its pending record, with the reason.
pub async fn failed(conn: &mut AsyncPgConnection, job: &Job, error: &str) -> Result<(), JobError> {
    let Some(server) = server_of(job) else { return Ok(()) };
    if job.kind == CREATE_IMAGE
        && let Ok(CreateImagePayload { record_id: Some(record), .. }) = super::payload_of(job)
    {
        db::sync::making_failed(conn, record, error).await?;
    }
    db::servers::failed(conn, server, error, job.kind == RUN_INSTANCE).await?;
    Ok(())
}

/// The moment a follow-up sync should run.
pub fn follow_up_at() -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(FOLLOW_EVERY).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, Utc};

    use super::{READINESS_PATIENCE, settling};
    use crate::db::servers::{Addresses, LiveServer};
    use crate::domain::servers::ServerState;

    fn server(state: ServerState, for_: TimeDelta) -> LiveServer {
        LiveServer {
            id: 1,
            instance_id: "i-1".into(),
            state,
            version: 1,
            addresses: Addresses::default(),
            instance_recorded_at: None,
            state_since: Utc::now() - for_,
        }
    }

    #[test]
    fn a_running_server_is_followed_until_its_checks_pass_or_the_patience_ends() {
        let now = Utc::now();
        let minute = TimeDelta::minutes(1);
        // Just started (pending before, or running for a minute): followed.
        assert!(settling(&server(ServerState::Pending, minute), ServerState::Running, false, now));
        assert!(settling(&server(ServerState::Running, minute), ServerState::Running, false, now));
        // Its checks pass: settled.
        assert!(!settling(&server(ServerState::Running, minute), ServerState::Running, true, now));
        // Running and failing its checks for longer than the patience: left to the periodic sync.
        let long = READINESS_PATIENCE + minute;
        assert!(!settling(&server(ServerState::Running, long), ServerState::Running, false, now));
        // Whatever moves is followed, however long it has been in its state.
        assert!(settling(&server(ServerState::Pausing, long), ServerState::Stopping, false, now));
        assert!(!settling(&server(ServerState::Running, long), ServerState::Paused, false, now));
    }
}
