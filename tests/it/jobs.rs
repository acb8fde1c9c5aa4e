//! The job queue and sync, against a real PostgreSQL and the local EC2
//! endpoint.

use std::process::Stdio;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use reqwest::StatusCode;
use stratus_console::cloud::CloudProvider;
use stratus_console::cloud::ec2::Ec2Provider;
use stratus_console::db::{self, jobs::NewJob, schema::*};
use stratus_console::domain::access::{JobSubject, Ownership};
use stratus_console::jobs::{JobSettings, Runner, sync};

use crate::cloud::{connection, endpoint, fresh_account};
use crate::harness::{TestApp, count, text};

fn settings(endpoint: String) -> JobSettings {
    JobSettings {
        workers: 0,
        provider_endpoint: Some(endpoint),
        backoff_base: Duration::from_millis(1),
        backoff_cap: Duration::from_millis(1),
        call_timeout: crate::harness::BUSY_CALL_TIMEOUT,
        ..JobSettings::default()
    }
}

/// A new account of Acme at the given provider account number (its role
/// assumed, as the demo's are), with the demo admin as a member.
async fn add_account(conn: &mut AsyncPgConnection, number: &str, endpoint: Option<&str>) -> i64 {
    let company: i64 =
        companies::table.filter(companies::name.eq("Acme")).select(companies::id).first(conn).await.unwrap();
    let id: i64 = diesel::insert_into(accounts::table)
        .values((
            accounts::company_id.eq(company),
            accounts::name.eq(format!("Acme {number}")),
            accounts::provider.eq("ec2"),
            accounts::region.eq("us-east-1"),
            accounts::provider_account_number.eq(number),
            accounts::endpoint.eq(endpoint),
            accounts::auth.eq("assume_role"),
            accounts::role_arn.eq(stratus_console::demo::role_arn(number)),
        ))
        .returning(accounts::id)
        .get_result(conn)
        .await
        .unwrap();
    id
}

/// The payload of a launch of one t3.micro, "web-1", from `image_id`.
fn launch(image_id: String, server_id: Option<i64>) -> serde_json::Value {
    serde_json::to_value(stratus_console::jobs::RunInstancePayload {
        image_id,
        instance_type: "t3.micro".into(),
        name: "web-1".into(),
        zone: None,
        security_groups: vec![],
        key_name: None,
        user_data: None,
        volumes: Vec::new(),
        server_id,
    })
    .unwrap()
}

async fn drain(runner: &Runner) {
    while runner.run_next("test-worker").await.expect("the queue answers") {}
}

async fn enqueue(conn: &mut AsyncPgConnection, account: i64, kind: &str) {
    db::jobs::enqueue(conn, &NewJob::new(account, kind, serde_json::json!({}), 3, JobSubject::Account)).await.unwrap();
}

