//! The demo world of PRODUCT.md section 6, loaded by `--demo` into an empty
//! database (and by the tests, each with provider accounts of its own).
//!
//! Images are made at the provider: for every demo account a server is
//! launched from a public image, imaged, and (but for one) terminated; one
//! image is shared from Production to Staging. Then the provider's view is
//! written into PostgreSQL with the console's own metadata (labels, owners,
//! budget codes, one deprecation), and the public catalog is synced.

use chrono::{DateTime, Duration, TimeZone, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::auth::password;
use crate::cloud::ec2::Ec2Provider;
use crate::cloud::{CloudProvider, Credentials, ImageState, LaunchPermission, ProviderImage, RunRequest};
use crate::db::accounts::Account;
use crate::db::onboarding::{self, hold_code, join_group};
use crate::db::schema::*;
use crate::db::sync::{NewProviderImage, ReportedImage, public_image};
use crate::jobs::JobSettings;
use crate::jobs::sync::reported;

pub const PASSWORD: &str = "demo-password-1";

/// Ids of what the demo created, for tests.
#[derive(Debug, Clone)]
pub struct Demo {
    pub acme_production: i64,
    pub acme_staging: i64,
    pub globex_main: i64,
    pub numbers: ProviderAccounts,
}

/// The provider account numbers of the three demo accounts.
#[derive(Debug, Clone)]
pub struct ProviderAccounts {
    pub production: String,
    pub staging: String,
    pub globex: String,
}

impl Default for ProviderAccounts {
    fn default() -> Self {
        Self { production: "111111111111".into(), staging: "222222222222".into(), globex: "333333333333".into() }
    }
}

/// Loads the demo data when the database has no company yet. Returns whether
/// it loaded.
pub async fn load_if_empty(conn: &mut AsyncPgConnection, settings: &JobSettings) -> anyhow::Result<bool> {
    let companies: i64 = companies::table.count().get_result(conn).await?;
    if companies > 0 {
        return Ok(false);
    }
    load(conn, settings, &ProviderAccounts::default()).await?;
    Ok(true)
}

fn at(days_ago: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 9, 30, 0).single().expect("a valid date") - Duration::days(days_ago)
}

struct UserSpec {
    email: &'static str,
    given: &'static str,
    family: &'static str,
    group: &'static str,
    codes: &'static [&'static str],
}

struct ImageSpec {
    name: &'static str,
    description: &'static str,
    platform: &'static str,
    arch: &'static str,
    label: &'static str,
    owner: &'static str,
    code: &'static str,
    deprecated: bool,
    days_ago: i64,
}

#[expect(clippy::too_many_arguments, reason = "one call per row keeps the demo table readable")]
const fn image(
    name: &'static str,
    description: &'static str,
    platform: &'static str,
    arch: &'static str,
    label: &'static str,
    owner: &'static str,
    code: &'static str,
    days_ago: i64,
) -> ImageSpec {
    ImageSpec { name, description, platform, arch, label, owner, code, deprecated: false, days_ago }
}

const PRODUCTION_IMAGES: &[ImageSpec] = &[
    image(
        "web-frontend-2026.11",
        "Nginx and the storefront, hardened",
        "UBUNTU",
        "x86_64",
        "green",
        "admin@acme.test",
        "Default",
        3,
    ),
    image(
        "api-server-base",
        "Base image of the API fleet",
        "UBUNTU",
        "x86_64",
        "blue",
        "manager@acme.test",
        "Operations",
        12,
    ),
    image(
        "postgres-15-primary",
        "PostgreSQL 15 with WAL archiving",
        "DEBIAN",
        "x86_64",
        "flagred",
        "manager@acme.test",
        "Operations",
        20,
    ),
    image("batch-worker", "Nightly batch jobs", "AMAZON", "arm64", "iconstar", "admin@acme.test", "Default", 34),
    ImageSpec {
        deprecated: true,
        ..image(
            "legacy-php-app",
            "Replaced by web-frontend; kept for rollback",
            "CENT_OS",
            "x86_64",
            "gray",
            "admin@acme.test",
            "Default",
            400,
        )
    },
    image(
        "windows-build-agent",
        "CI agent with Visual Studio Build Tools",
        "WINDOWS",
        "x86_64",
        "none",
        "manager@acme.test",
        "Operations",
        45,
    ),
    image(
        "edge-cache-arm",
        "Varnish on Graviton",
        "DEBIAN",
        "arm64",
        "tagpurple",
        "manager@acme.test",
        "Operations",
        60,
    ),
    image(
        "ubuntu-hardened-cis",
        "CIS level 1 baseline",
        "UBUNTU",
        "x86_64",
        "yellow",
        "admin@acme.test",
        "Default",
        90,
    ),
    image(
        "rhel-9-sap-base",
        "RHEL 9 for the SAP landscape",
        "RHEL",
        "x86_64",
        "iconkey",
        "admin@acme.test",
        "Default",
        120,
    ),
];

