//! The launch dialog (PRODUCT 3.4): "NAME: Launch" with the tabs General,
//! Key Pair, Volume Configuration and Configuration Management.
//!
//! The whole form travels with every request, so the server decides
//! everything: Next and Prev validate the tab being left, Launch Server
//! validates all tabs (`domain::launch::validate`), and an error marks its
//! tab and shows at its field.
//! (With JavaScript, tabs switch without a request; without it they are
//! submit buttons.) Nothing is created until everything is valid; then the
//! server rows, their launch jobs and audit events are written in one
//! transaction. The form carries an idempotency key, so posting it twice
//! launches once.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use bigdecimal::BigDecimal;
use diesel_async::AsyncConnection as _;
use serde::Deserialize;

use super::layout::Frame;
use super::respond::{FlashFragment, html};
use super::{AppState, HtmlForm, is_htmx, see_other};
use crate::auth::CurrentUser;
use crate::changes::images::facts;
use crate::cloud::Volume;
use crate::db::{self, audit::NewAuditEvent, images::ImageRow, images::PublicImageRow};
use crate::domain::ValidationError;
use crate::domain::access::{Action, Resource};
use crate::domain::budget::BudgetFigures;
use crate::domain::cloud_init::{ConfigForm, ConfigManagement, Encryption, VolumeForm, VolumeGroup};
use crate::domain::image::{ImageAction, Label, Platform, may};
use crate::domain::keypair::KeyPairName;
use crate::domain::launch::{
    CodeOption, Count, KEY_PAIR_FIELDS, Launch, LaunchInput, Options, ProductOption, past_hard_quota, unfit_reason,
    validate,
};
use crate::jobs::RunInstancePayload;
use crate::web::error::WebError;
use crate::web::keypairs::KeyPairError;

/// Which image a launch starts from: a record of the account, or an image of
/// the public catalog (`?catalog=public`, by its catalog row id).
#[derive(Debug, Default, Deserialize)]
pub struct Catalog {
    #[serde(default)]
    catalog: String,
}

impl Catalog {
    fn public(&self) -> bool {
        self.catalog == "public"
    }
}

/// The image being launched, as the dialog needs it.
pub struct LaunchImage {
    pub name: String,
    pub provider_image_id: String,
    pub architecture: String,
    pub platform: Platform,
    pub deprecated: bool,
    /// One of the operator's provided images (the seed's enStratus templates).
    pub provided: bool,
    /// From the public catalog: launching adds it to My images.
    pub public: Option<PublicImageRow>,
    pub record: Option<ImageRow>,
    /// `/images/{id}/launch` with its catalog parameter.
    pub action: String,
}

impl LaunchImage {
    fn windows(&self) -> bool {
        self.platform == Platform::Windows
    }

    /// A path under the launch's, with the catalog parameter kept.
    fn sub(&self, path: &str) -> String {
        match self.action.split_once('?') {
            Some((base, query)) => format!("{base}/{path}?{query}"),
            None => format!("{}/{path}", self.action),
        }
    }

    pub fn cost_url(&self) -> String {
        self.sub("cost")
    }

    pub fn key_url(&self) -> String {
        self.sub("key-pair")
    }
}