#[actix_web::test]
async fn sync_adds_updates_and_retires_images() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let number = fresh_account();
    let account = add_account(&mut conn, &number, None).await;
    let ec2 = Ec2Provider::connect(&connection(&number, endpoint())).await.unwrap();
    let base = ec2.list_public_images().await.unwrap().into_iter().find(|i| !i.windows).unwrap();
    let server = ec2
        .run_instance(&stratus_console::cloud::RunRequest {
            image_id: base.id,
            instance_type: "t3.micro".into(),
            zone: None,
            security_groups: vec![],
            key_name: None,
            user_data: None,
            volumes: Vec::new(),
            name: "builder".into(),
            idempotency_key: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .unwrap();
    let kept = ec2.create_image(&server.id, "ubuntu-web-golden", "the web tier").await.unwrap();
    let dropped = ec2.create_image(&server.id, "scratch", "").await.unwrap();
    let runner = Runner::new(db::pool(&app.database_url, 2).unwrap(), settings(endpoint()));

    enqueue(&mut conn, account, sync::OWN_IMAGES).await;
    drain(&runner).await;

    let names: Vec<(String, String)> = image_records::table
        .inner_join(provider_images::table)
        .filter(image_records::account_id.eq(account))
        .order(image_records::name)
        .select((image_records::name, provider_images::platform))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(names, [("scratch".into(), "UNKNOWN".into()), ("ubuntu-web-golden".into(), "UBUNTU".into())]);

    // The console's own name survives a sync; an image gone at the provider is retired.
    diesel::update(image_records::table.filter(image_records::name.eq("ubuntu-web-golden")))
        .set(image_records::name.eq("Web golden image"))
        .execute(&mut conn)
        .await
        .unwrap();
    ec2.deregister_image(&dropped).await.unwrap();
    enqueue(&mut conn, account, sync::OWN_IMAGES).await;
    drain(&runner).await;

    let states: Vec<(String, String)> = image_records::table
        .inner_join(provider_images::table)
        .filter(image_records::account_id.eq(account))
        .order(provider_images::provider_image_id.eq(&kept).desc())
        .select((image_records::name, provider_images::state))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(states[0], ("Web golden image".into(), "ACTIVE".into()));
    assert_eq!(states[1].1, "DELETED");
    let synced: Option<chrono::DateTime<chrono::Utc>> =
        accounts::table.find(account).select(accounts::synced_at).first(&mut conn).await.unwrap();
    assert!(synced.is_some(), "the account shows when it was last synced");

    // Nothing changed at the provider: the sync writes no image row (each
    // row's xmin, the transaction that last wrote it, stays as it was).
    let versions = format!(
        "SELECT string_agg(p.xmin::text || '/' || r.xmin::text, ',' ORDER BY p.id) AS versions
         FROM provider_images p JOIN image_records r ON r.provider_image_id = p.id WHERE r.account_id = {account}"
    );
    #[derive(diesel::QueryableByName)]
    struct Versions {
        #[diesel(sql_type = diesel::sql_types::Text)]
        versions: String,
    }
    let before = diesel::sql_query(&versions).get_result::<Versions>(&mut conn).await.unwrap().versions;
    enqueue(&mut conn, account, sync::OWN_IMAGES).await;
    drain(&runner).await;
    let after = diesel::sql_query(&versions).get_result::<Versions>(&mut conn).await.unwrap().versions;
    assert_eq!(before, after, "a sync that finds nothing new writes nothing");
}

#[actix_web::test]
async fn the_public_catalog_is_synced_from_the_provider() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let account = add_account(&mut conn, &fresh_account(), None).await;
    let runner = Runner::new(db::pool(&app.database_url, 2).unwrap(), settings(endpoint()));

    enqueue(&mut conn, account, sync::PUBLIC_CATALOG).await;
    drain(&runner).await;

    let active = count(&mut conn, "SELECT count(*) AS n FROM public_images WHERE state = 'ACTIVE'").await;
    assert!(active > 200, "the endpoint's catalog (224 images under `make test`) is in PostgreSQL: {active}");
    diesel::sql_query(
        "UPDATE public_images SET state = 'ACTIVE', name = 'stale' WHERE id = (SELECT min(id) FROM public_images)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(
        "INSERT INTO public_images (provider, region, provider_image_id, name, platform, architecture,
                                    owner_account_number, created_at)
         VALUES ('ec2', 'us-east-1', 'ami-0gone', 'withdrawn', 'UNKNOWN', 'x86_64', '999999999999', now())",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    enqueue(&mut conn, account, sync::PUBLIC_CATALOG).await;
    drain(&runner).await;
    let retired = count(&mut conn, "SELECT count(*) AS n FROM public_images WHERE state = 'DELETED'").await;
    assert_eq!(retired, 1, "the image the provider no longer lists is retired");
    let restored = count(&mut conn, "SELECT count(*) AS n FROM public_images WHERE name = 'stale'").await;
    assert_eq!(restored, 0, "names are updated from the provider");
    let windows =
        count(&mut conn, "SELECT count(*) AS n FROM public_images WHERE platform = 'WINDOWS' AND state = 'ACTIVE'")
            .await;
    assert!(windows > 0);
}

#[actix_web::test]
async fn two_console_processes_drain_200_jobs_and_run_none_twice() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    for _ in 0..200 {
        db::jobs::enqueue(
            &mut conn,
            &NewJob { account_id: None, ..NewJob::new(0, "noop", serde_json::json!({}), 1, JobSubject::Account) },
        )
        .await
        .unwrap();
    }
    let spawn = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_stratus-console"))
            .env("DATABASE_URL", &app.database_url)
            .env("BIND", "127.0.0.1:0")
            .env("JOB_WORKERS", "2")
            .env("SYNC_INTERVAL_SECS", "3600")
            .env("PROVIDER_ENDPOINT", endpoint())
            .env("LOG_LEVEL", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the console binary")
    };
    let (_one, _two) = (spawn(), spawn());

    let started = Instant::now();
    loop {
        let left = count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'noop' AND state <> 'COMPLETE'").await;
        if left == 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{left} jobs still not done");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let twice = count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'noop' AND attempts <> 1").await;
    assert_eq!(twice, 0, "every job was claimed exactly once");
    let processes =
        count(&mut conn, "SELECT count(DISTINCT split_part(worker, '-', 1)) AS n FROM jobs WHERE kind = 'noop'").await;
    assert_eq!(processes, 2, "both processes took jobs");
}

