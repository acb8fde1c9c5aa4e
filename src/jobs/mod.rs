//! The job queue's workers: every process runs a few. They claim jobs from
//! PostgreSQL (`FOR UPDATE SKIP LOCKED`, so any number of processes
//! cooperate), run them against the account's provider, and record the
//! outcome: COMPLETE, or a retry after an exponential backoff, or ERROR with
//! the provider's reason once the attempts are spent. A scheduler queues the
//! periodic syncs; a reaper re-queues jobs whose process died.

pub mod images;
pub mod lifecycle;
pub mod resources;
pub mod servers;
pub mod sync;

pub use servers::{RUN_INSTANCE, RunInstancePayload};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use diesel_async::AsyncConnection as _;
use tokio::sync::Mutex;
use tracing::Instrument as _;

use crate::cloud::ec2::Ec2Provider;
use crate::cloud::{CloudError, CloudProvider, Connection, Credentials};
use crate::db::accounts::{Account, Authentication};
use crate::db::{self, Pool, jobs::Job};
use crate::domain::access::JobSubject;
use crate::secrets::{SecretsError, SecretsKey};

/// How the workers behave; from the environment (see `Config`).
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Workers in this process; 0 runs none (a web-only process).
    pub workers: usize,
    /// How long an idle worker waits before looking again.
    pub poll: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    pub max_attempts: i32,
    /// How often every account is synced.
    pub sync_interval: Duration,
    /// A RUNNING job older than this lost its worker.
    pub lease: Duration,
    /// An EC2-compatible endpoint for every account without its own.
    pub provider_endpoint: Option<String>,
    pub connect_timeout: Duration,
    pub call_timeout: Duration,
    /// Opens the sealed secrets of accounts reached with an access key
    /// (`SECRETS_KEY`); without it such accounts cannot be connected.
    pub secrets: Option<SecretsKey>,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            workers: 2,
            poll: Duration::from_millis(250),
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(300),
            max_attempts: 8,
            sync_interval: Duration::from_secs(300),
            lease: Duration::from_secs(600),
            provider_endpoint: None,
            connect_timeout: Duration::from_secs(2),
            call_timeout: Duration::from_secs(15),
            secrets: None,
        }
    }
}

impl JobSettings {
    /// The wait before attempt `attempts + 1`: base × 2^(attempts − 1), capped.
    pub fn backoff(&self, attempts: i32) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(20);
        self.backoff_base.saturating_mul(2u32.saturating_pow(exponent)).min(self.backoff_cap)
    }

    /// How to reach `account`'s provider, authenticating as `auth` says
    /// (a sealed secret is opened here). An account without an endpoint of
    /// its own uses the console's (`PROVIDER_ENDPOINT`), if one is set.
    pub fn connection(&self, account: &Account, auth: Authentication) -> Result<Connection, SecretsError> {
        let credentials = match auth {
            Authentication::AssumeRole { role_arn, external_id } => Credentials::AssumeRole { role_arn, external_id },
            Authentication::AccessKey { access_key_id, secret_sealed } => {
                let key = self.secrets.as_ref().ok_or(SecretsError::NoKey)?;
                let secret_access_key = key.open(&secret_sealed, &access_key_id)?;
                Credentials::AccessKey { access_key_id, secret_access_key }
            }
            Authentication::Ambient => Credentials::Ambient,
        };
        Ok(self.reach(&account.region, account.endpoint.as_deref(), credentials))
    }

    /// How to reach a provider in `region` with `credentials`: at
    /// `endpoint`, else the console's (`PROVIDER_ENDPOINT`), else AWS.
    pub fn reach(&self, region: &str, endpoint: Option<&str>, credentials: Credentials) -> Connection {
        Connection {
            region: region.to_owned(),
            endpoint: endpoint.map(str::to_owned).or_else(|| self.provider_endpoint.clone()),
            credentials,
            connect_timeout: self.connect_timeout,
            call_timeout: self.call_timeout,
        }
    }
}

/// Providers by account, connected on first use.
#[derive(Default)]
pub struct Providers {
    /// By account id.
    connected: Mutex<HashMap<i64, Cached>>,
}

/// A connected provider, and the version of the credentials it was
/// connected with.
type Cached = (i32, Arc<dyn CloudProvider>);

