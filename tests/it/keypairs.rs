//! The Key Pairs page against the local EC2 endpoint: created at once with
//! the private key offered once and kept nowhere, imported through a job,
//! refused at the field, deleted when unused, and who may do which.

use std::time::Duration;

use base64::Engine as _;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use reqwest::StatusCode;
use stratus_console::cloud::CloudProvider;
use stratus_console::cloud::ec2::Ec2Provider;
use stratus_console::db::{self, schema::*};

use crate::cloud::{connection, endpoint};
use crate::harness::{Response, TestApp, count, text};

pub const ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHfFrtHX+Bm9WEBJueOkw12IlEyZLGAJ0NSFLLLVngpY ops@acme.test";
pub const RSA_3072: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQC6M5Yqef/eqkdxaW/8IkOFEu5WIw4fA5gRTcUocTTSRC2mKTTxdIXPHmYMDymNvpNVokBFMOGFwD96pmFRuoYuzvWkxkHb2KxgqYvB9EenhzPmRflf53b+DlOHqzjaNkxCaU2QWZXNdBmYNAhjTGCOUtOVBUJAkgsIMsn+ff9CLwB6Gxc7h+qn5BPbdbete58ARgbSjc4KUrg2Q+jTCU3gg8E/OxCgYnKZSX0MWvWXXclGcEn4DAnBMJyIuIZm6RY1sZVLszrkMJCwPhKVkbefS5zmPErzCvl5l5QMYbLQhBcaDtHVvDxuDBALCLTBAjgVHoace/5lJJL3gPVe7q3gRxihyd5krwyRWUXOiih8mash44irj8iOcEgrfkwZIJZxB4fba1yuyOAGboaTqxsFgGMKlJ/sFkPhOWddIGQjwzYSu4LcpU/uuEP6hMtUEZEAb5PII45GeOwRSZfdk0ZbD3hPlHWZzrvWCUabAXwD3ZOU9zv1hh2yhtv06rl+mcc= deploy@acme.test";

pub async fn at_provider(number: &str) -> std::sync::Arc<Ec2Provider> {
    Ec2Provider::connect(&connection(number, endpoint())).await.expect("the local EC2 endpoint answers")
}

/// The account's key pair rows: `(id, name, fingerprint, provider id, state)`.
async fn rows(conn: &mut AsyncPgConnection, account: i64) -> Vec<(i64, String, String, Option<String>, String)> {
    key_pairs::table
        .filter(key_pairs::account_id.eq(account))
        .select((key_pairs::id, key_pairs::name, key_pairs::fingerprint, key_pairs::provider_id, key_pairs::state))
        .order(key_pairs::id)
        .load(conn)
        .await
        .unwrap()
}

/// The private key in a page's download link, decoded.
fn private_key_in(body: &str) -> Option<String> {
    let marker = "href=\"data:application/x-pem-file;base64,";
    let start = body.find(marker)? + marker.len();
    let encoded = body[start..].split('"').next()?;
    let pem = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    String::from_utf8(pem).ok()
}

/// Whether anything the console stored holds a private key.
async fn stored_anywhere(conn: &mut AsyncPgConnection, needle: &str) -> i64 {
    let needle = needle.replace('\'', "''");
    count(
        conn,
        &format!(
            "SELECT (SELECT count(*) FROM key_pairs WHERE key_pairs::text LIKE '%{needle}%')
                  + (SELECT count(*) FROM audit_events WHERE audit_events::text LIKE '%{needle}%')
                  + (SELECT count(*) FROM jobs WHERE jobs::text LIKE '%{needle}%')
                  + (SELECT count(*) FROM sessions WHERE sessions::text LIKE '%{needle}%') AS n"
        ),
    )
    .await
}