/// The image `id`, if this user may launch it: 404 for another account's
/// record, 403 without the rights (IMAGE DefineServer — or
/// DefineServerFromPublic for a public image — and SERVER Start).
async fn launchable(user: &CurrentUser, state: &AppState, id: i64, catalog: &Catalog) -> Result<LaunchImage, WebError> {
    let mut conn = state.pool.get().await?;
    if catalog.public() {
        let account = &user.account;
        let row = db::images::find_public(&mut conn, &account.provider, &account.region, id).await?;
        let allowed = user.rights.allows_unowned(Resource::Image, Action::DefineServerFromPublic)
            && user.rights.allows_some(Resource::Server, Action::Start);
        if !allowed {
            return Err(WebError::Forbidden("Your role does not allow launching public images.".into()));
        }
        return Ok(LaunchImage {
            name: row.name.clone(),
            provider_image_id: row.provider_image_id.clone(),
            architecture: row.architecture.clone(),
            platform: Platform::from_stored(&row.platform),
            deprecated: row.deprecated_at.is_some(),
            provided: state.provided(&row.owner_account_number),
            action: format!("/images/{id}/launch?catalog=public"),
            public: Some(row),
            record: None,
        });
    }
    let row = db::images::find_record(&mut conn, user.account.id, id).await?;
    if !facts(&user.account, &row).is_some_and(|f| may(&user.rights, &f, ImageAction::Launch)) {
        return Err(WebError::Forbidden("Your role does not allow launching this image.".into()));
    }
    Ok(LaunchImage {
        name: row.name.clone(),
        provider_image_id: row.provider_image_id.clone(),
        architecture: row.architecture.clone(),
        platform: Platform::from_stored(&row.platform),
        deprecated: row.deprecated_at.is_some(),
        provided: row.source == "public_launched" && state.provided(&row.owner_account_number),
        action: format!("/images/{id}/launch"),
        public: None,
        record: Some(row),
    })
}

/// The form as typed; every field is parsed before use. It travels whole
/// with every step.
#[derive(Debug, Default, Deserialize)]
pub struct LaunchForm {
    /// `next`, `prev`, `launch`, or `tab:SLUG`.
    #[serde(default)]
    step: String,
    /// The tab the form was on.
    #[serde(default)]
    tab: String,
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    budget_code_id: String,
    #[serde(default)]
    group_id: String,
    #[serde(default)]
    zone: String,
    #[serde(default)]
    product_id: String,
    #[serde(default)]
    firewall_ids: Vec<String>,
    #[serde(default)]
    count: String,
    /// `none`, `existing` or `new`.
    #[serde(default)]
    key_choice: String,
    #[serde(default)]
    key_pair: String,
    #[serde(default)]
    new_key_name: String,
    #[serde(flatten)]
    volumes: VolumeForm,
    #[serde(flatten)]
    config: ConfigForm,
}

impl LaunchForm {
    /// The fields the launch's checks read.
    fn input(&self) -> LaunchInput<'_> {
        LaunchInput {
            name: &self.name,
            count: &self.count,
            description: &self.description,
            label: &self.label,
            budget_code_id: &self.budget_code_id,
            group_id: &self.group_id,
            zone: &self.zone,
            product_id: &self.product_id,
            firewall_ids: &self.firewall_ids,
            key_choice: &self.key_choice,
            key_pair: &self.key_pair,
            volumes: &self.volumes,
            config: &self.config,
        }
    }
}

/// The four tabs, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    General,
    KeyPair,
    Volumes,
    Config,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::General, Tab::KeyPair, Tab::Volumes, Tab::Config];

    pub fn slug(self) -> &'static str {
        match self {
            Tab::General => "general",
            Tab::KeyPair => "key-pair",
            Tab::Volumes => "volumes",
            Tab::Config => "config",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Tab::General => "General",
            Tab::KeyPair => "Key Pair",
            Tab::Volumes => "Volume Configuration",
            Tab::Config => "Configuration Management",
        }
    }

    fn from_slug(slug: &str) -> Option<Tab> {
        Tab::ALL.into_iter().find(|t| t.slug() == slug)
    }

    fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    /// The tab a field is on.
    fn of_field(field: &str) -> Tab {
        match field {
            f if KEY_PAIR_FIELDS.contains(&f) => Tab::KeyPair,
            "volumes" | "volume_count" | "volume_size_gb" | "raid_level" | "file_system" | "mount_point"
            | "encrypt" => Tab::Volumes,
            "config_type" | "script" | "config_server" | "config_repository" | "run_list" | "puppet_classes"
            | "playbook" | "config_environment" | "config_parameters" => Tab::Config,
            _ => Tab::General,
        }
    }
}