/// A moto server of this test's own, to stop and start.
struct OwnEndpoint {
    port: u16,
    child: Option<tokio::process::Child>,
}

impl OwnEndpoint {
    async fn start(port: u16) -> Self {
        let bin = std::env::var("TEST_MOTO_SERVER").expect("TEST_MOTO_SERVER is set by `make test`");
        let child = tokio::process::Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("EC2_ENABLE_AMI_VALIDATION", "false")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("moto_server");
        // moto takes seconds to start, many more on a busy machine: wait for
        // it to answer, and say so if it never does.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        while reqwest::get(format!("http://127.0.0.1:{port}/moto-api/")).await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "moto_server did not answer on port {port} within 90 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { port, child: Some(child) }
    }

    async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

#[actix_web::test]
async fn when_the_provider_is_down_pages_answer_with_a_banner_and_work_resumes_later() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut ec2 = OwnEndpoint::start(port).await;
    let account = add_account(&mut conn, &fresh_account(), Some(&ec2.url())).await;
    let admin: i64 =
        users::table.filter(users::email.eq("admin@acme.test")).select(users::id).first(&mut conn).await.unwrap();
    db::accounts::add_member(&mut conn, account, admin).await.unwrap();
    let admin_group: i64 =
        groups::table.filter(groups::name.eq("Admin")).select(groups::id).first(&mut conn).await.unwrap();
    let admin_role: i64 =
        roles::table.filter(roles::name.eq("Admin")).select(roles::id).first(&mut conn).await.unwrap();
    diesel::insert_into(group_roles::table)
        .values((
            group_roles::group_id.eq(admin_group),
            group_roles::account_id.eq(account),
            group_roles::role_id.eq(admin_role),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    let runner = Runner::new(db::pool(&app.database_url, 2).unwrap(), settings(endpoint()));
    ec2.stop().await;

    enqueue(&mut conn, account, sync::OWN_IMAGES).await;
    assert!(runner.run_next("test-worker").await.unwrap());

    let (state, error): (String, Option<String>) =
        jobs::table.select((jobs::state, jobs::last_error)).first(&mut conn).await.unwrap();
    assert_eq!(state, "QUEUED", "the job waits to be retried");
    assert!(error.as_deref().is_some_and(|e| e.contains("unreachable")), "{error:?}");
    let mut client = app.signed_in("admin@acme.test").await;
    client.post("/account", &[("account_id", &account.to_string())]).await;
    let page = client.get("/images").await;
    assert_eq!(page.status, StatusCode::OK, "pages answer from PostgreSQL");
    assert!(text(&page.body).contains("Cloud provider unreachable since"), "{}", text(&page.body));
    let jobs_page = text(&client.get("/jobs").await.body);
    assert!(jobs_page.contains("Sync machine images Console queued 1 of 3"), "{jobs_page}");
    assert!(jobs_page.contains("the cloud provider is unreachable"));
    let health = client.get("/healthz").await;
    assert_eq!(health.status, StatusCode::OK, "the database answers");
    assert!(health.body.contains(r#""provider":"unreachable""#), "{}", health.body);

    let _back = OwnEndpoint::start(port).await;
    drain(&runner).await;

    let state: String = jobs::table.select(jobs::state).first(&mut conn).await.unwrap();
    assert_eq!(state, "COMPLETE");
    let page = client.get("/images").await;
    assert!(!text(&page.body).contains("Cloud provider unreachable"));
    assert!(text(&page.body).contains("Last synced"));
    let jobs_page = text(&client.get("/jobs").await.body);
    assert!(jobs_page.contains("Sync machine images Console complete 2 of 3"), "{jobs_page}");
}

#[actix_web::test]
async fn a_server_sync_that_asks_the_provider_nothing_does_not_take_it_for_reachable() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut ec2 = OwnEndpoint::start(port).await;
    let account = add_account(&mut conn, &fresh_account(), Some(&ec2.url())).await;
    let runner = Runner::new(db::pool(&app.database_url, 2).unwrap(), settings(endpoint()));
    let reach = async |conn: &mut AsyncPgConnection| -> (bool, bool) {
        accounts::table
            .find(account)
            .select((accounts::synced_at.is_not_null(), accounts::unreachable_since.is_not_null()))
            .first(conn)
            .await
            .unwrap()
    };
    let servers_synced = async |conn: &mut AsyncPgConnection| -> i64 {
        jobs::table
            .filter(jobs::kind.eq(stratus_console::jobs::servers::SYNC_SERVERS))
            .filter(jobs::state.eq("COMPLETE"))
            .count()
            .get_result(conn)
            .await
            .unwrap()
    };
    // The account has no server and no launch to look for: its server sync
    // asks the provider nothing (once its connection is made), and says
    // nothing of whether the provider answers.
    enqueue(&mut conn, account, stratus_console::jobs::servers::SYNC_SERVERS).await;
    assert!(runner.run_next("test-worker").await.unwrap());
    assert_eq!(servers_synced(&mut conn).await, 1);
    assert_eq!(reach(&mut conn).await, (false, false), "not synced yet");

    ec2.stop().await;
    enqueue(&mut conn, account, sync::OWN_IMAGES).await;
    assert!(runner.run_next("test-worker").await.unwrap());
    // Its retry waits an hour, so the server sync runs next.
    diesel::sql_query("UPDATE jobs SET run_after = now() + interval '1 hour'").execute(&mut conn).await.unwrap();
    assert_eq!(reach(&mut conn).await, (false, true), "the image sync found the provider away");
    enqueue(&mut conn, account, stratus_console::jobs::servers::SYNC_SERVERS).await;
    assert!(runner.run_next("test-worker").await.unwrap());
    assert_eq!(servers_synced(&mut conn).await, 2);
    assert_eq!(reach(&mut conn).await, (false, true), "still never synced, still unreachable");
}

#[actix_web::test]
async fn a_job_that_keeps_failing_ends_in_error_with_the_reason() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let account = add_account(&mut conn, &fresh_account(), Some(&format!("http://{closed}"))).await;
    let runner = Runner::new(db::pool(&app.database_url, 2).unwrap(), settings(endpoint()));

    enqueue(&mut conn, account, sync::OWN_IMAGES).await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(runner.run_next("test-worker").await.unwrap());
    }

    let (state, attempts, error): (String, i32, Option<String>) =
        jobs::table.select((jobs::state, jobs::attempts, jobs::last_error)).first(&mut conn).await.unwrap();
    assert_eq!((state.as_str(), attempts), ("ERROR", 3));
    assert!(error.unwrap().contains("the cloud provider is unreachable"));
    assert!(!runner.run_next("test-worker").await.unwrap(), "nothing left to run");
}

#[actix_web::test]
async fn sizes_zones_firewalls_and_key_pairs_are_synced_with_prices() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let number = fresh_account();
    let account = add_account(&mut conn, &number, None).await;
    let ec2 = Ec2Provider::connect(&connection(&number, endpoint())).await.unwrap();
    ec2.create_security_group("web", "HTTP from anywhere").await.unwrap();
    let key = ec2.create_key_pair("deploy").await.unwrap();
    let runner = Runner::new(db::pool(&app.database_url, 2).unwrap(), settings(endpoint()));