const STAGING_IMAGES: &[ImageSpec] = &[
    image(
        "staging-web-frontend",
        "Release candidate of the storefront",
        "UBUNTU",
        "x86_64",
        "green",
        "admin@acme.test",
        "Default",
        2,
    ),
    image(
        "load-test-runner",
        "k6 and Locust",
        "FEDORA_CORE",
        "x86_64",
        "orange",
        "manager@acme.test",
        "Operations",
        15,
    ),
    image(
        "bug-repro-4711",
        "Reproduces the checkout timeout",
        "UBUNTU",
        "x86_64",
        "iconbug",
        "configurator@acme.test",
        "Default",
        8,
    ),
];

const GLOBEX_IMAGES: &[ImageSpec] = &[
    image("hammock-district-web", "Public website", "UBUNTU", "x86_64", "blue", "admin@globex.test", "Default", 5),
    image("cypress-creek-db", "Operations database", "DEBIAN", "x86_64", "red", "admin@globex.test", "Default", 25),
    image(
        "volcano-lair-monitoring",
        "Prometheus and Grafana",
        "AMAZON",
        "arm64",
        "flaggreen",
        "admin@globex.test",
        "Default",
        40,
    ),
];

/// The image Production shares with Staging, and Staging's name for it.
/// The Staging image the demo leaves in the recycle bin.
const BINNED: &str = "load-test-runner";
/// The Production image the demo protects, and the one it schedules to retire.
const PROTECTED: &str = "rhel-9-sap-base";
const RETIRING: &str = "legacy-php-app";

const SHARED: (&str, &str, &str) = ("api-server-base", "api-server-base (from Production)", "purple");

/// What the provider made for one account: its images by name, and the
/// server left running.
struct Made {
    number: String,
    images: Vec<(&'static str, ProviderImage)>,
    /// The public image each image was made from (a server launched from it).
    bases: Vec<(String, ProviderImage)>,
    running: Option<Running>,
}

/// A demo server left running, and the public image it was launched from.
struct Running {
    name: String,
    instance: crate::cloud::Instance,
    base: ProviderImage,
}

/// Makes the demo images at the provider: a server per image, launched from
/// a public image of the right platform and architecture, imaged, then
/// terminated (the first server of each account keeps running). The three
/// accounts are made at once.
async fn make_at_provider(
    settings: &JobSettings,
    numbers: &ProviderAccounts,
    external_ids: &ExternalIds,
) -> anyhow::Result<(Vec<Made>, Vec<ProviderImage>)> {
    let connect = async |number: &str, external_id: &str| {
        let credentials = Credentials::AssumeRole { role_arn: role_arn(number), external_id: external_id.to_owned() };
        Ec2Provider::connect(&settings.reach(REGION, None, credentials)).await
    };
    let public: Vec<ProviderImage> = connect(&numbers.production, &external_ids.acme)
        .await?
        .list_public_images()
        .await?
        .into_iter()
        .filter(|i| i.public)
        .collect();
    let account = async |number: &String, specs: &'static [ImageSpec], external_id: &str| {
        let ec2 = connect(number, external_id).await?;
        make_account(ec2.as_ref(), number, specs, &public, number == &numbers.staging).await
    };
    // Boxed: three SDK call chains side by side are too big for a test thread's stack.
    let (production, staging, globex) = tokio::try_join!(
        Box::pin(account(&numbers.production, PRODUCTION_IMAGES, &external_ids.acme)),
        Box::pin(account(&numbers.staging, STAGING_IMAGES, &external_ids.acme)),
        Box::pin(account(&numbers.globex, GLOBEX_IMAGES, &external_ids.globex)),
    )?;
    if let Some((_, shared)) = production.images.iter().find(|(name, _)| *name == SHARED.0) {
        let ec2 = connect(&numbers.production, &external_ids.acme).await?;
        ec2.add_launch_permission(&shared.id, &LaunchPermission::Account(numbers.staging.clone())).await?;
    }
    Ok((vec![production, staging, globex], public))
}