/// Messages at their fields.
#[derive(Debug, Default)]
pub struct Errors(Vec<ValidationError>);

impl Errors {
    pub fn at(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }

    pub fn on(&self, tab: &Tab) -> bool {
        self.0.iter().any(|e| Tab::of_field(e.field) == *tab)
    }

    fn first_tab(&self) -> Option<Tab> {
        Tab::ALL.into_iter().find(|t| self.on(t))
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn push(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push(ValidationError::new(field, message));
    }

    fn only(&self, tab: Tab) -> Errors {
        Errors(self.0.iter().filter(|e| Tab::of_field(e.field) == tab).cloned().collect())
    }
}

async fn options(state: &AppState, user: &CurrentUser, image: &LaunchImage) -> Result<Options, WebError> {
    let mut conn = state.pool.get().await?;
    let account = &user.account;
    let products = db::launch::products(&mut conn, account)
        .await?
        .into_iter()
        .map(|p| ProductOption {
            title: format!(
                "{} · {} vCPU · {} GiB · ${}/h",
                p.product_id,
                p.cpus,
                format_gib(p.ram_mb),
                p.hourly_rate.with_scale_round(4, bigdecimal::RoundingMode::HalfUp)
            ),
            unfit: unfit_reason(&p.architectures, p.ram_mb, &image.architecture, image.windows()),
            id: p.product_id,
            rate: p.hourly_rate,
        })
        .collect();
    let now = chrono::Utc::now();
    let held = db::budget::codes_of_user(&mut conn, user.user.id).await?;
    let codes = db::budget::figures_for(&mut conn, held, now)
        .await?
        .into_iter()
        .filter(|(_, figures)| figures.offered_at_launch())
        .map(|(code, figures)| CodeOption { id: code.id, name: code.name, figures })
        .collect();
    Ok(Options {
        products,
        zones: db::launch::zones(&mut conn, account.id).await?,
        firewalls: db::firewalls::list(&mut conn, account.id)
            .await?
            .into_iter()
            .filter(db::firewalls::FirewallRow::is_ready)
            .filter_map(|f| Some((f.id, f.name, f.provider_id?)))
            .collect(),
        key_pairs: db::keypairs::list(&mut conn, account.id)
            .await?
            .into_iter()
            .filter(db::keypairs::KeyPairRow::is_ready)
            .map(|k| k.name)
            .collect(),
        groups: db::launch::groups_of_user(&mut conn, user.user.id).await?,
        codes,
    })
}

fn format_gib(ram_mb: i64) -> String {
    let gib = ram_mb as f64 / 1024.0;
    if gib.fract() == 0.0 { format!("{gib:.0}") } else { format!("{gib:.1}") }
}

/// What the cost panel shows: the launch's hourly cost and the chosen
/// code's state once it runs.
pub struct Cost {
    pub hourly: Option<BigDecimal>,
    pub code: Option<String>,
    pub after: Option<BudgetFigures>,
}

impl Cost {
    fn of(form: &LaunchForm, options: &Options) -> Self {
        let count = Count::parse(&form.count).map_or(1, Count::get);
        let hourly =
            options.products.iter().find(|p| p.id == form.product_id).map(|p| &p.rate * BigDecimal::from(count));
        let code = options.codes.iter().find(|c| c.id.to_string() == form.budget_code_id);
        let after = code.zip(hourly.as_ref()).map(|(c, rate)| c.figures.after_launch(rate));
        Self { hourly, code: code.map(|c| c.name.clone()), after }
    }
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

/// What a server keeps of its volume group.
fn describe_volumes(group: &VolumeGroup) -> serde_json::Value {
    serde_json::json!({
        "count": group.count(), "size_gb": group.size_gb(), "raid": group.raid().as_str(),
        "file_system": group.file_system().as_str(), "mount_point": group.mount_point().as_str(),
        "encrypt": group.encrypt(),
    })
}

/// What a server (and the audit log) keeps of its configuration management:
/// where and what, never the script's text or the parameters' values,
/// which may hold secrets.
fn describe_config(config: &ConfigManagement) -> Option<serde_json::Value> {
    let names = |parameters: &[(String, String)]| parameters.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    match config {
        ConfigManagement::None => None,
        ConfigManagement::Script(script) => {
            Some(serde_json::json!({ "type": "script", "bytes": script.as_str().len() }))
        }
        ConfigManagement::Chef(chef) => Some(serde_json::json!({
            "type": "chef", "server": chef.server_url(), "run_list": chef.run_list(),
            "environment": chef.environment(), "parameters": names(chef.parameters()),
        })),
        ConfigManagement::Puppet(puppet) => Some(serde_json::json!({
            "type": "puppet", "server": puppet.server(), "classes": puppet.classes(),
            "environment": puppet.environment(), "parameters": names(puppet.parameters()),
        })),
        ConfigManagement::Ansible(ansible) => Some(serde_json::json!({
            "type": "ansible", "repository": ansible.repository(), "playbook": ansible.playbook(),
            "parameters": names(ansible.parameters()),
        })),
    }
}

/// A key pair just made for this launch: its private key, offered once.
pub struct NewKey {
    pub name: String,
    pub download: String,
}

#[derive(Template)]
#[template(path = "launch/dialog.html", blocks = ["form", "cost", "keys"])]
struct LaunchDialog {
    frame: Frame,
    image: LaunchImage,
    form: LaunchForm,
    options: Options,
    errors: Errors,
    tab: Tab,
    cost: Cost,
    new_key: Option<NewKey>,
    csrf_token: String,
    /// The provider encrypts volumes itself (else LUKS).
    provider_encryption: bool,
}

impl LaunchDialog {
    fn tabs(&self) -> Vec<TabView> {
        Tab::ALL.into_iter().map(|t| TabView { tab: t, current: t == self.tab, invalid: self.errors.on(&t) }).collect()
    }