#[actix_web::test]
async fn creating_a_key_pair_offers_its_private_key_once_and_keeps_it_nowhere() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let account = app.demo.acme_production;
    let mut client = app.signed_in("configurator@acme.test").await;
    let empty = client.get("/keypairs").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(text(&empty.body).contains("Acme Production has no key pairs yet"), "{}", empty.body);

    let created = client.post_htmx("/keypairs", &[("name", "deploy key"), ("public_key", "")]).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!(created.header("cache-control"), Some("no-store"));
    assert!(created.body.contains(r#"download="deploy key.pem""#));
    let pem = private_key_in(&created.body).expect("the private key, offered for download");
    assert!(pem.contains("PRIVATE KEY-----"), "{pem}");
    assert!(text(&created.body).contains("Created key pair “deploy key”"));
    assert!(created.body.contains(r#"id="keypair-list" class="list" hx-swap-oob="true""#), "the list comes along");

    let stored = rows(&mut conn, account).await;
    assert_eq!(stored.len(), 1);
    let (id, name, fingerprint, provider_id, state) = &stored[0];
    assert_eq!((name.as_str(), state.as_str()), ("deploy key", "ACTIVE"));
    let listed = at_provider(&app.demo.numbers.production).await.list_key_pairs().await.unwrap();
    let at_provider = listed.iter().find(|k| k.name == "deploy key").expect("the provider has it");
    assert_eq!((&at_provider.fingerprint, &at_provider.id), (fingerprint, provider_id));
    let events = count(
        &mut conn,
        &format!("SELECT count(*) AS n FROM audit_events WHERE resource = 'KEYPAIR' AND action = 'create' AND resource_id = '{id}'"),
    )
    .await;
    assert_eq!(events, 1);

    // Nowhere but in that one answer: not stored, not offered again.
    let body_line = pem.lines().nth(1).expect("a PEM body line");
    assert_eq!(stored_anywhere(&mut conn, body_line).await, 0);
    assert_eq!(stored_anywhere(&mut conn, "PRIVATE KEY").await, 0);
    let again = client.get("/keypairs").await;
    assert!(private_key_in(&again.body).is_none() && !again.body.contains("data:"), "offered once only");
    assert!(again.body.contains(fingerprint.as_str()));
}

#[actix_web::test]
async fn a_plain_form_gets_the_download_in_the_answer_not_through_a_redirect() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("manager@acme.test").await;
    let created = client.post("/keypairs", &[("name", "no-script")]).await;
    assert_eq!(created.status, StatusCode::OK, "a redirect would need the key kept until the next request");
    assert!(created.body.contains("<!doctype html>"), "the whole page");
    assert!(private_key_in(&created.body).is_some());
    assert!(text(&created.body).contains("Created key pair “no-script”"));
    assert!(private_key_in(&client.get("/keypairs").await.body).is_none());
}

#[actix_web::test]
async fn importing_a_public_key_is_a_job_and_the_row_waits_for_it() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let account = app.demo.acme_production;
    let mut client = app.signed_in("configurator@acme.test").await;

    let imported =
        client.post_htmx("/keypairs", &[("name", "laptop"), ("public_key", &format!("  {ED25519}\n"))]).await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.body);
    assert!(private_key_in(&imported.body).is_none());
    assert!(text(&imported.body).contains("Importing “laptop”"));
    assert!(text(&imported.body).contains("laptop importing"), "the row shows it waits: {}", text(&imported.body));
    assert!(imported.body.contains(r#"hx-trigger="every 2s""#), "the list polls while it waits");
    let (id, _, fingerprint, provider_id, state) = rows(&mut conn, account).await.remove(0);
    assert_eq!((fingerprint.as_str(), provider_id, state.as_str()), ("", None, "PENDING"));
    let payload: serde_json::Value =
        jobs::table.filter(jobs::kind.eq("import_key_pair")).select(jobs::payload).first(&mut conn).await.unwrap();
    assert_eq!(payload["public_key"], ED25519);
    let audit: serde_json::Value = audit_events::table
        .filter(audit_events::action.eq("import"))
        .select(audit_events::changes)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(audit["public_key_fingerprint"], "SHA256:nW5qu2zz4bVdSxVAQs/hAd/ESbWZRorPDrbNz552Euk");

    // An RSA key too, as plain form.
    let rsa = client.post("/keypairs", &[("name", "build_agent"), ("public_key", RSA_3072)]).await;
    assert_eq!(rsa.status, StatusCode::SEE_OTHER, "an import is a plain POST-redirect-GET");
    assert!(text(&client.get("/keypairs").await.body).contains("Importing “build_agent”"));

    app.run_jobs().await;
    let listed = at_provider(&app.demo.numbers.production).await.list_key_pairs().await.unwrap();
    for (_, name, fingerprint, provider_id, state) in rows(&mut conn, account).await {
        let at_provider = listed.iter().find(|k| k.name == name).expect("imported at the provider");
        assert_eq!(state, "ACTIVE");
        assert_eq!((Some(&fingerprint), &provider_id), (Some(&at_provider.fingerprint), &at_provider.id));
        assert!(!fingerprint.is_empty());
    }
    let page = client.get_htmx("/keypairs", "keypair-list").await;
    assert!(!page.body.contains("hx-trigger"), "nothing waits: polling stops");
    assert!(!text(&page.body).contains("importing"));
    assert_eq!(rows(&mut conn, account).await[0].0, id);
}

/// Runs the account's key pairs sync while its imports wait (held back an
/// hour): the sync reads the provider before any import has run.
async fn sync_before_the_imports(app: &TestApp, conn: &mut AsyncPgConnection, account: i64) {
    diesel::sql_query("UPDATE jobs SET run_after = now() + interval '1 hour' WHERE kind = 'import_key_pair'")
        .execute(conn)
        .await
        .unwrap();
    db::jobs::enqueue_sync(conn, account, "sync_key_pairs", 2).await.unwrap();
    app.run_jobs().await;
}

#[actix_web::test]
async fn a_sync_before_the_import_keeps_the_waiting_row() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let account = app.demo.acme_production;
    let mut client = app.signed_in("admin@acme.test").await;
    client.post_htmx("/keypairs", &[("name", "laptop"), ("public_key", ED25519)]).await;
    sync_before_the_imports(&app, &mut conn, account).await;
    let waiting = count(&mut conn, "SELECT count(*) AS n FROM key_pairs WHERE state = 'PENDING' AND active").await;
    assert_eq!(waiting, 1, "still listed as importing");
    assert!(text(&client.get("/keypairs").await.body).contains("laptop importing"));
}

/// A key pair of the name already at the provider (made there, or left by
/// an import whose answer was lost): the import takes it as its own only
/// when it holds the same public key.
#[actix_web::test]
async fn an_import_takes_a_key_pair_of_its_name_at_the_provider_only_if_it_holds_the_same_key() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let account = app.demo.acme_production;
    let mut client = app.signed_in("admin@acme.test").await;
    let ec2 = at_provider(&app.demo.numbers.production).await;
    ec2.import_key_pair("laptop", RSA_3072).await.unwrap();
    let other_comment = ED25519.replace("ops@acme.test", "someone@elsewhere");
    ec2.import_key_pair("desktop", &other_comment).await.unwrap();
    for name in ["laptop", "desktop"] {
        let imported = client.post_htmx("/keypairs", &[("name", name), ("public_key", ED25519)]).await;
        assert_eq!(imported.status, StatusCode::OK, "{}", imported.body);
    }
    let states = async |conn: &mut AsyncPgConnection| -> Vec<(String, String)> {
        rows(conn, account).await.into_iter().map(|r| (r.1, r.4)).collect()
    };
    // A sync first, the imports held back: the provider lists both names,
    // but only the import, which compares the keys, makes a row ready.
    sync_before_the_imports(&app, &mut conn, account).await;
    let waiting = states(&mut conn).await;
    assert!(waiting.contains(&("laptop".into(), "PENDING".into())), "{waiting:?}");
    assert!(waiting.contains(&("desktop".into(), "PENDING".into())), "{waiting:?}");
    diesel::sql_query("UPDATE jobs SET run_after = now() WHERE kind = 'import_key_pair'")
        .execute(&mut conn)
        .await
        .unwrap();
    app.run_jobs().await;

    let after = states(&mut conn).await;
    assert!(after.contains(&("laptop".into(), "ERROR".into())), "another key under that name: {after:?}");
    assert!(after.contains(&("desktop".into(), "ACTIVE".into())), "the same key: {after:?}");
    // A later sync leaves the refused import as it is.
    db::jobs::enqueue_sync(&mut conn, account, "sync_key_pairs", 2).await.unwrap();
    app.run_jobs().await;
    assert_eq!(states(&mut conn).await, after);
    let page = text(&client.get("/keypairs").await.body);
    assert!(page.contains("already has a key pair named “laptop” with another public key"), "{page}");
}