/// The demo images of one account (`staging` builds its first on a bigger
/// server, the one that puts a budget code past its quota).
async fn make_account(
    ec2: &Ec2Provider,
    number: &str,
    specs: &'static [ImageSpec],
    public: &[ProviderImage],
    staging: bool,
) -> anyhow::Result<Made> {
    let mut images = Vec::new();
    let mut bases = Vec::new();
    let mut running = None;
    for (n, spec) in specs.iter().enumerate() {
        let base = base_image(public, spec)?;
        let server = ec2
            .run_instance(&RunRequest {
                image_id: base.id.clone(),
                instance_type: builder_type(staging && n == 0, spec.arch).into(),
                zone: None,
                security_groups: Vec::new(),
                key_name: None,
                user_data: None,
                volumes: Vec::new(),
                name: format!("{}-builder", spec.name),
                idempotency_key: format!("demo/{number}/{}", spec.name),
            })
            .await?;
        let id = ec2.create_image(&server.id, spec.name, spec.description).await?;
        if n > 0 {
            ec2.terminate_instance(&server.id).await?;
        } else {
            running = Some(Running { name: format!("{}-builder", spec.name), instance: server, base: base.clone() });
        }
        let image = ec2.describe_image(&id).await?.ok_or_else(|| anyhow::anyhow!("image {id} vanished"))?;
        images.push((spec.name, image));
        bases.push((id, base.clone()));
    }
    Ok(Made { number: number.to_owned(), images, bases, running })
}

/// A public image to build a demo image from.
fn base_image<'a>(public: &'a [ProviderImage], spec: &ImageSpec) -> anyhow::Result<&'a ProviderImage> {
    let windows = spec.platform == "WINDOWS";
    let fits =
        |i: &&ProviderImage| i.windows == windows && i.architecture == spec.arch && i.state == ImageState::Available;
    let wanted = spec.platform.to_lowercase();
    public
        .iter()
        .filter(fits)
        .find(|i| i.name.to_lowercase().contains(&wanted))
        .or_else(|| public.iter().find(fits))
        .ok_or_else(|| anyhow::anyhow!("the provider offers no {} {} image to start from", spec.platform, spec.arch))
}

const REGION: &str = "us-east-1";

/// The role the console assumes in each demo account (and the one the
/// README tells an administrator to create): `arn:aws:iam::NUMBER:role/StratusConsole`.
pub fn role_arn(number: &str) -> String {
    format!("arn:aws:iam::{number}:role/StratusConsole")
}

/// The external IDs of the demo's two companies, made before the companies
/// are written: the images are made at the provider first, through the
/// very connection the console uses afterwards.
struct ExternalIds {
    acme: String,
    globex: String,
}

/// Loads everything: the images at the provider first, then one transaction.
pub async fn load(
    conn: &mut AsyncPgConnection,
    settings: &JobSettings,
    numbers: &ProviderAccounts,
) -> anyhow::Result<Demo> {
    let external_ids = ExternalIds { acme: onboarding::new_external_id(), globex: onboarding::new_external_id() };
    let (made, public) = make_at_provider(settings, numbers, &external_ids).await?;
    // Hash outside the transaction: it is slow on purpose.
    let hash = password::hash(PASSWORD).map_err(|e| anyhow::anyhow!("hashing the demo password: {e}"))?;
    conn.transaction(async |conn| load_in(conn, &hash, numbers, &external_ids, &made, &public).await).await
}