    fn has_prev(&self) -> bool {
        self.tab.index() > 0
    }

    fn has_next(&self) -> bool {
        self.tab.index() + 1 < Tab::ALL.len()
    }

    fn firewall_checked(&self, id: &i64) -> bool {
        self.form.firewall_ids.iter().any(|f| *f == id.to_string())
    }

    fn labels(&self) -> &'static [Label] {
        &Label::ALL
    }
}

pub struct TabView {
    pub tab: Tab,
    pub current: bool,
    pub invalid: bool,
}

fn encryption(user: &CurrentUser) -> Encryption {
    let provider = crate::cloud::Capabilities::documented(&user.account.provider).is_some_and(|c| c.encrypted_volumes);
    if provider { Encryption::Provider } else { Encryption::Luks }
}

impl LaunchDialog {
    async fn new(
        state: &AppState,
        user: &CurrentUser,
        image: LaunchImage,
        form: LaunchForm,
        errors: Errors,
        tab: Tab,
    ) -> Result<Self, WebError> {
        let options = options(state, user, &image).await?;
        Ok(Self::with_options(user, image, form, options, errors, tab))
    }

    /// The dialog for options already loaded.
    fn with_options(
        user: &CurrentUser,
        image: LaunchImage,
        form: LaunchForm,
        options: Options,
        errors: Errors,
        tab: Tab,
    ) -> Self {
        let cost = Cost::of(&form, &options);
        Self {
            frame: Frame::new(user, "/images"),
            image,
            form,
            options,
            errors,
            tab,
            cost,
            new_key: None,
            csrf_token: user.csrf_token.clone(),
            provider_encryption: encryption(user) == Encryption::Provider,
        }
    }