impl Providers {
    /// The provider of `account`, connected with the credentials stored for
    /// it (read from `pool` on first use).
    pub async fn for_account(
        &self,
        pool: &db::Pool,
        settings: &JobSettings,
        account: &Account,
    ) -> Result<Connected, JobError> {
        let mut connected = self.connected.lock().await;
        if let Some((version, provider)) = connected.get(&account.id)
            && *version == account.credentials_version
        {
            return Ok(Connected { provider: provider.clone(), new: false });
        }
        let auth = db::accounts::authentication(&mut *pool.get().await?, account.id).await?;
        let provider: Arc<dyn CloudProvider> = match account.provider.as_str() {
            "ec2" => Ec2Provider::connect(&settings.connection(account, auth)?).await?,
            _ => return Err(CloudError::Unsupported("this provider").into()),
        };
        connected.insert(account.id, (account.credentials_version, provider.clone()));
        Ok(Connected { provider, new: true })
    }
}

/// A provider handle, and whether it was connected just now.
pub struct Connected {
    pub provider: Arc<dyn CloudProvider>,
    pub new: bool,
}

/// Why a job did not complete.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Cloud(#[from] CloudError),
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("no database connection: {0}")]
    Pool(#[from] db::PoolError),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
}

impl JobError {
    fn is_transient(&self) -> bool {
        match self {
            JobError::Cloud(e) => e.is_transient(),
            JobError::Database(_) | JobError::Pool(_) => true,
            JobError::Invalid(_) | JobError::Secrets(_) => false,
        }
    }
}

/// Everything a worker needs.
pub struct Runner {
    pub pool: Pool,
    pub settings: JobSettings,
    pub providers: Providers,
    /// Names this process in `jobs.worker`.
    pub process: String,
}

