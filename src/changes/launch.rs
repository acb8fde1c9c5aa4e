//! Launching servers from an image (PRODUCT 3.4, the launch dialog).
//!
//! Nothing is created until every tab is valid (`domain::launch::validate`,
//! at the edge); then [`launch`] writes the server rows, their launch jobs
//! and audit events in one transaction. A launch from the public catalog
//! first records the image in My images (`db::launch::record_public_launch`).
//!
//! The budget code is locked and checked again inside the transaction: it
//! may have been deactivated or withdrawn, or filled by another launch,
//! since the form was checked (`Refusal::BudgetWithdrawn`,
//! `Refusal::PastHardQuota`, both at the budget code's field).
//!
//! The form carries an idempotency key: the jobs are keyed `KEY/1..n`, so
//! the same form posted twice launches once. A second post is not an error:
//! it answers as the first did ([`Launched::again`]).

use bigdecimal::BigDecimal;
use diesel_async::{AsyncConnection as _, AsyncPgConnection};

use super::{Actor, ChangeError};
use crate::cloud::Volume;
use crate::db::{self, accounts::Account, images::ImageRow, images::PublicImageRow};
use crate::domain::ValidationError;
use crate::domain::access::{Action, Forbidden, Ownership, Resource};
use crate::domain::cloud_init::{Encryption, VolumeGroup};
use crate::domain::images::ImageAction;
use crate::domain::launch::{CodeOption, Launch, Options, ProductOption, gib, start_choices, unfit_reason};
use crate::domain::refusal::Refusal;
use crate::domain::servers::{KeptConfig, KeptVolumes, ServerState};
use crate::jobs::{JobSettings, RunInstancePayload};

/// The image a launch starts from: a record of the account, or an image of
/// the public catalog.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    Record(&'a ImageRow),
    Public(&'a PublicImageRow),
}

impl Source<'_> {
    fn provider_image_id(&self) -> &str {
        match self {
            Source::Record(row) => &row.provider_image_id,
            Source::Public(row) => &row.provider_image_id,
        }
    }
}

/// Whether the actor may launch the image: the menu's rule for the record
/// (`images::authorize`: a record not available, in the bin or still being
/// made is refused for that, not forbidden), or DefineServerFromPublic and
/// SERVER Start for a public image.
pub fn authorize(actor: &Actor<'_>, source: Source<'_>) -> Result<(), ChangeError> {
    match source {
        Source::Public(_) => {
            let allowed = actor.rights.allows_unowned(Resource::Image, Action::DefineServerFromPublic)
                && actor.rights.allows_some(Resource::Server, Action::Start);
            if allowed {
                Ok(())
            } else {
                Err(Forbidden::because("Your role does not allow launching public images.").into())
            }
        }
        Source::Record(row) => super::images::authorize(actor, row, ImageAction::Launch),
    }
}

/// How the account's volumes are encrypted: by the provider where it
/// documents encrypted volumes, else with LUKS on the server.
pub fn encryption(account: &Account) -> Encryption {
    let provider = crate::cloud::Capabilities::documented(&account.provider).is_some_and(|c| c.encrypted_volumes);
    if provider { Encryption::Provider } else { Encryption::Luks }
}

/// A launch written.
pub struct Launched {
    /// Servers launched.
    pub count: usize,
    /// The same form was launched before; nothing more was.
    pub again: bool,
}

/// Why the launch's transaction stopped: the form was launched already
/// (nothing more is written, and that is no error), or a change error.
enum Stop {
    Again,
    Change(ChangeError),
}

impl From<diesel::result::Error> for Stop {
    fn from(e: diesel::result::Error) -> Self {
        Stop::Change(e.into())
    }
}

impl From<Refusal> for Stop {
    fn from(e: Refusal) -> Self {
        Stop::Change(e.into())
    }
}

/// What an API client's `Idempotency-Key` was sent with: its token and a
/// digest of the request, noted with the launch it makes.
pub struct KeyedRequest<'a> {
    pub token_id: i64,
    pub digest: &'a [u8],
}

