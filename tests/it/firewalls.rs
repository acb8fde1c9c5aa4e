//! The Firewalls page against the local EC2 endpoint: a new firewall waits
//! for its job, syncs keep the waiting row, delete goes through a job, the
//! rules at the field, and who may do which.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use reqwest::StatusCode;
use stratus_console::cloud::CloudProvider;
use stratus_console::db::{self, schema::*};

use crate::harness::{Response, TestApp, count, text};
use crate::keypairs::at_provider;

/// The account's listed firewall called `name`: `(id, provider id, state)`.
async fn firewall(conn: &mut AsyncPgConnection, account: i64, name: &str) -> Option<(i64, Option<String>, String)> {
    firewalls::table
        .filter(firewalls::account_id.eq(account))
        .filter(firewalls::name.eq(name))
        .filter(firewalls::active.eq(true))
        .select((firewalls::id, firewalls::provider_id, firewalls::state))
        .first(conn)
        .await
        .optional()
        .unwrap()
}

async fn synced(app: &TestApp, conn: &mut AsyncPgConnection, account: i64) {
    db::jobs::enqueue_sync(conn, account, "sync_firewalls", 2).await.unwrap();
    app.run_jobs().await;
}

#[actix_web::test]
async fn a_new_firewall_waits_for_its_job_then_has_its_group_id() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let account = app.demo.acme_production;
    let mut client = app.signed_in("configurator@acme.test").await;
    assert!(text(&client.get("/firewalls").await.body).contains("No firewalls of Acme Production are known yet"));

    let created =
        client.post_htmx("/firewalls", &[("name", "web (public)"), ("description", "HTTPS from anywhere")]).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let shown = text(&created.body);
    assert!(shown.contains("Creating firewall “web (public)”"), "{shown}");
    assert!(shown.contains("web (public) creating HTTPS from anywhere"), "pending in the list: {shown}");
    assert!(created.body.contains(r#"hx-trigger="every 2s""#), "the list polls while it waits");
    let (id, provider_id, state) = firewall(&mut conn, account, "web (public)").await.unwrap();
    assert_eq!((provider_id, state.as_str()), (None, "PENDING"));
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'create_security_group'").await, 1);
    let events =
        count(&mut conn, "SELECT count(*) AS n FROM audit_events WHERE resource = 'FIREWALL' AND action = 'create'")
            .await;
    assert_eq!(events, 1);

    // A sync that runs before the job keeps the waiting row.
    diesel::sql_query("UPDATE jobs SET run_after = now() + interval '1 hour' WHERE kind = 'create_security_group'")
        .execute(&mut conn)
        .await
        .unwrap();
    synced(&app, &mut conn, account).await;
    assert_eq!(firewall(&mut conn, account, "web (public)").await.unwrap().2, "PENDING");
    assert!(firewall(&mut conn, account, "default").await.is_some(), "the provider's own came with the sync");

    diesel::sql_query("UPDATE jobs SET run_after = now() WHERE kind = 'create_security_group'")
        .execute(&mut conn)
        .await
        .unwrap();
    app.run_jobs().await;
    let groups = at_provider(&app.demo.numbers.production).await.list_security_groups().await.unwrap();
    let group = groups.iter().find(|g| g.name == "web (public)").expect("the provider has the group");
    assert_eq!(group.description, "HTTPS from anywhere");
    let (same, provider_id, state) = firewall(&mut conn, account, "web (public)").await.unwrap();
    assert_eq!((same, provider_id.as_deref(), state.as_str()), (id, Some(group.id.as_str()), "ACTIVE"));

    // A later sync finds the same group: one row, no twin.
    synced(&app, &mut conn, account).await;
    let rows = count(&mut conn, "SELECT count(*) AS n FROM firewalls WHERE name = 'web (public)' AND active").await;
    assert_eq!(rows, 1);
    let list = client.get_htmx("/firewalls", "firewall-list").await;
    assert!(list.body.contains(&group.id) && !list.body.contains("hx-trigger"), "{}", list.body);
}

#[actix_web::test]
async fn a_sync_that_finds_the_group_before_its_job_stores_the_id_takes_the_waiting_row() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let account = app.demo.acme_production;
    let mut client = app.signed_in("admin@acme.test").await;
    client.post_htmx("/firewalls", &[("name", "db"), ("description", "PostgreSQL from web")]).await;
    // The provider has it (the job's answer was lost, say), and a sync runs first.
    let ec2 = at_provider(&app.demo.numbers.production).await;
    let made = ec2.create_security_group("db", "PostgreSQL from web").await.unwrap();
    diesel::sql_query("UPDATE jobs SET run_after = now() + interval '1 hour' WHERE kind = 'create_security_group'")
        .execute(&mut conn)
        .await
        .unwrap();
    synced(&app, &mut conn, account).await;
    let (id, provider_id, state) = firewall(&mut conn, account, "db").await.unwrap();
    assert_eq!((provider_id.as_deref(), state.as_str()), (Some(made.id.as_str()), "ACTIVE"));

    // The job then meets "already exists" and settles on the same group.
    diesel::sql_query("UPDATE jobs SET run_after = now() WHERE kind = 'create_security_group'")
        .execute(&mut conn)
        .await
        .unwrap();
    app.run_jobs().await;
    let state: String =
        jobs::table.filter(jobs::kind.eq("create_security_group")).select(jobs::state).first(&mut conn).await.unwrap();
    assert_eq!(state, "COMPLETE");
    assert_eq!(firewall(&mut conn, account, "db").await.unwrap(), (id, Some(made.id), "ACTIVE".to_owned()));
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM firewalls WHERE name = 'db'").await, 1);
}