impl Runner {
    pub fn new(pool: Pool, settings: JobSettings) -> Arc<Self> {
        let process = format!("{}-{}", std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..8]);
        Arc::new(Self { pool, settings, providers: Providers::default(), process })
    }

    /// Starts the workers, the scheduler and the reaper on the current runtime.
    pub fn start(self: &Arc<Self>) {
        for n in 0..self.settings.workers {
            let runner = self.clone();
            actix_web::rt::spawn(async move { runner.work(n).await });
        }
        if self.settings.workers > 0 {
            let runner = self.clone();
            actix_web::rt::spawn(async move { runner.schedule().await });
        }
    }

    async fn work(&self, n: usize) {
        let name = format!("{}/{n}", self.process);
        loop {
            match self.run_next(&name).await {
                Ok(true) => {}
                Ok(false) => tokio::time::sleep(self.settings.poll).await,
                Err(e) => {
                    tracing::warn!(error = %e, "the job queue is not reachable");
                    tokio::time::sleep(self.settings.poll * 4).await;
                }
            }
        }
    }

    /// Claims and runs one job; false when none was ready.
    pub async fn run_next(&self, worker: &str) -> Result<bool, JobError> {
        let job = {
            let mut conn = self.pool.get().await?;
            db::jobs::claim(&mut conn, worker).await?
        };
        let Some(job) = job else { return Ok(false) };
        let span = tracing::info_span!("job", job_id = job.id, kind = %job.kind, attempt = job.attempts);
        self.finish(job).instrument(span).await?;
        Ok(true)
    }

    /// Runs a claimed job and records how it went.
    async fn finish(&self, job: Job) -> Result<(), JobError> {
        let outcome = self.perform(&job).await;
        self.record(&job, outcome).await
    }

    /// Records how a claimed job went: done (or, for a sync asked for again
    /// while it ran, queued again), followed again, retried later, or
    /// failed. Public with [`Runner::perform`] so a test can run a job, make
    /// a change, and only then let the job's outcome be recorded, as happens
    /// when two workers overlap.
    pub async fn record(
        &self,
        job: &Job,
        outcome: Result<Option<serde_json::Value>, JobError>,
    ) -> Result<(), JobError> {
        use db::jobs::Claim::{Held, Lost};
        let mut conn = self.pool.get().await?;
        let claim = match outcome {
            Ok(Some(result)) if job.kind == servers::SYNC_SERVERS => {
                // Servers are on their way: follow them, in the same row.
                db::jobs::again(&mut conn, job, servers::follow_up_at(), result).await?
            }
            Ok(result) => match db::jobs::complete(&mut conn, job, result).await? {
                Held(true) => {
                    tracing::info!("job complete; asked for again while it ran, so queued again");
                    Held(())
                }
                Held(false) => {
                    tracing::info!("job complete");
                    Held(())
                }
                Lost => Lost,
            },
            Err(error) => {
                let retry = error.is_transient() && job.attempts < job.max_attempts;
                let retry_at = retry.then(|| {
                    Utc::now() + chrono::Duration::from_std(self.settings.backoff(job.attempts)).unwrap_or_default()
                });
                tracing::warn!(error = %error, retry = retry, "job failed");
                let error = error.to_string();
                if retry {
                    db::jobs::fail(&mut conn, job, &error, retry_at).await?
                } else {
                    // The job and what it was about fail together: a job
                    // marked failed with its server still pending would
                    // leave the server pending for good. Until this commits
                    // the job stays claimed, and a lost worker's job runs
                    // again.
                    let attempts = self.settings.max_attempts;
                    conn.transaction(async |conn| {
                        if db::jobs::fail(conn, job, &error, None).await? == Lost {
                            return Ok(Lost);
                        }
                        settle_failure(conn, job, &error, attempts).await?;
                        Ok::<_, JobError>(Held(()))
                    })
                    .await?
                }
            }
        };
        if claim == Lost {
            // Its lease ran out while it ran: queued again, perhaps run by
            // another worker, whose outcome is the one that counts.
            tracing::warn!(worker = ?job.worker, "the job outlived its lease; its outcome is not recorded");
        }
        Ok(())
    }

    /// Runs a claimed job against its account's provider; what it produced.
    pub async fn perform(&self, job: &Job) -> Result<Option<serde_json::Value>, JobError> {
        if job.kind == "noop" {
            return Ok(None);
        }
        if job.kind == lifecycle::IMAGE_LIFECYCLE {
            // The console's own rules: no provider call of its own (the
            // deregistrations it decides are jobs of their own).
            let account_id =
                job.account_id.ok_or_else(|| JobError::Invalid("image_lifecycle needs an account".into()))?;
            let lifecycle::Lifecycle { now } = payload_of(job)?;
            let report = lifecycle::run(&self.pool, &self.settings, account_id, now.unwrap_or_else(Utc::now)).await?;
            return Ok((report != lifecycle::LifecycleReport::default())
                .then(|| serde_json::to_value(report).expect("a report is plain data")));
        }
        let account_id = job.account_id.ok_or_else(|| JobError::Invalid(format!("{} needs an account", job.kind)))?;
        let account = {
            let mut conn = self.pool.get().await?;
            db::accounts::find(&mut conn, account_id).await?
        };
        let provider = match self.providers.for_account(&self.pool, &self.settings, &account).await {
            Ok(Connected { provider, new }) => {
                if new {
                    // Pages read what the provider can do from here.
                    let capabilities =
                        serde_json::to_value(provider.capabilities()).expect("capabilities are plain flags");
                    let mut conn = self.pool.get().await?;
                    db::accounts::set_capabilities(&mut conn, account.id, capabilities).await?;
                }
                provider
            }
            Err(JobError::Cloud(e)) => return Err(self.note_provider_error(account.id, e, true).await),
            Err(e) => return Err(e),
        };
        // Whether the provider answered: a sync that asked it nothing says
        // nothing of the account's reach.
        let mut heard = true;
        let result = match job.kind.as_str() {
            RUN_INSTANCE => servers::run_instance(&self.pool, provider.as_ref(), job).await,
            servers::SYNC_SERVERS => servers::sync(&self.pool, provider.as_ref(), &account).await.map(|synced| {
                heard = synced.asked;
                (synced.unsettled > 0).then(|| serde_json::json!({ "unsettled": synced.unsettled }))
            }),
            servers::SERVER_ACTION => servers::action(provider.as_ref(), job).await,
            servers::CREATE_IMAGE => servers::create_image(&self.pool, provider.as_ref(), &account, job).await,
            images::DEREGISTER_IMAGE => images::deregister(provider.as_ref(), job).await,
            images::LAUNCH_PERMISSION => images::permission(provider.as_ref(), job).await,
            images::SET_DEPRECATION => images::deprecation(provider.as_ref(), job).await,
            images::SET_AVAILABILITY => images::availability(provider.as_ref(), job).await,
            resources::IMPORT_KEY_PAIR => {
                resources::import_key_pair(&self.pool, provider.as_ref(), &account, job).await
            }
            resources::DELETE_KEY_PAIR => {
                resources::delete_key_pair(&self.pool, provider.as_ref(), &account, job).await
            }
            resources::CREATE_SECURITY_GROUP => {
                resources::create_security_group(&self.pool, provider.as_ref(), &account, job).await
            }
            resources::DELETE_SECURITY_GROUP => {
                resources::delete_security_group(&self.pool, provider.as_ref(), &account, job).await
            }
            resources::AUTHORIZE_INGRESS => {
                resources::authorize_ingress(&self.pool, provider.as_ref(), &account, job).await
            }
            resources::REVOKE_INGRESS => resources::revoke_ingress(&self.pool, provider.as_ref(), &account, job).await,
            sync::OWN_IMAGES => sync::own_images(&self.pool, provider.as_ref(), &account).await.map(|()| None),
            sync::PUBLIC_CATALOG => sync::public_catalog(&self.pool, provider.as_ref(), &account).await.map(|()| None),
            sync::PRODUCTS => sync::products(&self.pool, provider.as_ref(), &account).await.map(|()| None),
            sync::ZONES => sync::zones(&self.pool, provider.as_ref(), &account).await.map(|()| None),
            sync::FIREWALLS => sync::firewalls(&self.pool, provider.as_ref(), &account).await.map(|()| None),
            sync::KEY_PAIRS => sync::key_pairs(&self.pool, provider.as_ref(), &account).await.map(|()| None),
            other => return Err(JobError::Invalid(format!("unknown job kind {other:?}"))),
        };
        match result {
            Ok(result) => {
                let mut conn = self.pool.get().await?;
                if job.kind.starts_with("sync_") {
                    if heard {
                        db::sync::mark_synced(&mut conn, account.id).await?;
                    }
                } else if let Some(kind) = follow_up(&job.kind) {
                    // The provider has the change: read its view back.
                    db::jobs::enqueue_sync(&mut conn, account.id, kind, self.settings.max_attempts).await?;
                }
                Ok(result)
            }
            Err(JobError::Cloud(e)) => {
                Err(self.note_provider_error(account.id, e, job.kind.starts_with("sync_")).await)
            }
            Err(e) => Err(e),
        }
    }

    /// Remembers that the provider is unreachable (for the banner), or
    /// that it refuses the account (`account_level`: connecting or syncing
    /// failed; for Cloud Accounts, with the reason).
    async fn note_provider_error(&self, account_id: i64, error: CloudError, account_level: bool) -> JobError {
        let unreachable = matches!(error, CloudError::Unreachable(_));
        if (unreachable || account_level)
            && let Ok(mut conn) = self.pool.get().await
            && let Err(e) = db::sync::mark_failing(&mut conn, account_id, &error.to_string()).await
        {
            tracing::warn!(error = %e, "could not record the provider's failure");
        }
        JobError::Cloud(error)
    }

    /// Queues the periodic syncs of every account and re-queues jobs whose
    /// process died.
    async fn schedule(&self) {
        let mut every = tokio::time::interval(self.settings.sync_interval);
        loop {
            every.tick().await;
            if let Err(e) = self.queue_syncs().await {
                tracing::warn!(error = %e, "could not queue the periodic syncs");
            }
        }
    }

    pub async fn queue_syncs(&self) -> Result<(), JobError> {
        let mut conn = self.pool.get().await?;
        let before = Utc::now() - chrono::Duration::from_std(self.settings.lease).unwrap_or_default();
        let attempts = self.settings.max_attempts;
        let stale = conn
            .transaction(async |conn| {
                let stale = db::jobs::requeue_stale(conn, before).await?;
                for job in &stale.given_up {
                    settle_failure(conn, job, "its worker stopped on every attempt", attempts).await?;
                }
                Ok::<_, JobError>(stale)
            })
            .await?;
        if stale.requeued > 0 {
            tracing::warn!(jobs = stale.requeued, "re-queued jobs whose worker stopped");
        }
        for job in &stale.given_up {
            tracing::warn!(job_id = job.id, kind = %job.kind, "gave up a job whose worker stopped on every attempt");
        }
        for account in db::sync::all_accounts(&mut conn).await? {
            for &kind in sync::ALL.iter().chain([&lifecycle::IMAGE_LIFECYCLE]) {
                db::jobs::enqueue_sync(&mut conn, account.id, kind, self.settings.max_attempts).await?;
            }
        }
        Ok(())
    }
}