    for kind in [sync::PRODUCTS, sync::ZONES, sync::FIREWALLS, sync::KEY_PAIRS] {
        enqueue(&mut conn, account, kind).await;
    }
    drain(&runner).await;

    let failed = count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE state <> 'COMPLETE'").await;
    assert_eq!(failed, 0);
    let (cpus, ram): (i32, i64) = products::table
        .filter(products::account_id.eq(account))
        .filter(products::product_id.eq("t3.micro"))
        .select((products::cpus, products::ram_mb))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!((cpus, ram), (2, 1024));
    let rate: bigdecimal::BigDecimal = prices::table
        .filter(prices::product_id.eq("t3.micro"))
        .select(prices::hourly_rate)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(rate.to_string(), "0.0104");
    let zones: Vec<String> =
        zones::table.filter(zones::account_id.eq(account)).select(zones::name).load(&mut conn).await.unwrap();
    assert!(zones.contains(&"us-east-1a".to_owned()));
    let firewalls: Vec<String> = firewalls::table
        .filter(firewalls::account_id.eq(account))
        .select(firewalls::name)
        .load(&mut conn)
        .await
        .unwrap();
    assert!(firewalls.contains(&"default".to_owned()) && firewalls.contains(&"web".to_owned()));
    let keys: Vec<(String, String)> = key_pairs::table
        .filter(key_pairs::account_id.eq(account))
        .select((key_pairs::name, key_pairs::fingerprint))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys, [("deploy".to_owned(), key.fingerprint)]);
}

