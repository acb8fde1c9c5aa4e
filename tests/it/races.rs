//! Races between a sync and a change, made to happen in a fixed order: the
//! test calls the sync's steps and the change one after the other (or holds
//! one transaction open while the other waits on its lock), never relying on
//! timing. Against a real PostgreSQL and the local EC2 endpoint.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use reqwest::StatusCode;
use stratus_console::changes;
use stratus_console::cloud::CloudProvider as _;
use stratus_console::cloud::ec2::Ec2Provider;
use stratus_console::db::{self, schema::*, sync::ReportedImage};
use stratus_console::jobs::{JobSettings, Runner, servers::SYNC_SERVERS, sync};

use crate::cloud::{connection, endpoint};
use crate::harness::{Acting, Client, TestApp, count, hold_open, until_one_waits};
use crate::image_actions::{provider_id, record};
use crate::servers::{made_record, operations_code, running_server};

/// The own-images sync's read: what the provider lists for the account now.
pub async fn sync_read(number: &str) -> Vec<ReportedImage> {
    let ec2 = Ec2Provider::connect(&connection(number, endpoint())).await.expect("the local EC2 endpoint answers");
    ec2.list_own_images().await.unwrap().into_iter().map(sync::reported).collect()
}

async fn image_state(conn: &mut AsyncPgConnection, provider_image_id: &str) -> String {
    provider_images::table
        .filter(provider_images::provider_image_id.eq(provider_image_id))
        .select(provider_images::state)
        .first(conn)
        .await
        .unwrap()
}

pub(crate) fn runner(app: &TestApp) -> std::sync::Arc<Runner> {
    let settings = JobSettings {
        workers: 0,
        provider_endpoint: Some(endpoint()),
        backoff_base: Duration::from_millis(1),
        backoff_cap: Duration::from_millis(1),
        max_attempts: 2,
        call_timeout: crate::harness::BUSY_CALL_TIMEOUT,
        ..JobSettings::default()
    };
    Runner::new(db::pool(&app.database_url, 2).unwrap(), settings)
}

#[actix_web::test]
async fn a_sync_that_read_the_provider_before_a_delete_does_not_bring_the_image_back() {
    let app = TestApp::spawn().await;
    app.delete_images_at_once().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let account = db::accounts::find(&mut conn, production).await.unwrap();
    let mut client = app.signed_in("admin@acme.test").await;
    let (id, version) = record(&mut conn, production, "api-server-base").await.unwrap();
    let ami = provider_id(&mut conn, id).await;

    let listed = sync_read(&app.demo.numbers.production).await;
    assert!(listed.iter().any(|i| i.provider_image_id == ami), "the sync's read saw the image");
    let deleted = client.post_htmx(&format!("/images/{id}/delete"), &[("version", &version.to_string())]).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    db::sync::own_images(&mut conn, &account, &listed).await.unwrap();

    assert!(record(&mut conn, production, "api-server-base").await.is_none(), "the record stays deleted");
    assert_eq!(image_state(&mut conn, &ami).await, "DELETED");
    assert!(!client.get("/images").await.body.contains("api-server-base"), "My images does not show it again");
}