/// Writes the servers of `launch` from `source`, their launch jobs and audit
/// events in one transaction, keyed by the form's idempotency `key` (and,
/// for the API, noting the `request` the key came with in the same
/// transaction, so a key is never used without it).
pub async fn launch(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    jobs: &JobSettings,
    source: Source<'_>,
    launch: &Launch,
    key: uuid::Uuid,
    request: Option<&KeyedRequest<'_>>,
) -> Result<Launched, ChangeError> {
    authorize(actor, source)?;
    let account = actor.account;
    let user = actor.user.id;
    let count = launch.names.len();
    let volumes = launch.volume_group.as_ref().map(|g| provider_volumes(g, encryption(account))).unwrap_or_default();
    let launched = conn
        .transaction::<_, Stop, _>(async |conn| {
            if db::jobs::key_used(conn, &format!("{key}/1")).await? {
                return Err(Stop::Again);
            }
            let Some(code) = db::budget::lock_held(conn, user, launch.budget_code_id).await? else {
                return Err(Refusal::BudgetWithdrawn.into());
            };
            // The same form, posted twice at once, waited for that lock:
            // the first has launched by now.
            if db::jobs::key_used(conn, &format!("{key}/1")).await? {
                return Err(Stop::Again);
            }
            let figures = db::budget::figures_for(conn, vec![code], chrono::Utc::now()).await?;
            let (code, figures) = figures.first().expect("figures_for answers for every code it is given");
            let cost = &launch.rate * BigDecimal::from(u64::try_from(count).unwrap_or(u64::MAX));
            if let Err(over) = figures.check_launch(&cost) {
                return Err(Refusal::PastHardQuota { code: code.name.clone(), over }.into());
            }
            let (record, image_pk) = match source {
                Source::Record(record) => {
                    // Read again under the image's row: a delete or a change
                    // that committed since the form was read is seen, and
                    // one that comes after waits for these servers.
                    db::images::hold_image(conn, record.image_pk).await?;
                    let now = db::images::find_listed(conn, account.id, record.id).await?;
                    super::images::authorize(actor, &now, ImageAction::Launch).map_err(Stop::Change)?;
                    (now.id, now.image_pk)
                }
                Source::Public(public) => db::launch::record_public_launch(conn, account, public, user).await?,
            };
            // Held until the servers are written, as the image is: a delete
            // of one waits and counts them; one that came first is seen.
            if let Some(key) = &launch.key_name
                && !db::keypairs::hold_ready(conn, account.id, key).await?
            {
                let why = format!("The key pair “{key}” was deleted meanwhile: choose another.");
                return Err(Stop::Change(ValidationError::new("key_pair", why).into()));
            }
            if let Some(group) = launch.group_id
                && !db::launch::hold_group(conn, user, group).await?
            {
                let why = "The group you chose was deleted, or you left it, meanwhile: choose again.";
                return Err(Stop::Change(ValidationError::new("group_id", why).into()));
            }
            let firewalls: Vec<i64> = launch.firewalls.iter().map(|(id, _)| *id).collect();
            if !db::firewalls::hold_ready(conn, account.id, &firewalls).await? {
                let why = "A firewall you chose was deleted meanwhile: choose again.";
                return Err(Stop::Change(ValidationError::new("firewall_ids", why).into()));
            }
            // Structs of strings and numbers: they always serialize.
            let volume_config = launch.volume_group.as_ref().map(|group| {
                serde_json::to_value(KeptVolumes::of(group)).expect("volumes kept as strings and numbers")
            });
            let config_management = KeptConfig::of(&launch.config)
                .map(|config| serde_json::to_value(config).expect("configuration kept as strings and numbers"));
            for (n, name) in launch.names.iter().enumerate() {
                let server = db::servers::insert(
                    conn,
                    &db::servers::NewServer {
                        account_id: account.id,
                        image_record_id: Some(record),
                        provider_image_id: image_pk,
                        name,
                        description: &launch.description,
                        product_id: &launch.product_id,
                        zone: launch.zone.as_deref(),
                        owner_user_id: Some(user),
                        owner_group_id: launch.group_id,
                        budget_code_id: launch.budget_code_id,
                        hourly_rate: launch.rate.clone(),
                        provider_instance_id: None,
                        private_ip: None,
                        state: ServerState::Pending.as_str(),
                    },
                )
                .await?;
                db::servers::configure(
                    conn,
                    server,
                    launch.label.as_str(),
                    &firewalls,
                    launch.key_name.as_deref(),
                    volume_config.clone(),
                    config_management.clone(),
                )
                .await?;
                let job = RunInstancePayload {
                    image_id: source.provider_image_id().to_owned(),
                    instance_type: launch.product_id.clone(),
                    name: name.clone(),
                    zone: launch.zone.clone(),
                    security_groups: launch.firewalls.iter().map(|(_, provider)| provider.clone()).collect(),
                    key_name: launch.key_name.clone(),
                    user_data: launch.user_data.clone(),
                    volumes: volumes.clone(),
                    server_id: Some(server),
                };
                let owned = Ownership {
                    owner_user: Some(user),
                    owner_group: launch.group_id,
                    budget_code: Some(launch.budget_code_id),
                };
                let job = job.job(account.id, jobs.max_attempts, owned).by(user);
                // Taken meanwhile by the same form posted twice: undo this copy.
                if !db::jobs::enqueue_keyed(conn, &job, &format!("{key}/{}", n + 1)).await? {
                    return Err(Stop::Again);
                }
                let changes = serde_json::json!({
                    "name": name, "image": source.provider_image_id(), "product": launch.product_id,
                    "budget_code_id": launch.budget_code_id, "key_pair": launch.key_name,
                    "volumes": volume_config, "configuration": config_management,
                });
                db::audit_log::record(conn, &actor.event("launch", Resource::Server, server, changes)).await?;
            }
            if let Some(request) = request {
                db::launch::note_launch_key(conn, key, request.token_id, request.digest).await?;
            }
            Ok(())
        })
        .await;
    match launched {
        Ok(()) => Ok(Launched { count, again: false }),
        Err(Stop::Again) => {
            tracing::info!(%key, "a launch form was posted again; nothing more was launched");
            Ok(Launched { count, again: true })
        }
        Err(Stop::Change(e)) => Err(e),
    }
}