fn field_error(response: &Response, field: &str) -> String {
    let marker = format!(r#"id="firewall-{field}-error" role="alert">"#);
    let start = response.body.find(&marker).unwrap_or_else(|| panic!("no error at {field}: {}", response.body));
    text(response.body[start + marker.len()..].split("</p>").next().unwrap())
}

#[actix_web::test]
async fn names_and_descriptions_follow_the_provider_rules_at_the_field() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut client = app.signed_in("manager@acme.test").await;

    let sg = client.post_htmx("/firewalls", &[("name", "sg-web"), ("description", "")]).await;
    assert_eq!(sg.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(field_error(&sg, "name").contains("cannot start with “sg-”"));
    assert_eq!(field_error(&sg, "description"), "Enter a description. The provider requires one.");
    let percent = client.post("/firewalls", &[("name", "web 100%"), ("description", "x")]).await;
    assert_eq!(percent.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(percent.body.contains("<!doctype html>"), "a plain form gets the page");
    assert!(field_error(&percent, "name").contains("not “%”"));
    assert!(percent.body.contains(r#"value="web 100%""#), "what was typed stays");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM firewalls").await, 0);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs").await, 0);

    let first = client.post("/firewalls", &[("name", "web"), ("description", "HTTP")]).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "POST-redirect-GET");
    assert!(text(&client.get("/firewalls").await.body).contains("Creating firewall “web”"));
    let twin = client.post_htmx("/firewalls", &[("name", "web"), ("description", "again")]).await;
    assert_eq!(twin.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field_error(&twin, "name"), "Acme Production already has a firewall named “web”.");
    // EC2's group names are unique in any case: "WEB" is the same name.
    let shouted = client.post_htmx("/firewalls", &[("name", "WEB"), ("description", "again")]).await;
    assert_eq!(shouted.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field_error(&shouted, "name"), "Acme Production already has a firewall named “web”.");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM firewalls").await, 1);
}

#[actix_web::test]
async fn delete_goes_through_a_job_and_is_refused_for_used_and_default_firewalls() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let account = app.demo.acme_production;
    let mut client = app.signed_in("manager@acme.test").await;
    client.post_htmx("/firewalls", &[("name", "web"), ("description", "HTTP")]).await;
    client.post_htmx("/firewalls", &[("name", "db"), ("description", "PostgreSQL")]).await;
    synced(&app, &mut conn, account).await;
    let (web, Some(web_group), _) = firewall(&mut conn, account, "web").await.unwrap() else { panic!("made") };
    let (db_id, ..) = firewall(&mut conn, account, "db").await.unwrap();
    let (default, ..) = firewall(&mut conn, account, "default").await.unwrap();
    diesel::sql_query(format!(
        "INSERT INTO servers (account_id, provider_image_id, name, product_id, budget_code_id, firewall_ids, state)
         SELECT {account}, (SELECT min(id) FROM provider_images), 'db-1', 't3.small',
                (SELECT min(id) FROM budget_codes), ARRAY[{db_id}, {default}], 'PAUSED'"
    ))
    .execute(&mut conn)
    .await
    .unwrap();

    let page = client.get("/firewalls").await;
    assert!(page.body.contains(&format!("/firewalls/{web}/delete")));
    assert!(!page.body.contains(&format!("/firewalls/{db_id}/delete")), "used: no Delete");
    assert!(!page.body.contains(&format!("/firewalls/{default}/delete")), "default: no Delete");
    let used = client.post_htmx(&format!("/firewalls/{db_id}/delete"), &[]).await;
    assert_eq!(used.status, StatusCode::CONFLICT);
    assert!(text(&used.body).contains("1 server launched with this firewall is pending, running or paused."));
    let own = client.get_htmx(&format!("/firewalls/{default}/delete"), "modal").await;
    assert!(text(&own.body).contains("Every network has this firewall"));
    assert_eq!(client.post(&format!("/firewalls/{default}/delete"), &[]).await.status, StatusCode::CONFLICT);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'delete_security_group'").await, 0);

    let dialog = client.get_htmx(&format!("/firewalls/{web}/delete"), "modal").await;
    assert!(text(&dialog.body).contains(&format!("The security group {web_group} is deleted at the cloud provider")));
    let deleted = client.post_htmx(&format!("/firewalls/{web}/delete"), &[]).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(deleted.header("HX-Trigger"), Some("close-dialog"));
    assert!(text(&deleted.body).contains("Deleted firewall “web”"));
    assert!(!deleted.body.contains(&format!("firewall-{web}\"")), "the row is gone from the list");
    synced(&app, &mut conn, account).await;
    let groups = at_provider(&app.demo.numbers.production).await.list_security_groups().await.unwrap();
    assert!(groups.iter().all(|g| g.id != web_group), "deleted at the provider");
    assert!(firewall(&mut conn, account, "web").await.is_none());
    assert_eq!(count(&mut conn, &format!("SELECT count(*) AS n FROM firewalls WHERE id = {web}")).await, 0);
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'delete_security_group' AND state = 'COMPLETE'")
            .await,
        1
    );
}

#[actix_web::test]
async fn rights_decide_who_creates_and_deletes_and_other_accounts_are_not_found() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut globex = app.signed_in("admin@globex.test").await;
    globex.post_htmx("/firewalls", &[("name", "globex-web"), ("description", "HTTP")]).await;
    let mut admin = app.signed_in("admin@acme.test").await;
    admin.post_htmx("/firewalls", &[("name", "web"), ("description", "HTTP")]).await;
    app.run_jobs().await;
    let (other, ..) = firewall(&mut conn, app.demo.globex_main, "globex-web").await.unwrap();
    let (web, ..) = firewall(&mut conn, app.demo.acme_production, "web").await.unwrap();
    let before = count(&mut conn, "SELECT count(*) AS n FROM firewalls").await;
    let jobs_before = count(&mut conn, "SELECT count(*) AS n FROM jobs").await;

    let mut viewer = app.signed_in("viewer@acme.test").await;
    let page = viewer.get("/firewalls").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(text(&page.body).contains("web") && !page.body.contains("firewall-form"));
    assert_eq!(viewer.post("/firewalls", &[("name", "x"), ("description", "y")]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(viewer.post(&format!("/firewalls/{web}/delete"), &[]).await.status, StatusCode::FORBIDDEN);
    let mut configurator = app.signed_in("configurator@acme.test").await;
    assert_eq!(configurator.post(&format!("/firewalls/{web}/delete"), &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(admin.get(&format!("/firewalls/{other}/delete")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(admin.post(&format!("/firewalls/{other}/delete"), &[]).await.status, StatusCode::NOT_FOUND);

    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM firewalls").await, before, "nothing changed");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs").await, jobs_before);
}