/// An import whose job fails before it reaches its own code (no provider
/// answers the connection) still ends: the row shows why, rather than
/// waiting as importing for ever.
#[actix_web::test]
async fn an_import_whose_provider_cannot_be_reached_fails_for_good_and_says_why() {
    use stratus_console::jobs::{JobSettings, Runner};

    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let account = app.demo.acme_production;
    let mut client = app.signed_in("configurator@acme.test").await;
    let imported = client.post_htmx("/keypairs", &[("name", "laptop"), ("public_key", ED25519)]).await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.body);
    diesel::sql_query("UPDATE jobs SET max_attempts = 1 WHERE kind = 'import_key_pair'")
        .execute(&mut conn)
        .await
        .unwrap();
    // Nothing listens on port 9 (discard): the connection is refused.
    let settings = JobSettings {
        workers: 0,
        provider_endpoint: Some("http://127.0.0.1:9".to_owned()),
        secrets: Some(crate::harness::secrets()),
        ..JobSettings::default()
    };
    let runner = Runner::new(db::pool(&app.database_url, 2).unwrap(), settings);
    while runner.run_next("test-worker").await.unwrap() {}

    let row = rows(&mut conn, account).await.into_iter().find(|r| r.1 == "laptop").expect("the row");
    assert_eq!(row.4, "ERROR", "{row:?}");
    let page = text(&client.get("/keypairs").await.body);
    assert!(page.contains("Import failed"), "{page}");
    assert!(!page.contains("laptop importing"), "{page}");
}

