//! The demo world of PRODUCT.md section 6, loaded by `--demo` into an empty
//! database (and by the tests that need a realistic world).
//!
//! Until the provider layer lands, image records are rows written here with
//! realistic provider ids; the public catalog is a generated sample of the
//! kinds of images a region offers.

use chrono::{DateTime, Duration, TimeZone, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use sha2::{Digest, Sha256};

use crate::auth::password;
use crate::db::schema::*;
use crate::domain::access::default_roles;

pub const PASSWORD: &str = "demo-password-1";

/// Ids of what the demo created, for tests.
#[derive(Debug, Clone)]
pub struct Demo {
    pub acme_production: i64,
    pub acme_staging: i64,
    pub globex_main: i64,
}

/// Loads the demo data when the database has no company yet. Returns whether
/// it loaded.
pub async fn load_if_empty(conn: &mut AsyncPgConnection) -> anyhow::Result<bool> {
    let companies: i64 = companies::table.count().get_result(conn).await?;
    if companies > 0 {
        return Ok(false);
    }
    load(conn).await?;
    Ok(true)
}

/// A provider id that looks like EC2's and is the same on every load.
pub fn provider_image_id(seed: &str) -> String {
    let digest = hex::encode(Sha256::digest(seed.as_bytes()));
    format!("ami-0{}", &digest[..16])
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

/// Loads everything in one transaction.
pub async fn load(conn: &mut AsyncPgConnection) -> anyhow::Result<Demo> {
    // Hash outside the transaction: it is slow on purpose.
    let hash = password::hash(PASSWORD).map_err(|e| anyhow::anyhow!("hashing the demo password: {e}"))?;
    conn.transaction(async |conn| load_in(conn, &hash).await).await
}

async fn load_in(conn: &mut AsyncPgConnection, hash: &str) -> anyhow::Result<Demo> {
    let acme = company(conn, "Acme").await?;
    let globex = company(conn, "Globex").await?;
    let acme_production = account(conn, acme, "Acme Production", "111111111111").await?;
    let acme_staging = account(conn, acme, "Acme Staging", "222222222222").await?;
    let globex_main = account(conn, globex, "Globex Main", "333333333333").await?;

    let acme_roles = roles(conn, acme).await?;
    let globex_roles = roles(conn, globex).await?;
    let role = |roles: &[(String, i64)], name: &str| roles.iter().find(|(n, _)| n == name).map(|(_, id)| *id);

    let mut acme_groups = Vec::new();
    for (name, role_name, description) in [
        ("Admin", "Admin", "Administrators of the Acme accounts"),
        ("Ops", "CloudManager", "Operations: runs the servers"),
        ("Config", "Configurator", "Keeps images and servers configured"),
        ("Support", "CSR", "Customer support, read only"),
    ] {
        let group = group(conn, acme, name, description).await?;
        let role_id = role(&acme_roles, role_name).expect("default roles exist");
        for account in [acme_production, acme_staging] {
            give_role(conn, group, account, role_id).await?;
        }
        acme_groups.push((name, group));
    }
    let globex_admin = group(conn, globex, "Admin", "Administrators of Globex").await?;
    give_role(conn, globex_admin, globex_main, role(&globex_roles, "Admin").expect("default roles exist")).await?;

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

    let production_images = [
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
    let staging_images = [
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

    let mut production_records = Vec::new();
    for spec in &production_images {
        let (user, group) = person(spec.owner);
        let (image_id, _) =
            own_image(conn, acme_production, "111111111111", spec, Some(user), Some(group), Some(code(spec.code)))
                .await?;
        production_records.push((spec.name, image_id));
    }
    for spec in &staging_images {
        let (user, group) = person(spec.owner);
        own_image(conn, acme_staging, "222222222222", spec, Some(user), Some(group), Some(code(spec.code))).await?;
    }
    // Production shares its API base image with Staging, which keeps its own
    // name and label for it.
    let shared = production_records.iter().find(|(n, _)| *n == "api-server-base").map(|(_, id)| *id).expect("exists");
    let (admin, admin_group) = person("admin@acme.test");
    diesel::insert_into(image_records::table)
        .values((
            image_records::account_id.eq(acme_staging),
            image_records::provider_image_id.eq(shared),
            image_records::name.eq("api-server-base (from Production)"),
            image_records::description.eq("Shared by Acme Production"),
            image_records::label.eq("purple"),
            image_records::owner_user_id.eq(admin),
            image_records::owner_group_id.eq(admin_group),
            image_records::budget_code_id.eq(code("Default")),
            image_records::source.eq("shared"),
            image_records::created_at.eq(at(10)),
        ))
        .execute(conn)
        .await?;

    let globex_images = [
        image("hammock-district-web", "Public website", "UBUNTU", "x86_64", "blue", "admin@globex.test", "", 5),
        image("cypress-creek-db", "Operations database", "DEBIAN", "x86_64", "red", "admin@globex.test", "", 25),
        image(
            "volcano-lair-monitoring",
            "Prometheus and Grafana",
            "AMAZON",
            "arm64",
            "flaggreen",
            "admin@globex.test",
            "",
            40,
        ),
    ];
    for spec in &globex_images {
        own_image(conn, globex_main, "333333333333", spec, Some(hank), Some(globex_admin), Some(globex_default))
            .await?;
    }

    insert_public_catalog(conn, "us-east-1", 0..PUBLIC_SAMPLE).await?;
    Ok(Demo { acme_production, acme_staging, globex_main })
}

async fn company(conn: &mut AsyncPgConnection, name: &str) -> QueryResult<i64> {
    diesel::insert_into(companies::table)
        .values(companies::name.eq(name))
        .returning(companies::id)
        .get_result(conn)
        .await
}

async fn account(conn: &mut AsyncPgConnection, company: i64, name: &str, number: &str) -> QueryResult<i64> {
    let new = crate::db::accounts::NewAccount {
        company_id: company,
        name,
        provider: "ec2",
        region: "us-east-1",
        provider_account_number: number,
    };
    Ok(crate::db::accounts::insert(conn, &new).await?.id)
}

/// Creates the default roles of a company; returns `(name, id)` pairs.
pub async fn roles(conn: &mut AsyncPgConnection, company: i64) -> QueryResult<Vec<(String, i64)>> {
    let mut created = Vec::new();
    for (name, description, rights) in default_roles() {
        let role: i64 = diesel::insert_into(roles::table)
            .values((
                roles::company_id.eq(company),
                roles::name.eq(name),
                roles::description.eq(description),
                roles::is_default.eq(true),
            ))
            .returning(roles::id)
            .get_result(conn)
            .await?;
        let rows: Vec<_> = rights
            .iter()
            .map(|r| {
                (
                    access_rights::role_id.eq(role),
                    access_rights::resource.eq(r.resource.as_str()),
                    access_rights::action.eq(r.action.as_str()),
                    access_rights::qualifier.eq(r.qualifier.as_str()),
                )
            })
            .collect();
        diesel::insert_into(access_rights::table).values(rows).execute(conn).await?;
        created.push((name.to_owned(), role));
    }
    Ok(created)
}

async fn group(conn: &mut AsyncPgConnection, company: i64, name: &str, description: &str) -> QueryResult<i64> {
    diesel::insert_into(groups::table)
        .values((groups::company_id.eq(company), groups::name.eq(name), groups::description.eq(description)))
        .returning(groups::id)
        .get_result(conn)
        .await
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
    Ok(diesel::insert_into(budget_codes::table)
        .values((
            budget_codes::company_id.eq(company),
            budget_codes::name.eq(name),
            budget_codes::finance_code.eq(finance),
            budget_codes::description.eq(description),
            budget_codes::soft_quota.eq(bigdecimal::BigDecimal::from_str(soft)?),
            budget_codes::hard_quota.eq(bigdecimal::BigDecimal::from_str(hard)?),
        ))
        .returning(budget_codes::id)
        .get_result(conn)
        .await?)
}

async fn user(
    conn: &mut AsyncPgConnection,
    company: i64,
    email: &str,
    given: &str,
    family: &str,
    hash: &str,
) -> QueryResult<i64> {
    let new = crate::db::users::NewUser {
        company_id: company,
        email,
        given_name: given,
        family_name: family,
        password_hash: hash,
        status: "active",
    };
    Ok(crate::db::users::insert(conn, &new).await?.id)
}

async fn join_group(conn: &mut AsyncPgConnection, group: i64, user: i64) -> QueryResult<()> {
    diesel::insert_into(group_members::table)
        .values((group_members::group_id.eq(group), group_members::user_id.eq(user)))
        .execute(conn)
        .await
        .map(drop)
}

async fn hold_code(conn: &mut AsyncPgConnection, user: i64, code: i64) -> QueryResult<()> {
    diesel::insert_into(user_budget_codes::table)
        .values((user_budget_codes::user_id.eq(user), user_budget_codes::budget_code_id.eq(code)))
        .execute(conn)
        .await
        .map(drop)
}

/// Creates a provider image owned by the account and the account's record of it.
async fn own_image(
    conn: &mut AsyncPgConnection,
    account: i64,
    number: &str,
    spec: &ImageSpec,
    owner: Option<i64>,
    group: Option<i64>,
    code: Option<i64>,
) -> QueryResult<(i64, i64)> {
    let created = at(spec.days_ago);
    let image: i64 = diesel::insert_into(provider_images::table)
        .values((
            provider_images::provider.eq("ec2"),
            provider_images::region.eq("us-east-1"),
            provider_images::provider_image_id.eq(provider_image_id(&format!("{number}/{}", spec.name))),
            provider_images::platform.eq(spec.platform),
            provider_images::architecture.eq(spec.arch),
            provider_images::state.eq("ACTIVE"),
            provider_images::owner_account_number.eq(number),
            provider_images::min_disk_gb.eq(if spec.platform == "WINDOWS" { 30 } else { 8 }),
            provider_images::created_at.eq(created),
        ))
        .returning(provider_images::id)
        .get_result(conn)
        .await?;
    let record: i64 = diesel::insert_into(image_records::table)
        .values((
            image_records::account_id.eq(account),
            image_records::provider_image_id.eq(image),
            image_records::name.eq(spec.name),
            image_records::description.eq(spec.description),
            image_records::label.eq(spec.label),
            image_records::owner_user_id.eq(owner),
            image_records::owner_group_id.eq(group),
            image_records::budget_code_id.eq(code),
            image_records::deprecated_at.eq(spec.deprecated.then(|| at(spec.days_ago / 2))),
            image_records::source.eq("own"),
            image_records::created_at.eq(created),
        ))
        .returning(image_records::id)
        .get_result(conn)
        .await?;
    Ok((image, record))
}

/// Size of the demo's public catalog sample.
pub const PUBLIC_SAMPLE: u32 = 1500;

/// One generated public image: `(name, description, platform, arch, owner, alias)`.
/// Deterministic in `n`, with the naming habits of the real publishers.
pub fn public_image(n: u32) -> (String, String, &'static str, &'static str, &'static str, &'static str) {
    let arch = if n % 4 == 3 { "arm64" } else { "x86_64" };
    let (amd, deb) = if arch == "arm64" { ("arm64", "arm64") } else { ("amd64", "amd64") };
    let date = 20230101 + (n * 37) % 1200 / 100 * 100 + (n % 28) + 1;
    match n % 9 {
        0 | 1 => {
            let (release, version) =
                [("jammy", "22.04"), ("noble", "24.04"), ("focal", "20.04"), ("plucky", "25.04")][(n / 9 % 4) as usize];
            (
                format!("ubuntu/images/hvm-ssd-gp3/ubuntu-{release}-{version}-{amd}-server-{date}"),
                format!("Canonical, Ubuntu, {version} LTS, {amd} {release} image"),
                "UBUNTU",
                arch,
                "099720109477",
                "Canonical",
            )
        }
        2 => {
            let version = [11, 12, 13][(n / 9 % 3) as usize];
            (
                format!("debian-{version}-{deb}-{date}-{}", 1000 + n % 900),
                format!("Debian {version} ({deb})"),
                "DEBIAN",
                arch,
                "136693071363",
                "Debian",
            )
        }
        3 => (
            format!(
                "al2023-ami-2023.{}.{date}.0-kernel-6.1-{}",
                n % 9,
                if arch == "arm64" { "arm64" } else { "x86_64" }
            ),
            "Amazon Linux 2023 AMI".into(),
            "AMAZON",
            arch,
            "137112412989",
            "amazon",
        ),
        4 => {
            let edition =
                ["Full-Base", "Core-Base", "Full-SQL_2022_Standard", "Full-ECS_Optimized"][(n / 9 % 4) as usize];
            let year = [2019, 2022, 2025][(n / 36 % 3) as usize];
            (
                format!(
                    "Windows_Server-{year}-English-{edition}-{}.{:02}.{:02}",
                    date / 10000,
                    date / 100 % 100,
                    date % 100
                ),
                format!("Microsoft Windows Server {year} with {edition}"),
                "WINDOWS",
                "x86_64",
                "801119661308",
                "amazon",
            )
        }
        5 => {
            let minor = n % 6;
            (
                format!(
                    "RHEL-9.{minor}.0_HVM-{date}-{}-0-Hourly2-GP3",
                    if arch == "arm64" { "arm64" } else { "x86_64" }
                ),
                format!("Provided by Red Hat, Inc. RHEL 9.{minor}"),
                "RHEL",
                arch,
                "309956199498",
                "Red Hat",
            )
        }
        6 => (
            format!(
                "suse-sles-15-sp{}-v{date}-hvm-ssd-{}",
                4 + n % 3,
                if arch == "arm64" { "arm64" } else { "x86_64" }
            ),
            "SUSE Linux Enterprise Server 15".into(),
            "SUSE",
            arch,
            "013907871322",
            "SUSE",
        ),
        7 => (
            format!(
                "Fedora-Cloud-Base-{}-1.{}.{}-hvm-us-east-1-gp3-0",
                39 + n % 4,
                n % 9,
                if arch == "arm64" { "aarch64" } else { "x86_64" }
            ),
            "Fedora Cloud Base".into(),
            "FEDORA_CORE",
            arch,
            "125523088429",
            "Fedora",
        ),
        _ => (
            format!("FreeBSD {}.{}-RELEASE-{} UFS", 13 + n % 2, n % 4, if arch == "arm64" { "arm64" } else { "amd64" }),
            "FreeBSD/amd64 releng".into(),
            "FREE_BSD",
            arch,
            "782442783595",
            "FreeBSD",
        ),
    }
}

/// Inserts generated public images `range` for a region, 1,000 rows a statement.
pub async fn insert_public_catalog(
    conn: &mut AsyncPgConnection,
    region: &str,
    range: std::ops::Range<u32>,
) -> QueryResult<()> {
    let all: Vec<u32> = range.collect();
    for chunk in all.chunks(1000) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|&n| {
                let (name, description, platform, arch, owner, alias) = public_image(n);
                (
                    public_images::provider.eq("ec2"),
                    public_images::region.eq(region.to_owned()),
                    public_images::provider_image_id.eq(provider_image_id(&format!("public/{n}"))),
                    public_images::name.eq(name),
                    public_images::description.eq(description),
                    public_images::platform.eq(platform),
                    public_images::architecture.eq(arch),
                    public_images::owner_account_number.eq(owner),
                    public_images::owner_alias.eq(alias),
                    public_images::created_at.eq(at(i64::from(n % 900))),
                )
            })
            .collect();
        diesel::insert_into(public_images::table).values(rows).execute(conn).await?;
    }
    Ok(())
}