#[actix_web::test]
async fn a_launch_job_run_again_after_an_outage_or_a_lost_answer_starts_one_server() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut ec2 = OwnEndpoint::start(port).await;
    let number = fresh_account();
    let account = add_account(&mut conn, &number, Some(&ec2.url())).await;
    let provider = Ec2Provider::connect(&connection(&number, ec2.url())).await.unwrap();
    let image = provider.list_public_images().await.unwrap().into_iter().find(|i| !i.windows).unwrap();
    let runner = Runner::new(db::pool(&app.database_url, 2).unwrap(), settings(endpoint()));
    let payload = launch(image.id, None);
    db::jobs::enqueue(
        &mut conn,
        &NewJob::new(
            account,
            stratus_console::jobs::RUN_INSTANCE,
            payload,
            5,
            JobSubject::Server(Ownership::default()),
        ),
    )
    .await
    .unwrap();

    // The provider is down: the launch waits.
    ec2.stop().await;
    assert!(runner.run_next("test-worker").await.unwrap());
    let state: String = jobs::table.select(jobs::state).first(&mut conn).await.unwrap();
    assert_eq!(state, "QUEUED");

    // It is back: the queued launch completes.
    let _back = OwnEndpoint::start(port).await;
    drain(&runner).await;
    let first: Option<serde_json::Value> = jobs::table.select(jobs::result).first(&mut conn).await.unwrap();

    // The answer was lost (say the worker died): the job runs again.
    diesel::update(jobs::table)
        .set((jobs::state.eq("QUEUED"), jobs::run_after.eq(diesel::dsl::now)))
        .execute(&mut conn)
        .await
        .unwrap();
    drain(&runner).await;
    let again: Option<serde_json::Value> = jobs::table.select(jobs::result).first(&mut conn).await.unwrap();

    assert!(first.as_ref().is_some_and(|r| r["instance_id"].is_string()), "{first:?}");
    assert_eq!(first, again, "the same server both times");
    let provider = Ec2Provider::connect(&connection(&number, format!("http://127.0.0.1:{port}"))).await.unwrap();
    assert_eq!(provider.describe_instances(&[]).await.unwrap().len(), 1, "one server at the provider");
}

#[actix_web::test]
async fn the_jobs_page_pages_fifty_newest_first_and_back() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let account = app.demo.acme_production;
    // 120 finished syncs, two queued in each minute: equal times are ordered by id.
    diesel::sql_query(
        "INSERT INTO jobs (account_id, kind, subject, state, created_at, finished_at)
         SELECT $1, 'sync_images', 'account', 'COMPLETE', now() - interval '1 day' + (n / 2) * interval '1 minute', now()
           FROM generate_series(1, 120) AS n",
    )
    .bind::<diesel::sql_types::BigInt, _>(account)
    .execute(&mut conn)
    .await
    .unwrap();
    let listed = count(&mut conn, &format!("SELECT count(*) AS n FROM jobs WHERE account_id = {account}")).await;
    let newest_first: Vec<i64> = jobs::table
        .filter(jobs::account_id.eq(account))
        .order((jobs::created_at.desc(), jobs::id.desc()))
        .select(jobs::id)
        .load(&mut conn)
        .await
        .unwrap();
    let ids = |body: &str| -> Vec<i64> {
        body.split("<tr id=\"job-").skip(1).filter_map(|s| s.split('"').next()?.parse().ok()).collect()
    };
    let mut client = app.signed_in("viewer@acme.test").await;

    let mut pages = Vec::new();
    let mut url = "/jobs".to_owned();
    loop {
        let page = client.get(&url).await;
        assert_eq!(page.status, StatusCode::OK);
        pages.push(ids(&page.body));
        match crate::images::link(&page.body, "next") {
            Some(next) => url = next,
            None => break,
        }
    }
    assert_eq!(pages.iter().map(Vec::len).take(2).collect::<Vec<_>>(), [50, 50]);
    assert_eq!(pages.concat(), newest_first, "every job of the account once, newest first ({listed})");
    let last = client.get(&url).await;
    let middle = client.get(&crate::images::link(&last.body, "prev").expect("a newer page")).await;
    assert_eq!(ids(&middle.body), pages[1]);
    assert!(text(&middle.body).contains("← Newer") && text(&middle.body).contains("Older →"));

    let bad = client.get("/jobs?before=not-a-cursor").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(text(&bad.body).contains("This page link is not valid."));
}