async fn load_in(
    conn: &mut AsyncPgConnection,
    hash: &str,
    numbers: &ProviderAccounts,
    external_ids: &ExternalIds,
    made: &[Made],
    public: &[ProviderImage],
) -> anyhow::Result<Demo> {
    let acme = onboarding::insert_company(conn, "Acme", &external_ids.acme).await?;
    let globex = onboarding::insert_company(conn, "Globex", &external_ids.globex).await?;
    let acme_production = account(conn, acme, "Acme Production", &numbers.production).await?;
    let acme_staging = account(conn, acme, "Acme Staging", &numbers.staging).await?;
    let globex_main = account(conn, globex, "Globex Main", &numbers.globex).await?;
    let acme_roles = onboarding::insert_default_roles(conn, acme).await?;
    let globex_roles = onboarding::insert_default_roles(conn, globex).await?;
    let role = |roles: &[(String, i64)], name: &str| roles.iter().find(|(n, _)| n == name).map(|(_, id)| *id);

    let mut acme_groups = Vec::new();
    for (name, role_name, description) in [
        ("Admin", "Admin", "Administrators of the Acme accounts"),
        ("Ops", "CloudManager", "Operations: runs the servers"),
        ("Config", "Configurator", "Keeps images and servers configured"),
        ("Support", "CSR", "Customer support, read only"),
    ] {
        let role_id = role(&acme_roles, role_name).expect("default roles exist");
        // Administrators administer the accounts they connect.
        let in_new = (name == "Admin").then_some(role_id);
        let group = onboarding::insert_group(conn, acme, name, description, in_new).await?;
        for account in [acme_production, acme_staging] {
            give_role(conn, group, account, role_id).await?;
        }
        acme_groups.push((name, group));
    }
    let globex_admin_role = role(&globex_roles, "Admin").expect("default roles exist");
    let globex_admin =
        onboarding::insert_group(conn, globex, "Admin", "Administrators of Globex", Some(globex_admin_role)).await?;
    give_role(conn, globex_admin, globex_main, globex_admin_role).await?;

    let mut acme_codes = Vec::new();
    for (name, finance, soft, hard, description) in [
        ("Default", "CC-1000", "5000", "10000", "Everyday work"),
        ("Operations", "CC-2000", "1000", "2000", "Production operations"),
        ("Exhausted", "CC-9000", "50", "100", "Over its hard quota: never offered at launch"),
    ] {
        acme_codes.push((name, budget_code(conn, acme, name, finance, soft, hard, description).await?));
    }
    let globex_default = budget_code(conn, globex, "Default", "GX-100", "5000", "10000", "Everyday work").await?;

    let acme_users = [
        UserSpec {
            email: "admin@acme.test",
            given: "Alex",
            family: "Morgan",
            group: "Admin",
            codes: &["Default", "Operations", "Exhausted"],
        },
        UserSpec {
            email: "manager@acme.test",
            given: "Jordan",
            family: "Lee",
            group: "Ops",
            codes: &["Default", "Operations", "Exhausted"],
        },
        UserSpec {
            email: "configurator@acme.test",
            given: "Sam",
            family: "Patel",
            group: "Config",
            codes: &["Default"],
        },
        UserSpec { email: "viewer@acme.test", given: "Riley", family: "Chen", group: "Support", codes: &["Default"] },
    ];
    let mut acme_people = Vec::new();
    for spec in &acme_users {
        let user = user(conn, acme, spec.email, spec.given, spec.family, hash).await?;
        let group = acme_groups.iter().find(|(n, _)| *n == spec.group).map(|(_, id)| *id).expect("group exists");
        join_group(conn, group, user).await?;
        for code in spec.codes {
            let code = acme_codes.iter().find(|(n, _)| n == code).map(|(_, id)| *id).expect("code exists");
            hold_code(conn, user, code).await?;
        }
        for account in [acme_production, acme_staging] {
            crate::db::accounts::add_member(conn, account, user).await?;
        }
        acme_people.push((spec.email, user, group));
    }
    let hank = user(conn, globex, "admin@globex.test", "Hank", "Scorpio", hash).await?;
    join_group(conn, globex_admin, hank).await?;
    hold_code(conn, hank, globex_default).await?;
    crate::db::accounts::add_member(conn, globex_main, hank).await?;

    let person =
        |email: &str| acme_people.iter().find(|(e, _, _)| *e == email).map(|&(_, u, g)| (u, g)).expect("user exists");
    let code = |name: &str| acme_codes.iter().find(|(n, _)| *n == name).map(|(_, id)| *id).expect("code exists");

    let owner_of = |email: &str| -> (i64, i64, i64) {
        if email == "admin@globex.test" {
            return (hank, globex_admin, globex_default);
        }
        let (user, group) = person(email);
        (user, group, 0)
    };

    // The provider's view first, as a sync writes it; then the console's own
    // metadata on top.
    for (Made { number, images, bases, running }, (account, specs)) in made.iter().zip([
        (acme_production, PRODUCTION_IMAGES),
        (acme_staging, STAGING_IMAGES),
        (globex_main, GLOBEX_IMAGES),
    ]) {
        let account_row = crate::db::accounts::find(conn, account).await?;
        let reported: Vec<ReportedImage> = images.iter().map(|(_, image)| reported(image.clone())).collect();
        crate::db::sync::own_images(conn, &account_row, &reported).await?;
        for spec in specs {
            let (_, image) = images.iter().find(|(name, _)| *name == spec.name).expect("made above");
            let (user, group, globex_code) = owner_of(spec.owner);
            let budget = if globex_code != 0 { globex_code } else { code(spec.code) };
            describe(conn, account, &image.id, spec, user, group, budget).await?;
        }
        for (image, base) in bases {
            record_parent(conn, &account_row, image, base).await?;
        }
        if let (Some(running), Some(first)) = (running, specs.first()) {
            let (user, group, globex_code) = owner_of(first.owner);
            // Staging's big builder, running since last month, is billed to
            // Exhausted: that is what puts the code past its hard quota.
            let (budget, since) = match globex_code {
                0 if account == acme_staging => (code("Exhausted"), at(30)),
                0 => (code(first.code), at(2)),
                globex => (globex, at(2)),
            };
            record_server(conn, &account_row, running, (user, group, budget), since).await?;
        }
        debug_assert_eq!(number, &account_row.provider_account_number);
    }
    let shared = <[_]>::first(made)
        .and_then(|made| made.images.iter().find(|(name, _)| *name == SHARED.0))
        .map(|(_, image)| image.id.clone())
        .expect("Production made the shared image");
    let shared_image: i64 = provider_images::table
        .filter(provider_images::provider_image_id.eq(&shared))
        .select(provider_images::id)
        .first(conn)
        .await?;
    let (admin, admin_group) = person("admin@acme.test");
    diesel::insert_into(image_records::table)
        .values((
            image_records::account_id.eq(acme_staging),
            image_records::provider_image_id.eq(shared_image),
            image_records::name.eq(SHARED.1),
            image_records::description.eq("Shared by Acme Production"),
            image_records::label.eq(SHARED.2),
            image_records::owner_user_id.eq(admin),
            image_records::owner_group_id.eq(admin_group),
            image_records::budget_code_id.eq(code("Default")),
            image_records::source.eq("shared"),
            image_records::created_at.eq(at(10)),
        ))
        .execute(conn)
        .await?;

    // Staging deleted one of its images yesterday: it waits in the recycle
    // bin for the company's retention (7 days), restorable until then.
    let binned = made
        .get(1)
        .and_then(|made| made.images.iter().find(|(name, _)| *name == BINNED))
        .map(|(_, image)| image.id.clone())
        .expect("Staging made the binned image");
    let now = Utc::now();
    diesel::update(provider_images::table.filter(provider_images::provider_image_id.eq(&binned)))
        .set((
            provider_images::binned_at.eq(now - Duration::days(1)),
            provider_images::binned_by.eq(admin),
            provider_images::purge_after.eq(now + Duration::days(6)),
        ))
        .execute(conn)
        .await?;

    // Production keeps its SAP base protected, and has scheduled the
    // retirement of its deprecated PHP image a month ahead.
    let production_image = |name: &str| {
        made[0].images.iter().find(|(n, _)| *n == name).map(|(_, image)| image.id.clone()).expect("Production made it")
    };
    diesel::update(provider_images::table.filter(provider_images::provider_image_id.eq(production_image(PROTECTED))))
        .set(provider_images::protected.eq(true))
        .execute(conn)
        .await?;
    diesel::update(provider_images::table.filter(provider_images::provider_image_id.eq(production_image(RETIRING))))
        .set(provider_images::retire_on.eq(now.date_naive() + Duration::days(30)))
        .execute(conn)
        .await?;

    let catalog: Vec<ReportedImage> = public.iter().cloned().map(reported).collect();
    crate::db::sync::public_catalog(conn, "ec2", REGION, &catalog).await?;
    for account in [acme_production, acme_staging, globex_main] {
        crate::db::sync::mark_synced(conn, account).await?;
    }
    Ok(Demo { acme_production, acme_staging, globex_main, numbers: numbers.clone() })
}