/// The message at a field of the form in an answer.
fn field_error(response: &Response, field: &str) -> String {
    let marker = format!(r#"id="keypair-{field}-error" role="alert">"#);
    let start = response.body.find(&marker).unwrap_or_else(|| panic!("no error at {field}: {}", response.body));
    text(response.body[start + marker.len()..].split("</p>").next().unwrap())
}

#[actix_web::test]
async fn bad_names_and_keys_are_refused_at_the_field_and_change_nothing() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut client = app.signed_in("manager@acme.test").await;

    let slash = client.post_htmx("/keypairs", &[("name", "ops/deploy")]).await;
    assert_eq!(slash.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(field_error(&slash, "name").contains("not “/”"), "{}", slash.body);
    assert!(slash.body.contains(r#"aria-invalid="true""#));
    assert!(slash.body.contains(r#"value="ops/deploy""#), "what was typed stays");

    let bad =
        client.post_htmx("/keypairs", &[("name", "laptop"), ("public_key", "ssh-ed25519 AAAAnot-a-key me")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(field_error(&bad, "public-key").contains("This is not an OpenSSH public key"));

    let both = client.post("/keypairs", &[("name", ""), ("public_key", "ssh-dss AAAA")]).await;
    assert_eq!(both.status, StatusCode::UNPROCESSABLE_ENTITY, "a plain form too");
    assert!(both.body.contains("<!doctype html>"));
    assert_eq!(field_error(&both, "name"), "Enter a name for the key pair.");
    assert!(!field_error(&both, "public-key").is_empty());

    let secret = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----";
    let private = client.post_htmx("/keypairs", &[("name", "oops"), ("public_key", secret)]).await;
    assert_eq!(private.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(field_error(&private, "public-key").starts_with("This is a private key."));
    assert!(!private.body.contains("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"), "never echoed");

    // A real key whose comment holds a NUL (PostgreSQL refuses it in text).
    let nul = format!("{} a\u{0}b", ED25519.rsplit_once(' ').unwrap().0);
    let control = client.post_htmx("/keypairs", &[("name", "nul"), ("public_key", &nul)]).await;
    assert_eq!(control.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", control.body);
    assert!(field_error(&control, "public-key").contains("a control character"), "{}", control.body);

    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM key_pairs").await, 0);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs").await, 0);

    // A name in use is refused for a create and for an import.
    assert_eq!(client.post_htmx("/keypairs", &[("name", "deploy")]).await.status, StatusCode::OK);
    let again = client.post_htmx("/keypairs", &[("name", " deploy ")]).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field_error(&again, "name"), "Acme Production already has a key pair named “deploy”.");
    let import = client.post_htmx("/keypairs", &[("name", "deploy"), ("public_key", ED25519)]).await;
    assert_eq!(import.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(field_error(&import, "name").contains("already has a key pair named “deploy”"));
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM key_pairs").await, 1);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM audit_events WHERE resource = 'KEYPAIR'").await, 1);

    // One the provider has but the console has not synced yet: at the field too.
    at_provider(&app.demo.numbers.production).await.create_key_pair("made-elsewhere").await.unwrap();
    let elsewhere = client.post_htmx("/keypairs", &[("name", "made-elsewhere")]).await;
    assert_eq!(elsewhere.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(field_error(&elsewhere, "name").contains("The provider already has a key pair named “made-elsewhere”"));
}

/// Records a server of the account launched with key pair `key` in `state`.
async fn server_with_key(conn: &mut AsyncPgConnection, account: i64, key: &str, state: &str) -> i64 {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let row: Id = diesel::sql_query(format!(
        "INSERT INTO servers (account_id, provider_image_id, name, product_id, budget_code_id, key_pair_name, state)
         SELECT {account}, (SELECT min(id) FROM provider_images), 'uses-{key}', 't3.small',
                (SELECT min(id) FROM budget_codes), '{key}', '{state}'
         RETURNING id"
    ))
    .get_result(conn)
    .await
    .unwrap();
    row.id
}

#[actix_web::test]
async fn a_key_pair_used_by_a_live_server_cannot_be_deleted_and_an_unused_one_goes() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let account = app.demo.acme_production;
    let mut client = app.signed_in("manager@acme.test").await;
    client.post_htmx("/keypairs", &[("name", "deploy")]).await;
    let (id, ..) = rows(&mut conn, account).await.remove(0);
    let server = server_with_key(&mut conn, account, "deploy", "RUNNING").await;

    let page = client.get("/keypairs").await;
    assert!(text(&page.body).contains("1 live server"));
    assert!(!page.body.contains(&format!("/keypairs/{id}/delete")), "no Delete while it is used");
    let dialog = client.get_htmx(&format!("/keypairs/{id}/delete"), "modal").await;
    assert_eq!(dialog.status, StatusCode::OK);
    assert!(text(&dialog.body).contains("deploy cannot be deleted now."));
    assert!(text(&dialog.body).contains("1 server launched with this key pair is pending, running or paused."));
    assert!(!dialog.body.contains(r#"type="submit""#));
    let refused = client.post_htmx(&format!("/keypairs/{id}/delete"), &[]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.header("HX-Retarget"), Some("#modal"));
    assert!(text(&refused.body).contains("Terminate it first"));
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM key_pairs WHERE state = 'ACTIVE'").await, 1);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs").await, 0);

    diesel::sql_query(format!("UPDATE servers SET state = 'TERMINATED' WHERE id = {server}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let dialog = client.get_htmx(&format!("/keypairs/{id}/delete"), "modal").await;
    assert!(text(&dialog.body).contains("Are you sure you want to delete deploy?"));
    let deleted = client.post_htmx(&format!("/keypairs/{id}/delete"), &[]).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(deleted.header("HX-Trigger"), Some("close-dialog"));
    assert!(text(&deleted.body).contains("Deleted key pair “deploy”"));
    assert!(text(&deleted.body).contains("has no key pairs yet"), "the list without it");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM audit_events WHERE action = 'delete'").await, 1);

    // A sync before the delete job does not bring it back.
    diesel::sql_query("UPDATE jobs SET run_after = now() + interval '1 hour' WHERE kind = 'delete_key_pair'")
        .execute(&mut conn)
        .await
        .unwrap();
    db::jobs::enqueue_sync(&mut conn, account, "sync_key_pairs", 2).await.unwrap();
    app.run_jobs().await;
    assert!(!text(&client.get("/keypairs").await.body).contains("deploy"));

    diesel::sql_query("UPDATE jobs SET run_after = now() WHERE kind = 'delete_key_pair'")
        .execute(&mut conn)
        .await
        .unwrap();
    app.run_jobs().await;
    let listed = at_provider(&app.demo.numbers.production).await.list_key_pairs().await.unwrap();
    assert!(listed.iter().all(|k| k.name != "deploy"), "deleted at the provider");
    assert!(rows(&mut conn, account).await.is_empty());
    // The name is free again.
    assert_eq!(client.post_htmx("/keypairs", &[("name", "deploy")]).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn rights_decide_who_sees_creates_and_deletes_and_other_accounts_are_not_found() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let mut admin = app.signed_in("admin@acme.test").await;
    admin.post_htmx("/keypairs", &[("name", "deploy")]).await;
    let (id, ..) = rows(&mut conn, production).await.remove(0);
    let mut globex = app.signed_in("admin@globex.test").await;
    globex.post_htmx("/keypairs", &[("name", "globex-key")]).await;
    let (other, ..) = rows(&mut conn, app.demo.globex_main).await.remove(0);
    let before = count(&mut conn, "SELECT count(*) AS n FROM key_pairs").await;

    let mut viewer = app.signed_in("viewer@acme.test").await;
    let page = viewer.get("/keypairs").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(r#"href="/keypairs" aria-current="page""#), "in the navigation");
    assert!(text(&page.body).contains("deploy") && !page.body.contains("keypair-form"), "sees, cannot create");
    assert!(!page.body.contains("/delete"));
    assert_eq!(viewer.post("/keypairs", &[("name", "viewer-key")]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        viewer.post("/keypairs", &[("name", "viewer-key"), ("public_key", ED25519)]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(viewer.get(&format!("/keypairs/{id}/delete")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(viewer.post(&format!("/keypairs/{id}/delete"), &[]).await.status, StatusCode::FORBIDDEN);

    let mut configurator = app.signed_in("configurator@acme.test").await;
    assert!(!configurator.get("/keypairs").await.body.contains("/delete"), "Configure creates, not deletes");
    assert_eq!(configurator.post(&format!("/keypairs/{id}/delete"), &[]).await.status, StatusCode::FORBIDDEN);

    for path in [format!("/keypairs/{other}/delete")] {
        assert_eq!(admin.get(&path).await.status, StatusCode::NOT_FOUND);
        assert_eq!(admin.post(&path, &[]).await.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM key_pairs").await, before, "nothing changed");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs").await, 0);
    let without_csrf = admin.post_without_csrf(&format!("/keypairs/{id}/delete"), &[]).await;
    assert_eq!(without_csrf.status, StatusCode::FORBIDDEN);
}

/// Waits until the page no longer shows `gone`.
async fn wait_until_gone(browser: &crate::browser::Browser, gone: &str) {
    for _ in 0..80 {
        if !browser.body_text().await.contains(gone) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{gone:?} stayed on the page: {}", browser.body_text().await);
}

#[actix_web::test]
async fn browser_create_import_and_delete_key_pairs_and_create_a_firewall() {
    use fantoccini::Locator;
    let app = TestApp::spawn().await;
    let browser = crate::browser::Browser::start().await;
    let b = &browser.client;
    b.goto(&app.url("/login")).await.unwrap();
    b.find(Locator::Id("email")).await.unwrap().send_keys("manager@acme.test").await.unwrap();
    b.find(Locator::Id("password")).await.unwrap().send_keys("demo-password-1").await.unwrap();
    b.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("Machine Images").await;
    b.find(Locator::LinkText("Key Pairs")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("Acme Production has no key pairs yet").await;
    browser.screenshot("keypairs-empty").await;
    // Anything the Content-Security-Policy blocks is noted here.
    let watch = "window.cspViolations = []; document.addEventListener('securitypolicyviolation', \
                 function (e) { window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI); });";
    b.execute(watch, vec![]).await.unwrap();

    let submit =
        || async { b.find(Locator::Css("#keypair-form button[type=submit]")).await.unwrap().click().await.unwrap() };
    b.find(Locator::Id("keypair-name")).await.unwrap().send_keys("deploy").await.unwrap();
    submit().await;
    browser.wait_for_text("Created key pair “deploy”").await;
    let link = b.find(Locator::Css(r#"a[download="deploy.pem"]"#)).await.unwrap();
    assert!(link.attr("href").await.unwrap().unwrap().starts_with("data:application/x-pem-file;base64,"));
    assert_eq!(link.attr("data-auto-download").await.unwrap(), None, "the script started the download");
    assert!(b.current_url().await.unwrap().as_str().ends_with("/keypairs"), "the page stays");
    browser.screenshot("keypairs-created").await;

    // The same name again: the message at the field.
    b.find(Locator::Id("keypair-name")).await.unwrap().send_keys("deploy").await.unwrap();
    submit().await;
    browser.wait_for_text("already has a key pair named “deploy”").await;
    browser.screenshot("keypairs-duplicate").await;
    let flash = b.find(Locator::Id("flash")).await.unwrap().text().await.unwrap();
    assert!(!flash.contains("Created key pair"), "the last action's message went: {flash}");
    let focused = b.active_element().await.unwrap().attr("id").await.unwrap();
    assert_eq!(focused.as_deref(), Some("keypair-name"), "focus on the field in error");

    // Import a public key: it waits for its job, and the list follows.
    let name = b.find(Locator::Id("keypair-name")).await.unwrap();
    name.clear().await.unwrap();
    name.send_keys("laptop").await.unwrap();
    b.find(Locator::Id("keypair-public-key")).await.unwrap().send_keys(ED25519).await.unwrap();
    submit().await;
    browser.wait_for_text("Importing “laptop”").await;
    browser.screenshot("keypairs-importing").await;
    app.run_jobs().await;
    wait_until_gone(&browser, "laptop importing").await;
    browser.screenshot("keypairs").await;

    // Delete, after the confirm dialog.
    b.find(Locator::Css(r#"summary[aria-label="Actions for laptop"]"#)).await.unwrap().click().await.unwrap();
    b.find(Locator::LinkText("Delete…")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("Are you sure you want to delete laptop?").await;
    browser.screenshot("keypairs-delete").await;
    b.find(Locator::Css("#modal button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("Deleted key pair “laptop”").await;
    let violations = b.execute("return window.cspViolations;", vec![]).await.unwrap();
    assert_eq!(violations, serde_json::json!([]), "nothing was blocked");

    // A firewall: pending until its job has run.
    b.find(Locator::LinkText("Firewalls")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("No firewalls of Acme Production are known yet").await;
    b.find(Locator::Id("firewall-name")).await.unwrap().send_keys("web").await.unwrap();
    b.find(Locator::Id("firewall-description")).await.unwrap().send_keys("HTTPS from anywhere").await.unwrap();
    b.find(Locator::Css("#firewall-form button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("Creating firewall “web”").await;
    browser.screenshot("firewalls-pending").await;
    // Its page, opened while the provider makes it, follows it: the group
    // id and the rule form arrive without a reload, and focus stays put.
    b.find(Locator::LinkText("web")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("none yet: the provider is making it").await;
    browser.screenshot("firewall-being-made").await;
    b.execute("document.querySelector('.crumbs a').focus();", vec![]).await.unwrap();
    let mut conn = app.db().await;
    db::jobs::enqueue_sync(&mut conn, app.demo.acme_production, "sync_firewalls", 2).await.unwrap();
    app.run_jobs().await;
    browser.wait_for_text("Add a rule").await;
    let focused = "return document.activeElement.matches('.crumbs a');";
    assert!(browser.script_bool(focused).await, "the poll left the focus where it was");
    browser.screenshot("firewall-made").await;
    b.goto(&app.url("/firewalls")).await.unwrap();
    browser.wait_for_text("default").await;
    browser.screenshot("firewalls").await;
    b.clone().close().await.unwrap();
}

/// A key-pair sync that lists a key pair the Key Pairs page has just made at
/// the provider, and writes its row before the page does: the page takes
/// that row, of the same key, as the key pair it made. It neither refuses
/// the name nor deletes the key at the provider, and offers the private key.
#[actix_web::test]
async fn a_sync_that_writes_a_new_key_pair_before_its_create_does_is_the_create_s_row() {
    use diesel_async::{AsyncConnection, TransactionManager as _};

    use crate::harness::until_one_waits;

    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let account = app.demo.acme_production;
    let number = app.demo.numbers.production.clone();
    // A key pair of the name gone at the provider long ago; the sync below
    // holds its row, so the create's write waits until the sync commits.
    let gone = format!(
        "INSERT INTO key_pairs (account_id, name, fingerprint, active) VALUES ({account}, 'racer', 'old', false) \
         RETURNING id AS n"
    );
    let gone = count(&mut conn, &gone).await;
    let mut syncing = app.db().await;
    let (locked_tx, locked) = tokio::sync::oneshot::channel::<()>();
    let (go, go_rx) = tokio::sync::oneshot::channel::<()>();
    let sync = actix_web::rt::spawn(async move {
        type Manager = <AsyncPgConnection as AsyncConnection>::TransactionManager;
        Manager::begin_transaction(&mut syncing).await.unwrap();
        let lock = format!("SELECT id AS n FROM key_pairs WHERE id = {gone} FOR UPDATE");
        count(&mut syncing, &lock).await;
        locked_tx.send(()).unwrap();
        go_rx.await.unwrap();
        let listed: Vec<_> = at_provider(&number)
            .await
            .list_key_pairs()
            .await
            .unwrap()
            .into_iter()
            .map(|k| (k.name, k.fingerprint, k.id))
            .collect();
        assert!(listed.iter().any(|(name, _, _)| name == "racer"), "the provider made it");
        db::sync::key_pairs(&mut syncing, account, &listed).await.unwrap();
        Manager::commit_transaction(&mut syncing).await.unwrap();
    });
    locked.await.unwrap();
    let mut client = app.signed_in("configurator@acme.test").await;
    let create = actix_web::rt::spawn(async move { client.post_htmx("/keypairs", &[("name", "racer")]).await });
    until_one_waits(&mut conn, "the create's write").await;
    go.send(()).unwrap();
    sync.await.unwrap();
    let created = create.await.unwrap();

    assert_eq!(created.status, StatusCode::OK, "{}", text(&created.body));
    assert!(text(&created.body).contains("Created key pair “racer”"), "{}", text(&created.body));
    let pem = private_key_in(&created.body).expect("the private key, offered for download");
    assert!(pem.contains("PRIVATE KEY-----"), "{pem}");
    let stored = rows(&mut conn, account).await;
    let listed = at_provider(&app.demo.numbers.production).await.list_key_pairs().await.unwrap();
    let at_provider = listed.iter().find(|k| k.name == "racer").expect("still at the provider");
    let [(id, name, fingerprint, _, state)] = &stored[..] else { panic!("one key pair: {stored:?}") };
    assert_eq!((name.as_str(), state.as_str(), fingerprint), ("racer", "ACTIVE", &at_provider.fingerprint));
    let events = format!(
        "SELECT count(*) AS n FROM audit_events WHERE resource = 'KEYPAIR' AND action = 'create' AND resource_id = '{id}'"
    );
    assert_eq!(count(&mut conn, &events).await, 1, "the create is audited on the row it took");
}