    fn respond(&self, req: &HttpRequest, status: StatusCode) -> Result<HttpResponse, WebError> {
        let body = if is_htmx(req) { self.as_form().render() } else { self.render() };
        html(status, body)
    }
}

/// A first form: sensible choices the user can change.
fn defaults(image: &LaunchImage, options: &Options) -> LaunchForm {
    let name: String = image
        .name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ' '))
        .take(90)
        .collect();
    let name = if name.trim().is_empty() { "server".to_owned() } else { name.trim().to_owned() };
    LaunchForm {
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        name,
        count: "1".into(),
        budget_code_id: options.codes.first().map(|c| c.id.to_string()).unwrap_or_default(),
        product_id: options.products.iter().find(|p| p.unfit.is_none()).map(|p| p.id.clone()).unwrap_or_default(),
        firewall_ids: options
            .firewalls
            .iter()
            .filter(|(_, n, _)| n == "default")
            .map(|(id, _, _)| id.to_string())
            .collect(),
        key_choice: if image.windows() && !options.key_pairs.is_empty() { "existing".into() } else { "none".into() },
        key_pair: options.key_pairs.first().cloned().unwrap_or_default(),
        ..LaunchForm::default()
    }
}

#[get("/images/{id}/launch")]
pub async fn show(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    catalog: web::Query<Catalog>,
) -> Result<HttpResponse, WebError> {
    let image = launchable(&user, &state, id.into_inner(), &catalog).await?;
    let options = options(&state, &user, &image).await?;
    let form = defaults(&image, &options);
    let dialog = LaunchDialog::with_options(&user, image, form, options, Errors::default(), Tab::General);
    let body = if is_htmx(&req) { dialog.as_dialog_html() } else { dialog.render() };
    html(StatusCode::OK, body)
}

impl LaunchDialog {
    /// The dialog element around the form, for the modal slot.
    fn as_dialog_html(&self) -> askama::Result<String> {
        Ok(format!(
            r#"<dialog class="modal modal-wide" aria-labelledby="dialog-title">{}</dialog>"#,
            self.as_form().render()?
        ))
    }
}

#[post("/images/{id}/launch")]
pub async fn submit(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    catalog: web::Query<Catalog>,
    form: HtmlForm<LaunchForm>,
) -> Result<HttpResponse, WebError> {
    let image = launchable(&user, &state, id.into_inner(), &catalog).await?;
    let form = form.0;
    let current = Tab::from_slug(&form.tab).unwrap_or(Tab::General);
    let mut options = options(&state, &user, &image).await?;
    let checked = validate(&form.input(), image.windows(), &options, encryption(&user)).map_err(Errors);
    let step = form.step.clone();
    let (errors, tab, status) = match (step.as_str(), checked) {
        (step, _) if step.starts_with("tab:") => {
            (Errors::default(), Tab::from_slug(&step[4..]).unwrap_or(current), StatusCode::OK)
        }
        ("next" | "prev", checked) => {
            let errors = checked.err().map(|e| e.only(current)).unwrap_or_default();
            if errors.is_empty() {
                let to = if step == "next" { current.index() + 1 } else { current.index().saturating_sub(1) };
                (errors, Tab::ALL[to.min(Tab::ALL.len() - 1)], StatusCode::OK)
            } else {
                (errors, current, StatusCode::UNPROCESSABLE_ENTITY)
            }
        }
        (_, Err(errors)) => {
            let tab = errors.first_tab().unwrap_or(current);
            (errors, tab, StatusCode::UNPROCESSABLE_ENTITY)
        }
        (_, Ok(launch)) => match launch_servers(&req, &user, &state, &image, &form, launch).await? {
            Ok(launched) => return Ok(launched),
            // The code changed after the form was checked: the dialog again,
            // with the codes as they are now.
            Err(refused) => {
                options = self::options(&state, &user, &image).await?;
                let mut errors = Errors::default();
                errors.push("budget_code_id", refused);
                let tab = errors.first_tab().unwrap_or(current);
                (errors, tab, StatusCode::CONFLICT)
            }
        },
    };
    LaunchDialog::with_options(&user, image, form, options, errors, tab).respond(&req, status)
}