#[actix_web::test]
async fn the_schedulers_rounds_keep_one_pending_job_of_each_kind_per_account() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let pool = stratus_console::db::pool(&app.database_url, 2).unwrap();
    let runner = Runner::new(pool, JobSettings::default());
    for _ in 0..3 {
        runner.queue_syncs().await.unwrap();
    }
    let piled = count(
        &mut conn,
        "SELECT count(*) AS n FROM (SELECT account_id, kind FROM jobs WHERE state IN ('QUEUED', 'RUNNING')
           GROUP BY account_id, kind HAVING count(*) > 1) piled",
    )
    .await;
    assert_eq!(piled, 0, "three rounds, one pending job of a kind per account");
    let lifecycles =
        count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'image_lifecycle' AND state = 'QUEUED'").await;
    let accounts = count(&mut conn, "SELECT count(*) AS n FROM accounts WHERE disabled_at IS NULL").await;
    assert_eq!(lifecycles, accounts);
}

/// Only the job queued here waits to be claimed.
async fn only(conn: &mut AsyncPgConnection, job: &NewJob<'_>) {
    diesel::sql_query("UPDATE jobs SET state = 'COMPLETE' WHERE state IN ('QUEUED', 'RUNNING')")
        .execute(conn)
        .await
        .unwrap();
    db::jobs::enqueue(conn, job).await.unwrap();
}

/// A worker that outlived its lease (the reaper queued its job again, and
/// another worker took it up) records nothing: the job's outcome is the
/// second worker's.
#[actix_web::test]
async fn a_worker_that_outlived_its_lease_records_nothing_over_the_one_that_took_over() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let runner = Runner::new(db::pool(&app.database_url, 2).unwrap(), settings(endpoint()));
    let noop = NewJob::new(0, "noop", serde_json::json!({}), 3, JobSubject::Account);
    only(&mut conn, &NewJob { account_id: None, ..noop }).await;
    let first = db::jobs::claim(&mut conn, "worker-a").await.unwrap().expect("the job");
    let later = chrono::Utc::now() + chrono::Duration::minutes(1);
    assert_eq!(db::jobs::requeue_stale(&mut conn, later).await.unwrap().requeued, 1);
    let second = db::jobs::claim(&mut conn, "worker-b").await.unwrap().expect("queued again");
    assert_eq!(second.id, first.id);

    let invalid = stratus_console::jobs::JobError::Invalid("too late".into());
    runner.record(&first, Err(invalid)).await.unwrap();
    runner.record(&first, Ok(None)).await.unwrap();
    let job = async |conn: &mut AsyncPgConnection| {
        jobs::table.find(first.id).select((jobs::state, jobs::worker)).first::<(String, Option<String>)>(conn).await
    };
    assert_eq!(job(&mut conn).await.unwrap(), ("RUNNING".into(), Some("worker-b".into())), "still the second's");
    runner.record(&second, Ok(None)).await.unwrap();
    assert_eq!(job(&mut conn).await.unwrap().0, "COMPLETE");
}