#[actix_web::test]
async fn a_delete_that_commits_while_the_sync_writes_is_waited_for_and_seen() {
    let app = TestApp::spawn().await;
    app.delete_images_at_once().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let account = db::accounts::find(&mut conn, production).await.unwrap();
    let (id, version) = record(&mut conn, production, "api-server-base").await.unwrap();
    let admin: i64 =
        users::table.filter(users::email.eq("admin@acme.test")).select(users::id).first(&mut conn).await.unwrap();
    let listed = sync_read(&app.demo.numbers.production).await;

    // The delete, made and held open: its transaction commits only when told.
    let delete = hold_open(&app, async move |c| {
        let acting = Acting::as_user(c, admin, production).await;
        changes::images::delete(c, &acting.actor(), &JobSettings::default(), id, version).await.unwrap();
    })
    .await;

    // The sync writes what it read; it waits on the delete's lock.
    let mut sync_conn = app.db().await;
    let sync_pid: i32 = diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("pg_backend_pid()"))
        .get_result(&mut sync_conn)
        .await
        .unwrap();
    let write = actix_web::rt::spawn(async move { db::sync::own_images(&mut sync_conn, &account, &listed).await });
    let since = Instant::now();
    loop {
        let waiting = count(
            &mut conn,
            &format!("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = {sync_pid} AND wait_event_type = 'Lock'"),
        )
        .await;
        if waiting == 1 {
            break;
        }
        assert!(since.elapsed() < Duration::from_secs(30), "the sync's write never waited for the delete");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    delete.commit().await;
    write.await.unwrap().unwrap();

    assert!(record(&mut conn, production, "api-server-base").await.is_none(), "the record stays deleted");
}

#[actix_web::test]
async fn a_sync_asked_for_while_one_runs_runs_again_and_sees_the_change() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let mut client = app.signed_in("admin@acme.test").await;
    app.run_jobs().await;
    diesel::delete(jobs::table.filter(jobs::kind.eq(SYNC_SERVERS)).filter(jobs::state.eq("QUEUED")))
        .execute(&mut conn)
        .await
        .unwrap();
    let (server, version): (i64, i32) = servers::table
        .filter(servers::account_id.eq(production))
        .filter(servers::state.eq("RUNNING"))
        .select((servers::id, servers::version))
        .first(&mut conn)
        .await
        .unwrap();
    let runner = runner(&app);

    // A sync is queued, then the user pauses the server.
    assert!(db::jobs::enqueue_sync(&mut conn, production, SYNC_SERVERS, 2).await.unwrap());
    let paused = client.post_htmx(&format!("/servers/{server}/pause"), &[("version", &version.to_string())]).await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    // A worker takes the sync and reads the provider: the server still runs there.
    let running_sync = db::jobs::claim(&mut conn, "worker-a").await.unwrap().unwrap();
    assert_eq!(running_sync.kind, SYNC_SERVERS);
    let outcome = runner.perform(&running_sync).await;
    // Another worker pauses it at the provider and asks for a sync: one runs already.
    assert!(runner.run_next("worker-b").await.unwrap());
    let pending: i64 = jobs::table
        .filter(jobs::kind.eq(SYNC_SERVERS))
        .filter(jobs::state.eq_any(["QUEUED", "RUNNING"]))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(pending, 1, "no second sync row, the running one is marked");
    // The first sync finishes: it must run again, at once.
    runner.record(&running_sync, outcome).await.unwrap();
    let (state, due): (String, bool) = jobs::table
        .find(running_sync.id)
        .select((jobs::state, jobs::run_after.le(diesel::dsl::now)))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!((state.as_str(), due), ("QUEUED", true));

    app.run_jobs().await;
    let now: String = servers::table.find(server).select(servers::state).first(&mut conn).await.unwrap();
    assert_eq!(now, "PAUSED", "the last change is seen without waiting for the periodic sync");
}

#[actix_web::test]
async fn a_sync_that_nothing_asked_for_again_completes() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    app.run_jobs().await;
    assert!(db::jobs::enqueue_sync(&mut conn, production, sync::ZONES, 2).await.unwrap());
    let job = db::jobs::claim(&mut conn, "worker-a").await.unwrap().unwrap();
    assert_eq!(job.kind, sync::ZONES);
    let runner = runner(&app);
    let outcome = runner.perform(&job).await;
    runner.record(&job, outcome).await.unwrap();
    let state: String = jobs::table.find(job.id).select(jobs::state).first(&mut conn).await.unwrap();
    assert_eq!(state, "COMPLETE");
}