/// A job of `kind` about `subject` for an account, its payload serialized.
pub(crate) fn new_job<T: serde::Serialize>(
    account_id: i64,
    kind: &'static str,
    payload: &T,
    max_attempts: i32,
    subject: JobSubject,
) -> db::jobs::NewJob<'static> {
    let payload = serde_json::to_value(payload).expect("job payloads are plain data");
    db::jobs::NewJob::new(account_id, kind, payload, max_attempts, subject)
}

/// A job's payload, read back.
pub(crate) fn payload_of<T: serde::de::DeserializeOwned>(job: &Job) -> Result<T, JobError> {
    serde_json::from_value(job.payload.clone())
        .map_err(|e| JobError::Invalid(format!("a {} job lacks its details: {e}", job.kind)))
}

/// What a job that failed for good was about takes the failure in: a
/// launch's server goes to ERROR, an image being made to FAILED, a key pair
/// or firewall to where it was, a share the provider refused is undone.
/// Then the provider's view is read back: whatever was asked of it, a
/// server refused a stop is not left "pausing".
/// In the transaction that marks the job failed.
async fn settle_failure(
    conn: &mut diesel_async::AsyncPgConnection,
    job: &Job,
    error: &str,
    max_attempts: i32,
) -> Result<(), JobError> {
    servers::failed(conn, job, error).await?;
    resources::failed(conn, job, error).await?;
    images::failed(conn, job, error).await?;
    if let (Some(kind), Some(account)) = (follow_up(&job.kind), job.account_id) {
        db::jobs::enqueue_sync(conn, account, kind, max_attempts).await?;
    }
    Ok(())
}