/// Records the lineage of `image_id`, made from a server launched from the
/// public image `base`, as Make Image records it.
async fn record_parent(
    conn: &mut AsyncPgConnection,
    account: &Account,
    image_id: &str,
    base: &ProviderImage,
) -> anyhow::Result<()> {
    let base = reported(base.clone());
    let parent =
        public_image(conn, &NewProviderImage { is_public: true, ..NewProviderImage::reported(account, &base) }).await?;
    diesel::update(
        provider_images::table
            .filter(provider_images::provider.eq(&account.provider))
            .filter(provider_images::region.eq(&account.region))
            .filter(provider_images::provider_image_id.eq(image_id)),
    )
    .set(provider_images::parent_id.eq(parent))
    .execute(conn)
    .await?;
    Ok(())
}

/// Records the server left running: launched from a public image, which
/// thereby joins the account's images (`public_launched`), as a launch from
/// the public catalog does.
async fn record_server(
    conn: &mut AsyncPgConnection,
    account: &Account,
    running: &Running,
    (user, group, budget): (i64, i64, i64),
    since: DateTime<Utc>,
) -> anyhow::Result<()> {
    let base = reported(running.base.clone());
    let image =
        public_image(conn, &NewProviderImage { is_public: true, ..NewProviderImage::reported(account, &base) }).await?;
    let record: i64 = diesel::insert_into(image_records::table)
        .values((
            image_records::account_id.eq(account.id),
            image_records::provider_image_id.eq(image),
            image_records::name.eq(&base.name),
            image_records::description.eq(&base.description),
            image_records::owner_user_id.eq(user),
            image_records::owner_group_id.eq(group),
            image_records::budget_code_id.eq(budget),
            image_records::source.eq("public_launched"),
            image_records::created_at.eq(at(20)),
        ))
        .returning(image_records::id)
        .get_result(conn)
        .await?;
    let instance = &running.instance;
    let rate = crate::jobs::sync::shipped_prices()
        .into_iter()
        .find(|(product, _)| *product == instance.instance_type)
        .map(|(_, rate)| rate)
        .unwrap_or_default();
    let server = crate::db::servers::insert(
        conn,
        &crate::db::servers::NewServer {
            account_id: account.id,
            image_record_id: Some(record),
            provider_image_id: image,
            name: &running.name,
            description: "Built the first demo image; still running",
            product_id: &instance.instance_type,
            zone: instance.zone.as_deref(),
            owner_user_id: Some(user),
            owner_group_id: Some(group),
            budget_code_id: budget,
            hourly_rate: rate,
            provider_instance_id: Some(&instance.id),
            private_ip: instance.private_ip.as_deref(),
            state: crate::domain::servers::ServerState::Running.as_str(),
        },
    )
    .await?;
    diesel::update(servers::table.find(server))
        .set((servers::launched_at.eq(since), servers::ready_at.eq(since)))
        .execute(conn)
        .await?;
    Ok(())
}

