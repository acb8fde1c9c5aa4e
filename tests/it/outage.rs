//! PostgreSQL going away for a moment is not an error page: reads that meet
//! a broken connection are read again, everything else answers 503 with
//! `Retry-After` (the htmx form stays where it is), and nothing acknowledged
//! is lost. The test restarts a cluster of its own, so the other tests'
//! cluster never notices.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl};
use reqwest::StatusCode;
use stratus_console::db::schema::{audit_events, image_records};

use crate::harness::{Client, TestApp};

/// A PostgreSQL cluster of this test's own, run by the project's `local-pg`.
struct Cluster {
    dir: PathBuf,
}

/// Runs the project's `.ci/local-pg COMMAND DIR`; what it prints.
fn local_pg(dir: &Path, command: &str) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(format!("{root}/.ci/local-pg"))
        .args([command, dir.to_str().unwrap(), "--fast"])
        .output()
        .expect("run .ci/local-pg");
    assert!(out.status.success(), "local-pg {command}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

impl Cluster {
    fn local_pg(&self, command: &str) -> String {
        local_pg(&self.dir, command)
    }

    /// A fresh cluster (the one a previous run left is reset); its base URL.
    fn fresh(name: &str) -> (Self, String) {
        let cluster = Cluster { dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".local").join(name) };
        cluster.local_pg("reset");
        let base = cluster.local_pg("start");
        (cluster, base)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.local_pg("reset");
    }
}

/// The demo, served from a database in a cluster of the test's own.
async fn app_on_own_cluster(name: &str) -> (Cluster, TestApp) {
    let (cluster, base) = Cluster::fresh(name);
    let mut admin = AsyncPgConnection::establish(&format!("{base}/postgres")).await.expect("the cluster answers");
    diesel::sql_query("CREATE DATABASE stratus").execute(&mut admin).await.unwrap();
    let url = format!("{base}/stratus");
    stratus_console::db::run_migrations(&url).await.expect("migrate");
    (cluster, TestApp::spawn_in(url).await)
}

/// A connection for the test's own reads, waiting for the cluster to be back.
async fn connect(database_url: &str) -> AsyncPgConnection {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match AsyncPgConnection::establish(database_url).await {
            Ok(conn) => return conn,
            Err(_) if Instant::now() < deadline => actix_web::rt::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("the cluster did not come back: {e}"),
        }
    }
}

/// When the cluster's postmaster started.
async fn started_at(conn: &mut AsyncPgConnection) -> chrono::DateTime<chrono::Utc> {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Timestamptz>("pg_postmaster_start_time()"))
        .get_result(conn)
        .await
        .unwrap()
}

async fn record(conn: &mut AsyncPgConnection, id: i64) -> (String, i32) {
    image_records::table.find(id).select((image_records::name, image_records::version)).first(conn).await.unwrap()
}

#[actix_web::test]
async fn while_the_database_is_away_pages_and_changes_answer_503_and_afterwards_all_is_as_before() {
    let (cluster, app) = app_on_own_cluster("pg-outage-stop").await;
    let mut client = app.signed_in("admin@acme.test").await;
    let token = crate::api::make_token(&mut client, "outage", app.demo.acme_production, "read").await;
    let mut conn = connect(&app.database_url).await;
    let (id, version): (i64, i32) = image_records::table
        .filter(image_records::name.eq("api-server-base"))
        .select((image_records::id, image_records::version))
        .first(&mut conn)
        .await
        .unwrap();
    drop(conn);

    cluster.local_pg("stop");
    let health = client.get("/healthz").await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE, "{}", health.body);
    assert!(health.headers.contains_key("retry-after"));
    let page = client.get("/images").await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE, "a page, not a 500: {}", page.body);
    assert!(page.headers.contains_key("retry-after"));
    assert!(page.body.contains("The database is not answering"), "{}", page.body);
    let list = client.get_htmx("/images?scope=own", "images").await;
    assert_eq!(list.status, StatusCode::SERVICE_UNAVAILABLE);
    let change = client
        .post_htmx(&format!("/images/{id}/name"), &[("name", "renamed-in-outage"), ("version", &version.to_string())])
        .await;
    assert_eq!(change.status, StatusCode::SERVICE_UNAVAILABLE, "{}", change.body);
    assert!(change.headers.contains_key("retry-after"));
    assert_eq!(
        change.headers.get("hx-retarget").map(|v| v.to_str().unwrap()),
        Some("#flash"),
        "told in the flash area; the form it came from stays as it is"
    );
    assert!(change.body.contains("The database is not answering"), "{}", change.body);
    let api = reqwest::Client::new().get(app.url("/api/v1/images")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(api.headers().get("retry-after").map(|v| v.to_str().unwrap()), Some("2"), "the API says when too");

    cluster.local_pg("start");
    let health = client.get("/healthz").await;
    assert_eq!(health.status, StatusCode::OK, "the first request after the restart: {}", health.body);
    // Still signed in: the session survived, and the pooled connections that
    // died are replaced without an error.
    let page = client.get("/images").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("api-server-base"));
    let mut conn = connect(&app.database_url).await;
    assert_eq!(record(&mut conn, id).await, ("api-server-base".to_owned(), version), "the refused change left nothing");
    // The same change, sent again, is made.
    let again = client
        .post_htmx(
            &format!("/images/{id}/name"),
            &[("name", "renamed-after-outage"), ("version", &version.to_string())],
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(record(&mut conn, id).await.0, "renamed-after-outage");
}