/// What the launch form offers the actor in their account for an image of
/// `architecture` (`windows` or not): products (those that do not fit say
/// why), zones, ready firewalls and key pairs, the actor's groups and the
/// budget codes a launch may use. The page shows them; the launch is
/// checked against them (`domain::launch::validate`), the API's too.
pub async fn options(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    architecture: &str,
    windows: bool,
) -> diesel::QueryResult<Options> {
    let conn = &mut *conn;
    let account = actor.account;
    let products = db::launch::products(conn, account)
        .await?
        .into_iter()
        .map(|p| ProductOption {
            title: format!(
                "{} · {} vCPU · {} GiB · ${}/h",
                p.product_id,
                p.cpus,
                gib(p.ram_mb),
                p.hourly_rate.with_scale_round(4, bigdecimal::RoundingMode::HalfUp)
            ),
            unfit: unfit_reason(&p.architectures, p.ram_mb, architecture, windows),
            id: p.product_id,
            rate: p.hourly_rate,
        })
        .collect();
    let now = chrono::Utc::now();
    let held = db::budget::codes_of_user(conn, actor.user.id).await?;
    let groups = db::launch::groups_of_user(conn, actor.user.id).await?;
    let (codes, exhausted): (Vec<_>, Vec<_>) = db::budget::figures_for(conn, held, now)
        .await?
        .into_iter()
        .map(|(code, figures)| CodeOption { id: code.id, name: code.name, figures })
        .partition(|code| code.figures.offered_at_launch());
    Ok(Options {
        products,
        zones: db::launch::zones(conn, account.id).await?,
        firewalls: db::firewalls::list(conn, account.id)
            .await?
            .into_iter()
            .filter(db::firewalls::FirewallRow::is_ready)
            .filter_map(|f| Some((f.id, f.name, f.provider_id?)))
            .collect(),
        key_pairs: db::keypairs::list(conn, account.id)
            .await?
            .into_iter()
            .filter(db::keypairs::KeyPairRow::is_ready)
            .map(|k| k.name)
            .collect(),
        may_start: start_choices(actor.rights, actor.user.id, &groups, &codes),
        groups,
        codes,
        exhausted: exhausted.into_iter().map(|code| (code.id, code.name)).collect(),
    })
}

/// The volumes a launch asks the provider for, one per device of the group.
fn provider_volumes(group: &VolumeGroup, capabilities: Encryption) -> Vec<Volume> {
    group
        .device_names()
        .into_iter()
        .map(|device| Volume {
            device,
            size_gb: i32::from(group.size_gb()),
            encrypted: group.encrypted_by_provider(capabilities),
        })
        .collect()
}