/// The size of a demo image's builder server: small, but the one Staging
/// keeps running is a big one (it spends the Exhausted budget code).
fn builder_type(kept_in_staging: bool, arch: &str) -> &'static str {
    match (kept_in_staging, arch) {
        (true, "arm64") => "m6g.xlarge",
        (true, _) => "m5.xlarge",
        (false, "arm64") => "t4g.small",
        (false, _) => "t3.small",
    }
}

/// Gives a demo image its console metadata: label, owner, budget code,
/// platform (known from the server it was made from), age, deprecation.
async fn describe(
    conn: &mut AsyncPgConnection,
    account: i64,
    provider_id: &str,
    spec: &ImageSpec,
    user: i64,
    group: i64,
    budget: i64,
) -> QueryResult<()> {
    let created = at(spec.days_ago);
    let image: i64 = diesel::update(provider_images::table.filter(provider_images::provider_image_id.eq(provider_id)))
        .set((
            provider_images::platform.eq(spec.platform),
            provider_images::created_at.eq(created),
            provider_images::min_disk_gb.eq(if spec.platform == "WINDOWS" { 30 } else { 8 }),
        ))
        .returning(provider_images::id)
        .get_result(conn)
        .await?;
    diesel::update(
        image_records::table
            .filter(image_records::account_id.eq(account))
            .filter(image_records::provider_image_id.eq(image)),
    )
    .set((
        image_records::label.eq(spec.label),
        image_records::owner_user_id.eq(user),
        image_records::owner_group_id.eq(group),
        image_records::budget_code_id.eq(budget),
        image_records::deprecated_at.eq(spec.deprecated.then(|| at(spec.days_ago / 2))),
        image_records::created_at.eq(created),
    ))
    .execute(conn)
    .await
    .map(drop)
}