#[actix_web::test]
async fn a_server_sync_that_read_before_a_pause_does_not_set_it_back_to_running() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let mut client = app.signed_in("admin@acme.test").await;
    // The sync's read: the running server as it is before the Pause.
    let read = db::servers::at_provider(&mut conn, production).await.unwrap();
    let server = read.iter().find(|s| s.state.as_str() == "RUNNING").expect("a running demo server").clone();

    let paused =
        client.post_htmx(&format!("/servers/{}/pause", server.id), &[("version", &server.version.to_string())]).await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);

    // The provider still said "running" when the sync asked it, with a new
    // public address: a report that differs from what the sync read.
    let addresses = db::servers::Addresses { public_ip: Some("203.0.113.9".into()), ..server.addresses.clone() };
    let written = db::servers::observed(
        &mut conn,
        &server,
        stratus_console::domain::servers::ServerState::Running,
        true,
        &addresses,
    )
    .await
    .unwrap();
    assert!(!written, "the report is older than the Pause");
    let state: String = servers::table.find(server.id).select(servers::state).first(&mut conn).await.unwrap();
    assert_eq!(state, "PAUSING", "the Pause stands");

    // The next round, which read after the Pause, observes what it did.
    app.run_jobs().await;
    let state: String = servers::table.find(server.id).select(servers::state).first(&mut conn).await.unwrap();
    assert_ne!(state, "RUNNING", "the provider stopped it: {state}");
}

/// Makes record `id`'s image public through its sharing form and runs the
/// jobs: it is public at the provider and in the catalog. Its provider id,
/// and the query that counts it ACTIVE in the catalog.
async fn made_public(app: &TestApp, client: &mut Client, conn: &mut AsyncPgConnection, id: i64) -> (String, String) {
    let public = client.post_htmx(&format!("/images/{id}/sharing"), &[("share_type", "public")]).await;
    assert_eq!(public.status, StatusCode::OK, "{}", public.body);
    app.run_jobs().await;
    let ami = provider_id(conn, id).await;
    let in_catalog =
        format!("SELECT count(*) AS n FROM public_images WHERE provider_image_id = '{ami}' AND state = 'ACTIVE'");
    assert_eq!(count(conn, &in_catalog).await, 1, "public, and in the catalog");
    (ami, in_catalog)
}

/// A sync that reads the provider before a made-private image's revoke has
/// reached it: the provider still reports it public, and the sync must not
/// make it public again nor put it back in the public catalog.
#[actix_web::test]
async fn a_sync_before_the_revoke_keeps_an_image_made_private_out_of_the_catalog() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let account = db::accounts::find(&mut conn, production).await.unwrap();
    let mut client = app.signed_in("admin@acme.test").await;
    let (id, _) = record(&mut conn, production, "batch-worker").await.unwrap();
    let path = format!("/images/{id}/sharing");
    let (ami, in_catalog) = made_public(&app, &mut client, &mut conn, id).await;

    let private = client.post_htmx(&path, &[("share_type", "private")]).await;
    assert_eq!(private.status, StatusCode::OK, "{}", private.body);
    let listed = sync_read(&app.demo.numbers.production).await;
    assert!(listed.iter().any(|i| i.provider_image_id == ami && i.is_public), "the provider has not been told yet");
    db::sync::own_images(&mut conn, &account, &listed).await.unwrap();
    let flag: bool = provider_images::table
        .filter(provider_images::provider_image_id.eq(&ami))
        .select(provider_images::is_public)
        .first(&mut conn)
        .await
        .unwrap();
    assert!(!flag, "still private in the console");
    assert_eq!(count(&mut conn, &in_catalog).await, 0, "still out of the catalog");

    app.run_jobs().await;
    let listed = sync_read(&app.demo.numbers.production).await;
    assert!(listed.iter().any(|i| i.provider_image_id == ami && !i.is_public), "private at the provider now");
}