/// A job whose worker is lost on every attempt (one that brings its
/// process down) is given up rather than run for ever, and what it was
/// about takes the failure in: the launch's server goes to ERROR.
#[actix_web::test]
async fn a_job_whose_worker_is_lost_on_every_attempt_is_given_up_with_its_server() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let (server, _) = crate::servers::running_server(&mut conn, production).await;
    let payload = launch("ami-00000000000000000".into(), Some(server));
    let kind = stratus_console::jobs::RUN_INSTANCE;
    only(&mut conn, &NewJob::new(production, kind, payload, 2, JobSubject::Server(Ownership::default()))).await;
    let reaper = Runner::new(
        db::pool(&app.database_url, 2).unwrap(),
        JobSettings { lease: Duration::ZERO, ..settings(endpoint()) },
    );
    let state = async |conn: &mut AsyncPgConnection| {
        jobs::table
            .filter(jobs::kind.eq(kind))
            .select((jobs::state, jobs::last_error))
            .first::<(String, Option<String>)>(conn)
            .await
            .unwrap()
    };
    for attempt in 1..=2 {
        let claimed = db::jobs::claim(&mut conn, &format!("worker-{attempt}")).await.unwrap().expect("the launch");
        assert_eq!((claimed.kind.as_str(), claimed.attempts), (kind, attempt));
        // The worker is lost; the reaper finds its job.
        tokio::time::sleep(Duration::from_millis(5)).await;
        reaper.queue_syncs().await.unwrap();
    }
    let (job_state, reason) = state(&mut conn).await;
    assert_eq!(job_state, "ERROR");
    assert!(reason.is_some_and(|r| r.contains("stopped on every attempt")));
    let (server_state, server_error): (String, Option<String>) =
        servers::table.find(server).select((servers::state, servers::last_error)).first(&mut conn).await.unwrap();
    assert_eq!(server_state, "ERROR");
    assert!(server_error.is_some_and(|e| e.contains("stopped on every attempt")));
    let follow = "SELECT count(*) AS n FROM jobs WHERE kind = 'sync_servers' AND state = 'QUEUED'";
    assert!(count(&mut conn, follow).await >= 1, "the provider's view is read back");
}

/// A launch whose answer was lost, and whose retries all failed, left its
/// server in ERROR without an instance while the provider had started one:
/// the server sync finds the instance by the launch's idempotency tag and
/// takes it in, so it does not run unseen.
#[actix_web::test]
async fn the_server_sync_finds_the_instance_of_a_launch_whose_answer_was_lost() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let (server, _) = crate::servers::running_server(&mut conn, production).await;
    let ec2 = Ec2Provider::connect(&connection(&app.demo.numbers.production, endpoint())).await.unwrap();
    let image = ec2.list_public_images().await.unwrap().into_iter().find(|i| !i.windows).unwrap();
    let key = uuid::Uuid::new_v4().to_string();
    // The launch reached the provider; its answer never came back.
    let started = ec2
        .run_instance(&stratus_console::cloud::RunRequest {
            image_id: image.id.clone(),
            instance_type: "t3.micro".into(),
            zone: None,
            security_groups: vec![],
            key_name: None,
            user_data: None,
            volumes: vec![],
            name: "web-1".into(),
            idempotency_key: key.clone(),
        })
        .await
        .unwrap();
    let kind = stratus_console::jobs::RUN_INSTANCE;
    let job =
        NewJob::new(production, kind, launch(image.id, Some(server)), 2, JobSubject::Server(Ownership::default()));
    assert!(db::jobs::enqueue_keyed(&mut conn, &job, &key).await.unwrap());
    diesel::update(jobs::table.filter(jobs::idempotency_key.eq(&key)))
        .set((jobs::state.eq("ERROR"), jobs::last_error.eq("no answer in time")))
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::update(servers::table.find(server))
        .set((
            servers::state.eq("ERROR"),
            servers::provider_instance_id.eq(None::<String>),
            servers::last_error.eq("no answer in time"),
            servers::launched_at.eq(diesel::dsl::now),
        ))
        .execute(&mut conn)
        .await
        .unwrap();

    let sync = stratus_console::jobs::servers::SYNC_SERVERS;
    db::jobs::enqueue_sync(&mut conn, production, sync, 2).await.unwrap();
    app.run_jobs().await;
    let (instance, state, error): (Option<String>, String, Option<String>) = servers::table
        .find(server)
        .select((servers::provider_instance_id, servers::state, servers::last_error))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(instance.as_deref(), Some(started.id.as_str()), "the instance is the server's");
    assert!(["PENDING", "RUNNING"].contains(&state.as_str()), "{state}");
    assert_eq!(error, None);
}