/// A company of one: what a test that starts from an empty world adds
/// first. One account (provider account `number`), the default roles, the
/// group Admin with the role Admin there, the budget code Default, and its
/// administrator `email` (password [`PASSWORD`]) in both.
#[derive(Debug, Clone, Copy)]
pub struct CompanyOfOne {
    pub company: i64,
    pub account: i64,
    pub admin: i64,
    pub admin_group: i64,
    pub budget_code: i64,
}

pub async fn company_of_one(
    conn: &mut AsyncPgConnection,
    name: &str,
    email: &str,
    number: &str,
) -> anyhow::Result<CompanyOfOne> {
    let hash = password::hash(PASSWORD).map_err(|e| anyhow::anyhow!("hashing the demo password: {e}"))?;
    let company = onboarding::insert_company(conn, name, &onboarding::new_external_id()).await?;
    let account = account(conn, company, &format!("{name} Main"), number).await?;
    let admin_role = onboarding::insert_default_roles(conn, company)
        .await?
        .into_iter()
        .find_map(|(n, id)| (n == "Admin").then_some(id))
        .expect("the default roles include Admin");
    let admin_group =
        onboarding::insert_group(conn, company, "Admin", &format!("Administrators of {name}"), Some(admin_role))
            .await?;
    give_role(conn, admin_group, account, admin_role).await?;
    let budget_code = budget_code(conn, company, "Default", "CC-1000", "5000", "10000", "Everyday work").await?;
    let admin = user(conn, company, email, "Ada", "Admin", &hash).await?;
    join_group(conn, admin_group, admin).await?;
    hold_code(conn, admin, budget_code).await?;
    crate::db::accounts::add_member(conn, account, admin).await?;
    Ok(CompanyOfOne { company, account, admin, admin_group, budget_code })
}

async fn account(conn: &mut AsyncPgConnection, company: i64, name: &str, number: &str) -> QueryResult<i64> {
    let new = crate::db::accounts::NewAccount {
        company_id: company,
        name,
        provider: "ec2",
        region: "us-east-1",
        provider_account_number: number,
        endpoint: None,
        credentials: crate::db::accounts::StoredCredentials {
            auth: "assume_role".into(),
            role_arn: Some(role_arn(number)),
            access_key_id: None,
            secret_sealed: None,
        },
    };
    Ok(crate::db::accounts::insert(conn, &new).await?.id)
}

async fn give_role(conn: &mut AsyncPgConnection, group: i64, account: i64, role: i64) -> QueryResult<()> {
    diesel::insert_into(group_roles::table)
        .values((group_roles::group_id.eq(group), group_roles::account_id.eq(account), group_roles::role_id.eq(role)))
        .execute(conn)
        .await
        .map(drop)
}

async fn budget_code(
    conn: &mut AsyncPgConnection,
    company: i64,
    name: &str,
    finance: &str,
    soft: &str,
    hard: &str,
    description: &str,
) -> anyhow::Result<i64> {
    use std::str::FromStr;
    let quotas = (bigdecimal::BigDecimal::from_str(soft)?, bigdecimal::BigDecimal::from_str(hard)?);
    Ok(onboarding::insert_budget_code(conn, company, name, finance, description, (&quotas.0, &quotas.1)).await?)
}

async fn user(
    conn: &mut AsyncPgConnection,
    company: i64,
    email: &str,
    given: &str,
    family: &str,
    hash: &str,
) -> QueryResult<i64> {
    let new = crate::db::users::NewUser::active(company, email, (given, family), hash);
    Ok(crate::db::users::insert(conn, &new).await?.id)
}