/// A sync that read the provider before an image made from a server got its
/// id (or that EC2's eventually consistent listing answered without it) must
/// not retire the new image; once its id is older than the listing lag, an
/// image the provider does not list is gone.
#[actix_web::test]
async fn a_sync_that_read_the_provider_before_an_image_was_made_keeps_it() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let account = db::accounts::find(&mut conn, production).await.unwrap();
    let mut client = app.signed_in("admin@acme.test").await;
    let (server, _) = running_server(&mut conn, production).await;
    let code = operations_code(&mut conn).await;

    let listed = sync_read(&app.demo.numbers.production).await;
    let made = client
        .post_htmx(
            &format!("/servers/{server}/image"),
            &[("name", "made-after-the-read"), ("budget_code_id", &code.to_string())],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    app.run_jobs().await;
    let (record, (_, ami)) = made_record(&mut conn, "made-after-the-read").await;
    let ami = ami.expect("the provider made it");
    assert!(!listed.iter().any(|i| i.provider_image_id == ami), "the sync's read is older than the image");

    db::sync::own_images(&mut conn, &account, &listed).await.unwrap();
    assert_ne!(image_state(&mut conn, &ami).await, "DELETED", "a listing older than the image does not retire it");
    assert!(client.get("/images").await.body.contains(&format!(r#"id="image-{record}""#)), "still in My images");

    // The same listing, once the console has known the id for longer than
    // the provider may take to list it: the image is gone at the provider.
    diesel::update(provider_images::table.filter(provider_images::provider_image_id.eq(&ami)))
        .set(provider_images::id_recorded_at.eq(chrono::Utc::now() - stratus_console::cloud::LISTING_LAG * 2))
        .execute(&mut conn)
        .await
        .unwrap();
    db::sync::own_images(&mut conn, &account, &listed).await.unwrap();
    assert_eq!(image_state(&mut conn, &ami).await, "DELETED");
}

/// An images sync that lists an image made from a server, and commits
/// while the Make Image job records it, leaves one record: the pending one,
/// with its owner. The job's write waits on the sync's row, fails on it,
/// and runs again to take it over (it used to fail, and its retry made a
/// second image at the provider).
#[actix_web::test]
async fn an_image_sync_committing_while_a_made_image_is_recorded_leaves_one_record() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let account = db::accounts::find(&mut conn, production).await.unwrap();
    let mut client = app.signed_in("admin@acme.test").await;
    let (server, _) = running_server(&mut conn, production).await;
    let code = operations_code(&mut conn).await;
    let made = client
        .post_htmx(
            &format!("/servers/{server}/image"),
            &[("name", "raced-by-a-sync"), ("budget_code_id", &code.to_string())],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    let (pending, _) = made_record(&mut conn, "raced-by-a-sync").await;

    // The job's first step: the provider makes the image, and lists it.
    let instance: String = servers::table
        .find(server)
        .select(servers::provider_instance_id.assume_not_null())
        .first(&mut conn)
        .await
        .unwrap();
    let ec2 = Ec2Provider::connect(&connection(&app.demo.numbers.production, endpoint())).await.unwrap();
    let ami = ec2.create_image(&instance, "raced-by-a-sync", "").await.unwrap();
    let listed = sync_read(&app.demo.numbers.production).await;
    let reported = listed.iter().find(|i| i.provider_image_id == ami).expect("listed").clone();

    let sync = {
        let (account, listed) = (account.clone(), listed.clone());
        hold_open(&app, async move |conn| {
            db::sync::own_images(conn, &account, &listed).await.unwrap();
        })
        .await
    };
    let admin: i64 =
        users::table.filter(users::email.eq("admin@acme.test")).select(users::id).first(&mut conn).await.unwrap();
    let owner = db::sync::ImageOwner { owner_user_id: admin, owner_group_id: None, budget_code_id: code };
    let recording = {
        let (account, mut conn) = (account.clone(), app.db().await);
        actix_web::rt::spawn(async move {
            db::sync::made_image(&mut conn, &account, &reported, &owner, Some(pending)).await
        })
    };
    until_one_waits(&mut conn, "recording the made image").await;
    sync.commit().await;
    assert_eq!(recording.await.unwrap().expect("recorded"), pending);

    let records: Vec<(i64, Option<i64>)> = image_records::table
        .inner_join(provider_images::table)
        .filter(image_records::account_id.eq(production))
        .filter(provider_images::provider_image_id.eq(&ami))
        .select((image_records::id, image_records::owner_user_id))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(records, [(pending, Some(admin))], "the pending record, with its owner, and no other");
}

/// A public image put in the recycle bin leaves the catalog, and the syncs
/// that read the provider afterwards (which still lists it public) leave it
/// out: no account, of any company, finds or launches it until it is
/// restored. A launch from a catalog form read before the delete finds it
/// in the bin.
#[actix_web::test]
async fn a_public_image_in_the_bin_stays_out_of_the_catalog_whatever_the_syncs_read() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let account = db::accounts::find(&mut conn, production).await.unwrap();
    let globex = db::accounts::find(&mut conn, app.demo.globex_main).await.unwrap();
    let mut client = app.signed_in("admin@acme.test").await;
    let (id, _) = record(&mut conn, production, "batch-worker").await.unwrap();
    let (ami, in_catalog) = made_public(&app, &mut client, &mut conn, id).await;
    let entry: i64 = public_images::table
        .filter(public_images::provider_image_id.eq(&ami))
        .select(public_images::id)
        .first(&mut conn)
        .await
        .unwrap();
    let form_read = db::images::find_public(&mut conn, &globex.provider, &globex.region, entry).await.unwrap();

    let (_, version) = record(&mut conn, production, "batch-worker").await.unwrap();
    let binned = client.post_htmx(&format!("/images/{id}/delete"), &[("version", &version.to_string())]).await;
    assert_eq!(binned.status, StatusCode::OK, "{}", binned.body);
    assert_eq!(count(&mut conn, &in_catalog).await, 0, "out of the catalog at once");

    let own = sync_read(&app.demo.numbers.production).await;
    assert!(own.iter().any(|i| i.provider_image_id == ami && i.is_public), "the provider still lists it public");
    db::sync::own_images(&mut conn, &account, &own).await.unwrap();
    // The region's catalog sync, as the owner's account reads it.
    let ec2 = Ec2Provider::connect(&connection(&app.demo.numbers.production, endpoint())).await.unwrap();
    let catalog: Vec<ReportedImage> = ec2.list_public_images().await.unwrap().into_iter().map(sync::reported).collect();
    assert!(catalog.iter().any(|i| i.provider_image_id == ami), "the catalog's listing has it");
    db::sync::public_catalog(&mut conn, &account.provider, &account.region, &catalog).await.unwrap();
    assert_eq!(count(&mut conn, &in_catalog).await, 0, "the syncs leave it out");

    let mut other = app.signed_in("admin@globex.test").await;
    let dialog = other.get_htmx(&format!("/images/{entry}/launch?catalog=public"), "modal").await;
    assert_eq!(dialog.status, StatusCode::NOT_FOUND, "nobody launches it from the catalog");
    let admin: i64 =
        users::table.filter(users::email.eq("admin@globex.test")).select(users::id).first(&mut conn).await.unwrap();
    let late = db::launch::record_public_launch(&mut conn, &globex, &form_read, admin).await;
    assert!(matches!(late, Err(diesel::result::Error::NotFound)), "a form read before the delete: {late:?}");

    // Restored, the next sync puts it back.
    let version: i32 = image_records::table.find(id).select(image_records::version).first(&mut conn).await.unwrap();
    let restored = client.post_htmx(&format!("/images/{id}/restore"), &[("version", &version.to_string())]).await;
    assert_eq!(restored.status, StatusCode::OK, "{}", restored.body);
    db::sync::public_catalog(&mut conn, &account.provider, &account.region, &catalog).await.unwrap();
    assert_eq!(count(&mut conn, &in_catalog).await, 1, "back in the catalog");
}