/// Writes the servers, their launch jobs and audit events in one
/// transaction; the same form posted twice launches once. The budget code
/// is locked and checked again inside it: it may have been deactivated, or
/// filled by another launch, since the form was checked.
async fn launch_servers(
    req: &HttpRequest,
    user: &CurrentUser,
    state: &AppState,
    image: &LaunchImage,
    form: &LaunchForm,
    launch: Launch,
) -> Result<Result<HttpResponse, String>, WebError> {
    let key = match uuid::Uuid::parse_str(&form.idempotency_key) {
        Ok(key) => key.to_string(),
        Err(_) => return Err(WebError::BadRequest("The form lacks its launch key; open the dialog again.".into())),
    };
    let account = &user.account;
    let count = launch.names.len();
    let volumes = launch.volume_group.as_ref().map(|g| provider_volumes(g, encryption(user))).unwrap_or_default();
    let mut conn = state.pool.get().await?;
    let launched = conn
        .transaction::<_, LaunchError, _>(async |conn| {
            if db::jobs::key_used(conn, &format!("{key}/1")).await? {
                return Err(LaunchError::Again);
            }
            let Some(code) = db::budget::lock_held(conn, user.user.id, launch.budget_code_id).await? else {
                return Err(LaunchError::Budget(
                    "This budget code was deactivated or withdrawn meanwhile: choose another.".into(),
                ));
            };
            let figures = db::budget::figures_for(conn, vec![code], chrono::Utc::now()).await?;
            let (code, figures) = figures.first().expect("figures_for answers for every code it is given");
            let cost = &launch.rate * BigDecimal::from(u64::try_from(count).unwrap_or(u64::MAX));
            if let Err(over) = figures.check_launch(&cost) {
                return Err(LaunchError::Budget(past_hard_quota(&code.name, &over)));
            }
            let (record, image_pk) = match (&image.record, &image.public) {
                (Some(record), _) => (record.id, record.image_pk),
                (None, Some(public)) => db::launch::record_public_launch(conn, account, public, user.user.id).await?,
                (None, None) => return Err(LaunchError::Web(WebError::NotFound)),
            };
            let volume_config = launch.volume_group.as_ref().map(describe_volumes);
            let config_management = describe_config(&launch.config);
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
                        owner_user_id: Some(user.user.id),
                        owner_group_id: launch.group_id,
                        budget_code_id: launch.budget_code_id,
                        hourly_rate: launch.rate.clone(),
                        provider_instance_id: None,
                        private_ip: None,
                        state: "PENDING",
                    },
                )
                .await?;
                db::servers::configure(
                    conn,
                    server,
                    launch.label.as_str(),
                    &launch.firewalls.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
                    launch.key_name.as_deref(),
                    volume_config.clone(),
                    config_management.clone(),
                )
                .await?;
                let job = RunInstancePayload {
                    image_id: image.provider_image_id.clone(),
                    instance_type: launch.product_id.clone(),
                    name: name.clone(),
                    zone: launch.zone.clone(),
                    security_groups: launch.firewalls.iter().map(|(_, provider)| provider.clone()).collect(),
                    key_name: launch.key_name.clone(),
                    user_data: launch.user_data.clone(),
                    volumes: volumes.clone(),
                    server_id: Some(server),
                };
                // Taken meanwhile by the same form posted twice: undo this copy.
                if !db::jobs::enqueue_keyed(
                    conn,
                    &job.job(account.id, state.job_attempts()),
                    &format!("{key}/{}", n + 1),
                )
                .await?
                {
                    return Err(LaunchError::Again);
                }
                let changes = serde_json::json!({
                    "name": name, "image": image.provider_image_id, "product": launch.product_id,
                    "budget_code_id": launch.budget_code_id, "key_pair": launch.key_name,
                    "volumes": volume_config, "configuration": config_management,
                });
                let event = NewAuditEvent {
                    account_id: Some(account.id),
                    user_id: Some(user.user.id),
                    action: "launch",
                    resource: "SERVER",
                    resource_id: Some(server.to_string()),
                    outcome: "success",
                    changes,
                };
                db::audit::record(conn, &event).await?;
            }
            Ok(())
        })
        .await;
    match launched {
        Ok(()) => {}
        Err(LaunchError::Again) => tracing::info!(key, "a launch form was posted again; nothing more was launched"),
        Err(LaunchError::Budget(refused)) => return Ok(Err(refused)),
        Err(LaunchError::Web(e)) => return Err(e),
    }
    let message = if count == 1 { "Launching 1 server".to_owned() } else { format!("Launching {count} servers") };
    if !is_htmx(req) {
        crate::auth::current::flash_next(req, &message)?;
        return Ok(Ok(see_other("/servers")));
    }
    let flash = FlashFragment { message: &message }.render()?;
    Ok(Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("HX-Trigger", "close-dialog"))
        .insert_header(("HX-Reswap", "none"))
        .body(flash)))
}