/// What one client saw while the database restarted under it.
#[derive(Default)]
struct Seen {
    statuses: Vec<(String, StatusCode)>,
    /// The names it renamed its image to, in order, and whether each was
    /// acknowledged (200) or answered 503.
    renames: Vec<(String, StatusCode)>,
}

/// Image `id`'s version as the database has it now: waits while it is away.
async fn version_now(database_url: &str, id: i64) -> i32 {
    loop {
        let mut conn = connect(database_url).await;
        match image_records::table.find(id).select(image_records::version).first(&mut conn).await {
            Ok(version) => return version,
            Err(_) => actix_web::rt::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Reads pages and renames image `id` in a loop until `until`.
async fn keep_busy(mut client: Client, database_url: String, id: i64, worker: usize, until: Instant) -> Seen {
    let mut seen = Seen::default();
    let mut n = 0;
    while Instant::now() < until {
        for path in ["/images", "/servers"] {
            let page = client.get(path).await;
            seen.statuses.push((format!("GET {path}"), page.status));
        }
        let list = client.get_htmx("/images?scope=own&page=1", "images").await;
        seen.statuses.push(("GET /images (htmx)".into(), list.status));
        let health = client.get("/healthz").await;
        seen.statuses.push(("GET /healthz".into(), health.status));
        let version = version_now(&database_url, id).await;
        n += 1;
        let name = format!("restart-{worker}-{n}");
        let renamed = client
            .post_htmx(&format!("/images/{id}/name"), &[("name", &name), ("version", &version.to_string())])
            .await;
        seen.statuses.push(("POST rename".into(), renamed.status));
        seen.renames.push((name, renamed.status));
    }
    seen
}

#[actix_web::test]
async fn a_database_restart_under_load_gives_no_500_and_loses_no_acknowledged_change() {
    let (cluster, app) = app_on_own_cluster("pg-outage-restart").await;
    let mut conn = connect(&app.database_url).await;
    let images: Vec<i64> = image_records::table
        .filter(image_records::account_id.eq(app.demo.acme_production))
        .select(image_records::id)
        .order(image_records::id)
        .limit(3)
        .load(&mut conn)
        .await
        .unwrap();
    let started = started_at(&mut conn).await;
    drop(conn);
    let mut clients = Vec::new();
    for _ in &images {
        clients.push(app.signed_in("admin@acme.test").await);
    }

    let until = Instant::now() + Duration::from_secs(6);
    let workers: Vec<_> = clients
        .into_iter()
        .zip(&images)
        .enumerate()
        .map(|(worker, (client, &id))| {
            actix_web::rt::spawn(keep_busy(client, app.database_url.clone(), id, worker, until))
        })
        .collect();
    for _ in 0..2 {
        actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
        let dir = cluster.dir.clone();
        actix_web::rt::task::spawn_blocking(move || local_pg(&dir, "restart")).await.unwrap();
    }
    let mut seen = Vec::new();
    for worker in workers {
        seen.push(worker.await.expect("a worker"));
    }

    let mut conn = connect(&app.database_url).await;
    assert_ne!(started_at(&mut conn).await, started, "PostgreSQL restarted under the load");
    let mut answered = 0;
    let mut unavailable = 0;
    for (worker, seen) in seen.iter().enumerate() {
        for (what, status) in &seen.statuses {
            answered += 1;
            unavailable += usize::from(*status == StatusCode::SERVICE_UNAVAILABLE);
            assert!(
                status.is_success() || *status == StatusCode::SERVICE_UNAVAILABLE || *status == StatusCode::CONFLICT,
                "{what} answered {status}"
            );
        }
        // Every acknowledged rename is there: the name is the last one
        // acknowledged, or one sent after it whose answer was a 503 (it may
        // have committed just before the connection broke).
        let id = images[worker];
        let (name, _) = record(&mut conn, id).await;
        let last_ok =
            seen.renames.iter().rposition(|(_, status)| *status == StatusCode::OK).expect("some rename went through");
        assert!(
            seen.renames[last_ok..].iter().any(|(sent, _)| *sent == name),
            "image {id} is named {name}; the renames: {:?}",
            seen.renames
        );
        let acknowledged = seen.renames.iter().filter(|(_, status)| *status == StatusCode::OK).count();
        let audited: i64 = audit_events::table
            .filter(audit_events::action.eq("rename"))
            .filter(audit_events::resource_id.eq(id.to_string()))
            .count()
            .get_result(&mut conn)
            .await
            .unwrap();
        assert!(audited as usize >= acknowledged, "every acknowledged rename is audited");
    }
    assert!(answered > 40, "the load ran through the restarts: {answered} answers");
    eprintln!("{answered} answers through two restarts, {unavailable} of them 503");
}