/// The sync that reads a change back from the provider once it is made.
fn follow_up(kind: &str) -> Option<&'static str> {
    match kind {
        images::DEREGISTER_IMAGE
        | images::LAUNCH_PERMISSION
        | images::SET_DEPRECATION
        | images::SET_AVAILABILITY
        | servers::CREATE_IMAGE => Some(sync::OWN_IMAGES),
        servers::RUN_INSTANCE | servers::SERVER_ACTION => Some(servers::SYNC_SERVERS),
        resources::AUTHORIZE_INGRESS | resources::REVOKE_INGRESS => Some(sync::FIREWALLS),
        _ => None,
    }
}

/// What a job does, as a person would say it.
pub fn describe(job: &crate::db::jobs::Job) -> String {
    use self::{images, servers};
    let text = |field: &str| job.payload.get(field).and_then(|v| v.as_str()).unwrap_or_default();
    let image = job.payload.get("image_id").and_then(|v| v.as_str()).unwrap_or("an image");
    match job.kind.as_str() {
        images::DEREGISTER_IMAGE => format!("Deregister {image}"),
        images::SET_DEPRECATION if job.payload.get("deprecated_at").is_some_and(|v| !v.is_null()) => {
            format!("Deprecate {image}")
        }
        images::SET_DEPRECATION => format!("Undeprecate {image}"),
        images::SET_AVAILABILITY if job.payload.get("enabled").and_then(serde_json::Value::as_bool) == Some(true) => {
            format!("Enable {image} (restored)")
        }
        images::SET_AVAILABILITY => format!("Disable {image} (retired)"),
        images::LAUNCH_PERMISSION => {
            let grant = job.payload.get("grant").and_then(serde_json::Value::as_bool).unwrap_or(false);
            let who = match job.payload.get("account_number").and_then(|v| v.as_str()) {
                Some(number) => format!("account {number}"),
                None => "everyone".into(),
            };
            if grant { format!("Share {image} with {who}") } else { format!("Stop sharing {image} with {who}") }
        }
        self::sync::OWN_IMAGES => "Sync machine images".into(),
        self::sync::PUBLIC_CATALOG => "Sync the public catalog".into(),
        self::sync::PRODUCTS => "Sync hardware sizes".into(),
        self::sync::ZONES => "Sync data centers".into(),
        self::sync::FIREWALLS => "Sync firewalls".into(),
        self::sync::KEY_PAIRS => "Sync key pairs".into(),
        "noop" => "No-op".into(),
        lifecycle::IMAGE_LIFECYCLE => "Image lifecycle: purge the recycle bin".into(),
        servers::RUN_INSTANCE => format!("Launch server {}", text("name")),
        servers::SYNC_SERVERS => "Sync servers".into(),
        servers::SERVER_ACTION => {
            let command = match text("command") {
                "pause" => "Pause",
                "start" => "Start",
                "reboot" => "Reboot",
                _ => "Terminate",
            };
            format!("{command} server {}", text("instance_id"))
        }
        servers::CREATE_IMAGE => format!("Make image {} from server {}", text("name"), text("instance_id")),
        resources::AUTHORIZE_INGRESS | resources::REVOKE_INGRESS => {
            let rule = payload_of::<resources::IngressChange>(job).map(|change| change.rule.summary());
            let verb = if job.kind == resources::AUTHORIZE_INGRESS { "Let in" } else { "Stop letting in" };
            format!("{verb} {} through {}", rule.unwrap_or_else(|_| "a rule".into()), text("group_id"))
        }
        other => other.replace('_', " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let settings = JobSettings { backoff_cap: Duration::from_secs(30), ..JobSettings::default() };
        let waits: Vec<u64> = (1..=6).map(|n| settings.backoff(n).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 30, 30]);
    }
}