/// Why a launch transaction stopped.
enum LaunchError {
    /// This form was launched already (posted twice).
    Again,
    /// The budget code can no longer take this launch; the message is for
    /// its field.
    Budget(String),
    Web(WebError),
}

impl From<diesel::result::Error> for LaunchError {
    fn from(e: diesel::result::Error) -> Self {
        LaunchError::Web(e.into())
    }
}

/// The cost panel for the choices so far (updated as they change).
#[post("/images/{id}/launch/cost")]
pub async fn estimate(
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    catalog: web::Query<Catalog>,
    form: HtmlForm<LaunchForm>,
) -> Result<HttpResponse, WebError> {
    let image = launchable(&user, &state, id.into_inner(), &catalog).await?;
    let dialog = LaunchDialog::new(&state, &user, image, form.0, Errors::default(), Tab::General).await?;
    html(StatusCode::OK, dialog.as_cost().render())
}

/// Creates a key pair at the provider for this launch and selects it; the
/// private key is offered once, for download.
#[post("/images/{id}/launch/key-pair")]
pub async fn create_key(
    user: CurrentUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    catalog: web::Query<Catalog>,
    form: HtmlForm<LaunchForm>,
) -> Result<HttpResponse, WebError> {
    let image = launchable(&user, &state, id.into_inner(), &catalog).await?;
    user.require(Resource::Keypair, Action::Configure)?;
    let mut form = form.0;
    let name = match KeyPairName::parse(&form.new_key_name) {
        Ok(name) => name,
        Err(e) => {
            let errors = Errors(vec![ValidationError::new("new_key_name", e.message)]);
            let dialog = LaunchDialog::new(&state, &user, image, form, errors, Tab::KeyPair).await?;
            return html(StatusCode::UNPROCESSABLE_ENTITY, dialog.as_keys().render());
        }
    };
    let created = match super::keypairs::create_key_pair(&state, &user, &name).await {
        Ok(created) => created,
        Err(KeyPairError::Web(e)) => return Err(e),
        Err(problem) => {
            // A name taken, or the provider's refusal: at the field.
            let status = problem.status();
            let message = match problem {
                KeyPairError::Invalid(e) => e.message,
                other => other.to_string(),
            };
            let errors = Errors(vec![ValidationError::new("new_key_name", message)]);
            let dialog = LaunchDialog::new(&state, &user, image, form, errors, Tab::KeyPair).await?;
            return html(status, dialog.as_keys().render());
        }
    };
    form.key_choice = "existing".into();
    form.key_pair = created.name.as_str().to_owned();
    form.new_key_name.clear();
    let mut dialog = LaunchDialog::new(&state, &user, image, form, Errors::default(), Tab::KeyPair).await?;
    dialog.new_key = Some(NewKey { name: created.name.as_str().to_owned(), download: created.private_key.data_url() });
    html(StatusCode::OK, dialog.as_keys().render())
}
