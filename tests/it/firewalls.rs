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
    let waiting = client.get(&format!("/firewalls/{id}")).await;
    assert!(text(&waiting.body).contains("none yet: the provider is making it"), "{}", waiting.body);
    assert!(!waiting.body.contains("Add a rule"), "no rules before the provider has it");
    assert!(waiting.body.contains(r##"hx-select="#firewall-page""##), "the page asks again while it waits");
    let polled = client.poll(&format!("/firewalls/{id}"), "firewall-page").await;
    assert_eq!(polled.status, StatusCode::OK);
    assert!(polled.body.contains(r#"<div id="firewall-page""#), "the poll gets the page to select from");
    // Gone for this tab (another account chosen in another one): the page is
    // loaded again, whole, and shows that it is not found, once.
    let mut globex = app.signed_in("admin@globex.test").await;
    let gone = globex.poll(&format!("/firewalls/{id}"), "firewall-page").await;
    assert_eq!((gone.status, gone.header("hx-refresh")), (StatusCode::NOT_FOUND, Some("true")));
    assert!(gone.body.is_empty(), "no flash to repeat: {}", gone.body);
    let asked = globex.get_htmx(&format!("/firewalls/{id}"), "firewall-page").await;
    assert!(asked.header("hx-refresh").is_none() && text(&asked.body).contains("Not found"), "{}", asked.body);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'create_security_group'").await, 1);
    let events =
        count(&mut conn, "SELECT count(*) AS n FROM audit_events WHERE resource = 'FIREWALL' AND action = 'create'")
            .await;
    assert_eq!(events, 1);

    // A sync that runs before the job keeps the waiting row.
    hold_jobs(&mut conn, "create_security_group").await;
    synced(&app, &mut conn, account).await;
    assert_eq!(firewall(&mut conn, account, "web (public)").await.unwrap().2, "PENDING");
    assert!(firewall(&mut conn, account, "default").await.is_some(), "the provider's own came with the sync");

    release_jobs(&mut conn, "create_security_group").await;
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
    let ready = client.get_htmx(&format!("/firewalls/{id}"), "firewall-page").await;
    assert!(ready.body.contains(&group.id) && ready.body.contains("Add a rule"), "{}", ready.body);
    assert!(!ready.body.contains("hx-trigger"), "the page stops asking once the firewall is made");
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
    hold_jobs(&mut conn, "create_security_group").await;
    synced(&app, &mut conn, account).await;
    let (id, provider_id, state) = firewall(&mut conn, account, "db").await.unwrap();
    assert_eq!((provider_id.as_deref(), state.as_str()), (Some(made.id.as_str()), "ACTIVE"));

    // The job then meets "already exists" and settles on the same group.
    release_jobs(&mut conn, "create_security_group").await;
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

/// A firewall `name` of Acme Production made through its page and at the
/// provider: its row id and group id.
async fn made(app: &TestApp, client: &mut crate::harness::Client, name: &str) -> (i64, String) {
    let created = client.post_htmx("/firewalls", &[("name", name), ("description", "rules test")]).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    app.run_jobs().await;
    let mut conn = app.db().await;
    let (id, group, state) = firewall(&mut conn, app.demo.acme_production, name).await.unwrap();
    assert_eq!(state, "ACTIVE");
    (id, group.unwrap())
}

/// The firewall's rule rows: `(summary-ish key, state)`, in order.
async fn rules(conn: &mut AsyncPgConnection, firewall: i64) -> Vec<(String, Option<i32>, String, String)> {
    firewall_rules::table
        .filter(firewall_rules::firewall_id.eq(firewall))
        .order((firewall_rules::protocol, firewall_rules::from_port, firewall_rules::source))
        .select((firewall_rules::protocol, firewall_rules::from_port, firewall_rules::source, firewall_rules::state))
        .load(conn)
        .await
        .unwrap()
}

fn rule_error(response: &Response, field: &str) -> String {
    let marker = format!(r#"id="rule-{field}-error" role="alert">"#);
    let start = response.body.find(&marker).unwrap_or_else(|| panic!("no error at {field}: {}", response.body));
    text(response.body[start + marker.len()..].split("</p>").next().unwrap())
}

#[actix_web::test]
async fn a_rule_is_let_in_and_taken_out_at_the_provider_and_a_sync_reads_back_the_providers_own() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut client = app.signed_in("configurator@acme.test").await;
    let (id, group) = made(&app, &mut client, "web").await;
    let page = format!("/firewalls/{id}");
    let listed = client.get("/firewalls").await;
    assert!(listed.body.contains(&format!(r#"<a class="name" href="{page}">web</a>"#)), "the list links the page");
    let shown = client.get(&page).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(text(&shown.body).contains("“web” lets nothing in: add a rule below."), "{}", text(&shown.body));
    assert!(text(&shown.body).contains(&format!("Group ID {group}")));

    // Wrong input is told at its field, and nothing is written.
    let wrong = client
        .post_htmx(&format!("{page}/rules"), &[("protocol", "tcp"), ("ports", "ssh"), ("source", "10.0.0.1/8")])
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(rule_error(&wrong, "ports"), "Enter a port, like 22, or a range, like 8000-8080.");
    assert_eq!(rule_error(&wrong, "source"), "“10.0.0.1/8” is not the start of its block: did you mean 10.0.0.0/8?");
    assert!(wrong.body.contains(r#"value="ssh""#), "the form keeps what was typed");
    assert!(rules(&mut conn, id).await.is_empty());

    let ssh = [("protocol", "tcp"), ("ports", "22"), ("source", "10.0.0.0/8")];
    let added = client.post_htmx(&format!("{page}/rules"), &ssh).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let said = text(&added.body);
    assert!(said.contains("Adding the rule “TCP 22 from 10.0.0.0/8”"), "{said}");
    assert!(said.contains("TCP adding 22 10.0.0.0/8"), "the list shows it waiting: {said}");
    assert!(added.body.contains(r#"hx-trigger="every 2s""#), "the list polls while it waits");
    assert_eq!(rules(&mut conn, id).await, [("tcp".into(), Some(22), "10.0.0.0/8".into(), "PENDING".into())]);
    let events = "SELECT count(*) AS n FROM audit_events WHERE resource = 'FIREWALL' AND action = 'add_rule' \
                  AND changes ->> 'rule' = 'TCP 22 from 10.0.0.0/8'";
    assert_eq!(count(&mut conn, events).await, 1);
    let twice = client.post_htmx(&format!("{page}/rules"), &ssh).await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(rule_error(&twice, "source"), "“web” is letting TCP 22 from 10.0.0.0/8 in already: it is being added.");

    app.run_jobs().await;
    let ec2 = at_provider(&app.demo.numbers.production).await;
    let held = |groups: Vec<stratus_console::cloud::SecurityGroup>| {
        groups.into_iter().find(|g| g.id == group).unwrap().inbound.iter().map(|r| r.summary()).collect::<Vec<_>>()
    };
    assert_eq!(held(ec2.list_security_groups().await.unwrap()), ["TCP 22 from 10.0.0.0/8"]);
    assert_eq!(rules(&mut conn, id).await, [("tcp".into(), Some(22), "10.0.0.0/8".into(), "ACTIVE".into())]);
    let after = client.get_htmx(&page, "firewall-rules").await;
    assert!(!after.body.contains("hx-trigger") && !after.body.contains("<html"), "the list alone, settled");
    let again = client.post_htmx(&format!("{page}/rules"), &ssh).await;
    assert_eq!(rule_error(&again, "source"), "“web” lets TCP 22 from 10.0.0.0/8 in already.");

    // Rules made at the provider come with the sync; one taken out there goes.
    let dns = stratus_console::domain::firewalls::Rule::parse("udp", "53", "::/0").unwrap();
    ec2.authorize_ingress(&group, &dns).await.unwrap();
    synced(&app, &mut conn, app.demo.acme_production).await;
    assert_eq!(rules(&mut conn, id).await.len(), 2);
    assert!(text(&client.get(&page).await.body).contains("UDP 53 anywhere (IPv6)"));
    let ids = "SELECT sum(id)::bigint AS n FROM firewall_rules";
    let before = count(&mut conn, ids).await;
    synced(&app, &mut conn, app.demo.acme_production).await;
    assert_eq!(count(&mut conn, ids).await, before, "a sync with nothing new keeps the same rows");
    ec2.revoke_ingress(&group, &dns).await.unwrap();
    synced(&app, &mut conn, app.demo.acme_production).await;
    assert_eq!(rules(&mut conn, id).await.len(), 1);

    // Remove, as a plain form: back to the page, removing until the job ran.
    let rule_id: i64 = firewall_rules::table
        .filter(firewall_rules::firewall_id.eq(id))
        .select(firewall_rules::id)
        .first(&mut conn)
        .await
        .unwrap();
    let removed = client.post(&format!("{page}/rules/{rule_id}/delete"), &[]).await;
    assert_eq!((removed.status, removed.location()), (StatusCode::SEE_OTHER, Some(page.as_str())));
    let back = text(&client.get(&page).await.body);
    assert!(back.contains("Removing the rule “TCP 22 from 10.0.0.0/8”"), "{back}");
    assert!(back.contains("TCP removing 22"), "{back}");
    let refused = client.post(&format!("{page}/rules/{rule_id}/delete"), &[]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(text(&refused.body).contains("The rule “TCP 22 from 10.0.0.0/8” is being removed already."));
    app.run_jobs().await;
    assert!(held(ec2.list_security_groups().await.unwrap()).is_empty(), "the provider took it out");
    assert!(rules(&mut conn, id).await.is_empty());
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM audit_events WHERE action = 'remove_rule'").await, 1);
}

#[actix_web::test]
async fn a_rule_the_provider_refuses_fails_with_its_reason_and_is_only_removed_here() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let (id, _) = made(&app, &mut client, "doomed").await;
    // A rule from another firewall (made at the provider, say) that the
    // provider no longer has: the page takes address blocks only.
    let admin = crate::admin_users::user_id(&mut conn, "admin@acme.test").await;
    let acting = crate::harness::Acting::as_user(&mut conn, admin, app.demo.acme_production).await;
    let gone = stratus_console::domain::firewalls::Rule {
        protocol: "tcp".into(),
        from_port: Some(5432),
        to_port: Some(5432),
        source: "sg-0123456789abcdef0".into(),
    };
    let settings = stratus_console::jobs::JobSettings::default();
    stratus_console::changes::firewalls::add_rule(&mut conn, &acting.actor(), &settings, id, &gone).await.unwrap();
    app.run_jobs().await;
    let failed: (String, Option<String>) = firewall_rules::table
        .filter(firewall_rules::firewall_id.eq(id))
        .select((firewall_rules::state, firewall_rules::last_error))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(failed.0, "ERROR");
    assert!(failed.1.as_deref().unwrap().starts_with("Adding the rule failed: "), "{failed:?}");
    let page = format!("/firewalls/{id}");
    let shown = text(&client.get(&page).await.body);
    assert!(shown.contains("TCP failed Adding the rule failed:"), "{shown}");
    assert!(shown.contains("5432 firewall sg-0123456789abcdef0 Remove"), "{shown}");
    let rule_id: i64 = firewall_rules::table.select(firewall_rules::id).first(&mut conn).await.unwrap();
    let jobs_before = count(&mut conn, "SELECT count(*) AS n FROM jobs").await;
    let removed = client.post_htmx(&format!("{page}/rules/{rule_id}/delete"), &[]).await;
    assert_eq!(removed.status, StatusCode::OK);
    assert!(text(&removed.body).contains("Removed the rule “TCP 5432 from firewall sg-0123456789abcdef0”"));
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM firewall_rules").await, 0);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs").await, jobs_before, "nothing for the provider");
}

#[actix_web::test]
async fn rules_need_configure_a_ready_firewall_and_the_account_and_the_api_says_the_same() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let (id, _) = made(&app, &mut admin, "api-web").await;
    let mut globex = app.signed_in("admin@globex.test").await;
    let ssh = [("protocol", "tcp"), ("ports", "22"), ("source", "0.0.0.0/0")];
    assert_eq!(globex.get(&format!("/firewalls/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(globex.post(&format!("/firewalls/{id}/rules"), &ssh).await.status, StatusCode::NOT_FOUND);
    let mut viewer = app.signed_in("viewer@acme.test").await;
    let seen = viewer.get(&format!("/firewalls/{id}")).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(!seen.body.contains("rule-form") && text(&seen.body).contains("“api-web” lets nothing in."));
    assert_eq!(viewer.post(&format!("/firewalls/{id}/rules"), &ssh).await.status, StatusCode::FORBIDDEN);
    // A firewall the provider has not made yet takes no rules.
    admin.post_htmx("/firewalls", &[("name", "waiting"), ("description", "not yet")]).await;
    let (waiting, ..) = firewall(&mut conn, app.demo.acme_production, "waiting").await.unwrap();
    let early = admin.post(&format!("/firewalls/{waiting}/rules"), &ssh).await;
    assert_eq!(early.status, StatusCode::CONFLICT);
    assert!(
        text(&early.body)
            .contains("The provider has not made the firewall “waiting” yet: it takes rules once it is ready.")
    );
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM firewall_rules").await, 0);

    let token = crate::api::make_token(&mut admin, "rules", app.demo.acme_production, "write").await;
    let api = crate::api::Api::new(&app, &token);
    let path = format!("/api/v1/firewalls/{id}/rules");
    let bad =
        api.send(reqwest::Method::POST, &path, Some(serde_json::json!({ "protocol": "tcp", "source": "::/0" }))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.json);
    assert!(bad.json.to_string().contains("Enter a port"), "{}", bad.json);
    let body = serde_json::json!({ "protocol": "tcp", "ports": "443", "source": "0.0.0.0/0" });
    let added = api.send(reqwest::Method::POST, &path, Some(body)).await;
    assert_eq!(added.status, StatusCode::ACCEPTED, "{}", added.json);
    assert_eq!(
        (&added.json["summary"], &added.json["state"], &added.json["ports"]),
        (&serde_json::json!("TCP 443 from anywhere (IPv4)"), &serde_json::json!("PENDING"), &serde_json::json!("443"))
    );
    app.run_jobs().await;
    let detail = api.get(&format!("/api/v1/firewalls/{id}")).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert_eq!(
        (&detail.json["name"], &detail.json["rules"][0]["state"]),
        (&serde_json::json!("api-web"), &serde_json::json!("ACTIVE"))
    );
    let rule = detail.json["rules"][0]["id"].as_i64().unwrap();
    let gone = api.send(reqwest::Method::DELETE, &format!("{path}/{rule}"), None).await;
    assert_eq!((gone.status, &gone.json["at_provider"]), (StatusCode::OK, &serde_json::json!(true)));
    let globex_token = crate::api::make_token(&mut globex, "rules", app.demo.globex_main, "write").await;
    let other = crate::api::Api::new(&app, &globex_token).get(&format!("/api/v1/firewalls/{id}")).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn rule_jobs_run_in_order_and_a_sync_never_undoes_them() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let account = app.demo.acme_production;
    let mut client = app.signed_in("admin@acme.test").await;
    let (id, group) = made(&app, &mut client, "ordered").await;
    let page = format!("/firewalls/{id}");
    let ec2 = at_provider(&app.demo.numbers.production).await;
    let ssh = [("protocol", "tcp"), ("ports", "22"), ("source", "198.51.100.0/24")];
    let rule = stratus_console::domain::firewalls::Rule::parse("tcp", "22", "198.51.100.0/24").unwrap();

    // The provider has the rule while its job still waits to retry (an
    // answer lost): a sync leaves the waiting rule to its job.
    client.post(&format!("{page}/rules"), &ssh).await;
    hold_jobs(&mut conn, "authorize_ingress").await;
    ec2.authorize_ingress(&group, &rule).await.unwrap();
    synced(&app, &mut conn, account).await;
    assert_eq!(rules(&mut conn, id).await, [("tcp".into(), Some(22), "198.51.100.0/24".into(), "PENDING".into())]);
    let busy = client.post(&format!("{page}/rules/{}/delete", rule_id(&mut conn, id).await), &[]).await;
    assert_eq!(busy.status, StatusCode::CONFLICT, "a rule being added is not removed yet");
    release_jobs(&mut conn, "authorize_ingress").await;
    app.run_jobs().await;
    assert_eq!(rules(&mut conn, id).await[0].3, "ACTIVE");

    // A listing taken before a job changed the rules is stale for them.
    let before_removal = db::sync::clock(&mut conn).await.unwrap();
    let listing = ec2.list_security_groups().await.unwrap();
    let removed = client.post(&format!("{page}/rules/{}/delete", rule_id(&mut conn, id).await), &[]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    app.run_jobs().await;
    assert!(rules(&mut conn, id).await.is_empty());
    db::sync::firewalls(&mut conn, account, &listing, before_removal).await.unwrap();
    assert!(rules(&mut conn, id).await.is_empty(), "the stale listing does not bring the removed rule back");
    let later = db::sync::clock(&mut conn).await.unwrap();
    db::sync::firewalls(&mut conn, account, &listing, later).await.unwrap();
    assert_eq!(rules(&mut conn, id).await.len(), 1, "a listing taken after the change is read as it is");
    synced(&app, &mut conn, account).await;
    assert!(rules(&mut conn, id).await.is_empty(), "and the provider's own listing settles it");

    // A removal queued behind an adding that waits to retry waits for it.
    client.post(&format!("{page}/rules"), &ssh).await;
    app.run_jobs().await;
    diesel::sql_query(
        "UPDATE jobs SET state = 'QUEUED', run_after = now() + interval '1 hour'
          WHERE id = (SELECT max(id) FROM jobs WHERE kind = 'authorize_ingress')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    client.post(&format!("{page}/rules/{}/delete", rule_id(&mut conn, id).await), &[]).await;
    app.run_jobs().await;
    let revoke = "SELECT count(*) AS n FROM jobs WHERE kind = 'revoke_ingress' AND state = 'QUEUED'";
    assert_eq!(count(&mut conn, revoke).await, 1, "the removal waits behind the adding");
    release_jobs(&mut conn, "authorize_ingress").await;
    app.run_jobs().await;
    assert_eq!(count(&mut conn, revoke).await, 0);
    let inbound = ec2.list_security_groups().await.unwrap().into_iter().find(|g| g.id == group).unwrap().inbound;
    assert!(inbound.is_empty(), "removed last, as asked last: {inbound:?}");
    assert!(rules(&mut conn, id).await.is_empty());
}

#[actix_web::test]
async fn a_firewall_is_deleted_after_the_rule_changes_asked_before_it() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let (id, group) = made(&app, &mut client, "short-lived").await;
    let page = format!("/firewalls/{id}");
    let ssh = [("protocol", "tcp"), ("ports", "22"), ("source", "198.51.100.0/24")];
    client.post(&format!("{page}/rules"), &ssh).await;
    // The adding waits to retry (a provider that was busy, say) when the
    // firewall is deleted.
    hold_jobs(&mut conn, "authorize_ingress").await;
    let deleted = client.post(&format!("/firewalls/{id}/delete"), &[]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    assert_eq!(firewall(&mut conn, app.demo.acme_production, "short-lived").await.unwrap().2, "DELETING");

    // It is gone from the console's view, its rules with it: they take no
    // change meanwhile.
    assert_eq!(client.get(&page).await.status, StatusCode::NOT_FOUND);
    let added =
        client.post(&format!("{page}/rules"), &[("protocol", "all"), ("ports", ""), ("source", "10.0.0.0/8")]).await;
    assert_eq!(added.status, StatusCode::NOT_FOUND);
    let removed = client.post(&format!("{page}/rules/{}/delete", rule_id(&mut conn, id).await), &[]).await;
    assert_eq!(removed.status, StatusCode::NOT_FOUND);
    let rule_jobs = "SELECT count(*) AS n FROM jobs WHERE kind IN ('authorize_ingress', 'revoke_ingress')";
    assert_eq!(count(&mut conn, rule_jobs).await, 1, "only the first adding");

    app.run_jobs().await;
    let delete = "SELECT count(*) AS n FROM jobs WHERE kind = 'delete_security_group' AND state = 'QUEUED'";
    assert_eq!(count(&mut conn, delete).await, 1, "the deletion waits behind the adding");
    release_jobs(&mut conn, "authorize_ingress").await;
    app.run_jobs().await;
    let unfinished = "SELECT count(*) AS n FROM jobs WHERE state <> 'COMPLETE' AND kind IN ('authorize_ingress', 'delete_security_group')";
    let failed = count(&mut conn, unfinished).await;
    assert_eq!(failed, 0, "the adding ran on the group, then the group went");
    let ec2 = at_provider(&app.demo.numbers.production).await;
    assert!(ec2.list_security_groups().await.unwrap().iter().all(|g| g.id != group), "gone at the provider");
    assert!(firewall(&mut conn, app.demo.acme_production, "short-lived").await.is_none());
    assert!(rules(&mut conn, id).await.is_empty(), "its rules went with it");
}

/// Jobs of `kind` wait an hour to run (a retry's backoff, say).
async fn hold_jobs(conn: &mut AsyncPgConnection, kind: &str) {
    diesel::sql_query("UPDATE jobs SET run_after = now() + interval '1 hour' WHERE kind = $1")
        .bind::<diesel::sql_types::Text, _>(kind)
        .execute(conn)
        .await
        .unwrap();
}

/// Jobs of `kind` may run now.
async fn release_jobs(conn: &mut AsyncPgConnection, kind: &str) {
    diesel::sql_query("UPDATE jobs SET run_after = now() WHERE kind = $1")
        .bind::<diesel::sql_types::Text, _>(kind)
        .execute(conn)
        .await
        .unwrap();
}

/// The id of the firewall's one rule.
async fn rule_id(conn: &mut AsyncPgConnection, firewall: i64) -> i64 {
    firewall_rules::table
        .filter(firewall_rules::firewall_id.eq(firewall))
        .select(firewall_rules::id)
        .first(conn)
        .await
        .unwrap()
}