/// A role that shows a user only their own images shows them only the jobs
/// about those, besides the account's syncs and what they asked for
/// themselves, on the Jobs page and in the API: another's job answers 404,
/// as another's image does. Whoever may see every image reads every job,
/// with who asked for it.
#[actix_web::test]
async fn a_role_that_shows_only_the_users_own_images_shows_only_their_jobs() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let role = crate::admin_roles::make_role(
        &mut conn,
        "OwnImages",
        &[("CONSOLE", "Access"), ("IMAGE", "Access"), ("IMAGE", "Configure")],
    )
    .await;
    diesel::update(access_rights::table.filter(access_rights::role_id.eq(role)))
        .filter(access_rights::resource.eq("IMAGE"))
        .set(access_rights::qualifier.eq("MINE"))
        .execute(&mut conn)
        .await
        .unwrap();
    let support = crate::admin_users::group_id(&mut conn, "Acme", "Support").await;
    crate::admin_roles::give(&mut conn, support, role).await;
    let viewer: i64 =
        users::table.filter(users::email.eq("viewer@acme.test")).select(users::id).first(&mut conn).await.unwrap();
    let (mine, my_version) = crate::image_actions::record(&mut conn, production, "batch-worker").await.unwrap();
    let (theirs, their_version) = crate::image_actions::record(&mut conn, production, "api-server-base").await.unwrap();
    diesel::update(image_records::table.find(mine))
        .set(image_records::owner_user_id.eq(viewer))
        .execute(&mut conn)
        .await
        .unwrap();
    let my_ami = crate::image_actions::provider_id(&mut conn, mine).await;
    let their_ami = crate::image_actions::provider_id(&mut conn, theirs).await;
    let job_of = async |conn: &mut AsyncPgConnection, ami: &str| -> i64 {
        jobs::table
            .filter(jobs::kind.eq("set_deprecation"))
            .filter(jobs::payload.retrieve_as_text("image_id").eq(ami.to_owned()))
            .select(jobs::id)
            .first(conn)
            .await
            .unwrap()
    };

    let mut viewer_client = app.signed_in("viewer@acme.test").await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let deprecated =
        viewer_client.post_htmx(&format!("/images/{mine}/deprecate"), &[("version", &my_version.to_string())]).await;
    assert_eq!(deprecated.status, StatusCode::OK, "{}", deprecated.body);
    let deprecated =
        admin.post_htmx(&format!("/images/{theirs}/deprecate"), &[("version", &their_version.to_string())]).await;
    assert_eq!(deprecated.status, StatusCode::OK, "{}", deprecated.body);
    let (my_job, their_job) = (job_of(&mut conn, &my_ami).await, job_of(&mut conn, &their_ami).await);
    db::jobs::enqueue_sync(&mut conn, production, sync::KEY_PAIRS, 3).await.unwrap();
    // Asked by the viewer, about a server they cannot see.
    let asked = NewJob::new(
        production,
        "server_action",
        serde_json::json!({ "server_id": 0, "instance_id": "i-asked", "command": "pause" }),
        3,
        JobSubject::Server(Ownership::default()),
    );
    db::jobs::enqueue(&mut conn, &asked.by(viewer)).await.unwrap();

    let page = viewer_client.get("/jobs").await;
    assert_eq!(page.status, StatusCode::OK);
    let page = text(&page.body);
    assert!(page.contains(&format!("Deprecate {my_ami} Riley Chen queued")), "{page}");
    assert!(page.contains("Sync key pairs Console queued"), "the account's upkeep: {page}");
    assert!(page.contains("Pause server i-asked Riley Chen queued"), "what they asked for: {page}");
    assert!(!page.contains(&their_ami), "not the job about another's image: {page}");

    let api = crate::api::Api::new(&app, &crate::api::make_token(&mut viewer_client, "jobs", production, "read").await);
    let own = api.get(&format!("/api/v1/jobs/{my_job}")).await;
    assert_eq!(own.status, StatusCode::OK, "{:?}", own.json);
    assert_eq!(api.get(&format!("/api/v1/jobs/{their_job}")).await.status, StatusCode::NOT_FOUND);

    let everything = text(&admin.get("/jobs").await.body);
    assert!(everything.contains(&format!("Deprecate {their_ami} Alex Morgan queued")), "{everything}");
    assert!(everything.contains(&format!("Deprecate {my_ami} Riley Chen queued")), "{everything}");
}
