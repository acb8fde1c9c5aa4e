//! The launch dialog and the servers it starts, against a real PostgreSQL
//! and the local EC2 endpoint.

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use reqwest::StatusCode;
use stratus_console::cloud::ec2::Ec2Provider;
use stratus_console::db::{self, schema::*};

use crate::cloud::{connection, endpoint};
use crate::harness::{Acting, Client, Held, Response, TestApp, count, hold_open, text, until_one_waits};

async fn record_id(conn: &mut AsyncPgConnection, account: i64, name: &str) -> i64 {
    image_records::table
        .filter(image_records::account_id.eq(account))
        .filter(image_records::name.eq(name))
        .select(image_records::id)
        .first(conn)
        .await
        .unwrap()
}

async fn code_id(conn: &mut AsyncPgConnection, name: &str) -> String {
    let id: i64 =
        budget_codes::table.filter(budget_codes::name.eq(name)).select(budget_codes::id).first(conn).await.unwrap();
    id.to_string()
}

async fn default_firewall(conn: &mut AsyncPgConnection, account: i64) -> String {
    let id: i64 = firewalls::table
        .filter(firewalls::account_id.eq(account))
        .filter(firewalls::name.eq("default"))
        .select(firewalls::id)
        .first(conn)
        .await
        .unwrap();
    id.to_string()
}

/// A valid launch form, changed by `with` (a field set to "" is dropped).
fn form(base: &[(&str, String)], with: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = base.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    for (key, value) in with {
        fields.retain(|(k, _)| k != key);
        if !value.is_empty() {
            fields.push(((*key).to_owned(), (*value).to_owned()));
        }
    }
    fields
}

async fn post(client: &mut Client, path: &str, fields: &[(String, String)]) -> Response {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    client.post_htmx(path, &fields).await
}

struct World {
    app: TestApp,
    conn: AsyncPgConnection,
    client: Client,
    base: Vec<(&'static str, String)>,
    image: i64,
}

/// The demo world synced from the provider (sizes, zones, firewalls), the
/// admin signed in, and a valid form for launching `web-frontend-2026.11`.
async fn world() -> World {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    for kind in ["sync_products", "sync_zones", "sync_firewalls", "sync_key_pairs"] {
        db::jobs::enqueue_sync(&mut conn, app.demo.acme_production, kind, 2).await.unwrap();
    }
    app.run_jobs().await;
    let client = app.signed_in("admin@acme.test").await;
    let image = record_id(&mut conn, app.demo.acme_production, "web-frontend-2026.11").await;
    let base = vec![
        ("step", "launch".to_owned()),
        ("tab", "general".to_owned()),
        ("idempotency_key", uuid::Uuid::new_v4().to_string()),
        ("name", "web".to_owned()),
        ("count", "1".to_owned()),
        ("label", "blue".to_owned()),
        ("budget_code_id", code_id(&mut conn, "Default").await),
        ("product_id", "t3.micro".to_owned()),
        ("firewall_ids", default_firewall(&mut conn, app.demo.acme_production).await),
        ("key_choice", "none".to_owned()),
        ("volumes", "none".to_owned()),
        ("config_type", "none".to_owned()),
    ];
    World { app, conn, client, base, image }
}

#[actix_web::test]
async fn a_launch_writes_servers_jobs_and_audit_once_and_the_provider_gets_every_setting() {
    let mut w = world().await;
    let dialog = w.client.get_htmx(&format!("/images/{}/launch", w.image), "modal").await;
    assert_eq!(dialog.status, StatusCode::OK);
    let shown = text(&dialog.body);
    for tab in ["General", "Key Pair", "Volume Configuration", "Configuration Management", "Launch Server", "Cancel"] {
        assert!(shown.contains(tab), "{tab} in {shown}");
    }
    assert!(shown.contains("web-frontend-2026.11: Launch"));
    assert!(
        dialog.body.contains(r#"name="firewall_ids" value=""#) && dialog.body.contains(" checked>"),
        "default is preselected"
    );

    let fields = form(
        &w.base,
        &[
            ("count", "2"),
            ("volumes", "group"),
            ("volume_count", "2"),
            ("volume_size_gb", "10"),
            ("raid_level", "0"),
            ("file_system", "xfs"),
            ("mount_point", "/data"),
            ("encrypt", "on"),
            ("config_type", "script"),
            ("script", "#!/bin/sh\necho configured > /etc/motd\n"),
        ],
    );
    let path = format!("/images/{}/launch", w.image);
    let launched = post(&mut w.client, &path, &fields).await;
    assert_eq!(launched.status, StatusCode::OK, "{}", launched.body);
    assert_eq!(launched.header("HX-Trigger"), Some("close-dialog"));
    assert!(text(&launched.body).contains("Launching 2 servers"));
    let again = post(&mut w.client, &path, &fields).await;
    assert_eq!(again.status, StatusCode::OK, "the same form twice answers as once");
    assert!(text(&again.body).contains("This launch form was sent already: nothing more was launched."));

    let names: Vec<String> = servers::table
        .filter(servers::account_id.eq(w.app.demo.acme_production))
        .filter(servers::name.like("web-_"))
        .order(servers::name)
        .select(servers::name)
        .load(&mut w.conn)
        .await
        .unwrap();
    assert_eq!(names, ["web-1", "web-2"], "launched once");
    assert_eq!(count(&mut w.conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'run_instance'").await, 2);
    assert_eq!(count(&mut w.conn, "SELECT count(*) AS n FROM audit_events WHERE action = 'launch'").await, 2);

    w.app.run_jobs().await;
    let states: Vec<(String, Option<String>, bool)> = servers::table
        .filter(servers::name.like("web-_"))
        .select((servers::state, servers::provider_instance_id, servers::ready_at.is_not_null()))
        .load(&mut w.conn)
        .await
        .unwrap();
    assert!(states.iter().all(|(state, id, ready)| state == "RUNNING" && id.is_some() && *ready), "{states:?}");
    let recorded = "SELECT count(*) AS n FROM servers WHERE name LIKE 'web-_' AND instance_recorded_at IS NOT NULL";
    assert_eq!(count(&mut w.conn, recorded).await, 2, "when the instances' ids came is kept (the sync's grace)");

    let ec2 = Ec2Provider::connect(&connection(&w.app.demo.numbers.production, endpoint())).await.unwrap();
    let instance = states[0].1.clone().unwrap();
    let details = ec2.instance_details(&instance).await.unwrap();
    assert_eq!(details.instance_type, "t3.micro");
    assert_eq!(details.security_group_ids.len(), 1, "the default firewall");
    let mut volumes = details.volumes.clone();
    volumes.sort();
    assert_eq!(
        volumes,
        [("/dev/sdf".to_owned(), 10, true), ("/dev/sdg".to_owned(), 10, true)],
        "encrypted by the provider"
    );
    let user_data = details.user_data.expect("user data");
    assert!(user_data.starts_with("#cloud-config"), "{user_data}");
    assert!(user_data.contains("mdadm") && user_data.contains("/data"), "{user_data}");
    assert!(user_data.contains("echo configured > /etc/motd"), "the script arrives whole");

    let page = text(&w.client.get("/servers").await.body);
    assert!(page.contains("web-1") && page.contains("ready"), "{page}");
}

#[actix_web::test]
async fn every_bad_field_is_refused_at_its_tab_and_nothing_is_created() {
    let mut w = world().await;
    let path = format!("/images/{}/launch", w.image);
    let globex: i64 =
        companies::table.filter(companies::name.eq("Globex")).select(companies::id).first(&mut w.conn).await.unwrap();
    let globex_code: i64 = budget_codes::table
        .filter(budget_codes::company_id.eq(globex))
        .select(budget_codes::id)
        .first(&mut w.conn)
        .await
        .unwrap();
    let globex_code = globex_code.to_string();
    let long_script = format!("#!/bin/sh\n{}", "echo 0123456789abcdef\n".repeat(900));
    let group = [
        ("volumes", "group"),
        ("volume_count", "2"),
        ("volume_size_gb", "10"),
        ("raid_level", "0"),
        ("file_system", "xfs"),
        ("mount_point", "/data"),
    ];
    // (changed fields, the tab that shows the error, the message)
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (vec![("count", "0")], "tab-general", "Launch from 1 to 20 servers"),
        (vec![("count", "21")], "tab-general", "Launch from 1 to 20 servers"),
        (vec![("name", "web/1")], "tab-general", "cannot be used"),
        (vec![("budget_code_id", &globex_code)], "tab-general", "Choose one of your budget codes."),
        (vec![("product_id", "x9.imaginary")], "tab-general", "Choose a product"),
        (vec![("firewall_ids", "999999")], "tab-general", "Choose firewalls of this account."),
        (
            vec![("key_choice", "existing"), ("key_pair", "nobody's")],
            "tab-key-pair",
            "Choose one of this account's key pairs.",
        ),
        ([&group[..], &[("volume_size_gb", "0")]].concat(), "tab-volumes", "1000"),
        ([&group[..], &[("volume_size_gb", "1001")]].concat(), "tab-volumes", "1000"),
        ([&group[..], &[("raid_level", "5")]].concat(), "tab-volumes", "RAID 5"),
        ([&group[..], &[("mount_point", "data")]].concat(), "tab-volumes", "absolute"),
        // Values no control offers, as a forged form sends them.
        (vec![("label", "bogus")], "tab-general", "“bogus” is not one of the labels."),
        (vec![("volumes", "bogus")], "tab-volumes", "Choose no volumes or a volume group."),
        ([&group[..], &[("encrypt", "yes")]].concat(), "tab-volumes", "Tick the box or leave it empty."),
        (
            vec![
                ("config_type", "chef"),
                ("config_server", "https://chef.acme.test"),
                ("validation_client_name", "a b"),
            ],
            "tab-config",
            "A client name has only letters",
        ),
        (vec![("config_type", "script"), ("script", &long_script)], "tab-config", "16 KB"),
        // PostgreSQL refuses NUL in text: it is refused at the field, never sent.
        (vec![("description", "a\u{0}b")], "tab-general", "The description cannot contain control characters."),
    ];
    for (with, tab, message) in cases {
        let response = post(&mut w.client, &path, &form(&w.base, &with)).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{with:?}");
        assert!(text(&response.body).contains(message), "{with:?}: {message} in {}", text(&response.body));
        assert!(
            response.body.contains(&format!(r#"id="{tab}" aria-controls"#))
                && response
                    .body
                    .contains(&format!(r#"id="{tab}" aria-controls="panel-{}" aria-selected="true""#, &tab[4..])),
            "{with:?}: {tab} is shown"
        );
        assert!(response.body.contains(r#"class="invalid""#), "{with:?}: the tab is marked");
        if let Err(untied) = messages_are_tied(&response.body) {
            panic!("{with:?}: a message no field is described by: {untied}");
        }
    }
    assert_eq!(
        count(&mut w.conn, "SELECT count(*) AS n FROM servers WHERE name = 'web' OR name LIKE 'web-_'").await,
        0
    );
    // A field cleared is shown cleared beside its message, not filled with its default again.
    let cleared = [&group[..], &[("volume_count", ""), ("mount_point", "")]].concat();
    let response = post(&mut w.client, &path, &form(&w.base, &cleared)).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.body.contains(r#"name="mount_point" type="text" value="""#), "{}", response.body);
    assert!(response.body.contains(r#"name="volume_count" type="number" min="1" max="8" value="""#));
    assert!(response.body.contains(r#"aria-invalid="true" aria-describedby="launch-volume-count-error""#));
    // Each message is tied to its field, so a screen reader reads it and focus can go to it.
    for (with, field) in [
        (vec![("description", "a\u{0}b")], "launch-description"),
        (vec![("key_choice", "existing"), ("key_pair", "nobody's")], "launch-key"),
    ] {
        let response = post(&mut w.client, &path, &form(&w.base, &with)).await;
        let tied = format!(r#"aria-invalid="true" aria-describedby="{field}-error""#);
        assert!(response.body.contains(&tied) && response.body.contains(&format!(r#"id="{field}-error""#)), "{with:?}");
    }
    assert_eq!(count(&mut w.conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'run_instance'").await, 0);
}

/// Every message at a field is tied to it, so a screen reader reads it with
/// the field: it has an id that a control's `aria-describedby` names.
fn messages_are_tied(body: &str) -> Result<(), String> {
    for (at, _) in body.match_indices(r#"<p class="field-error""#) {
        let tag = &body[at..at + body[at..].find('>').unwrap_or(0)];
        let id = tag.split(r#"id=""#).nth(1).and_then(|rest| rest.split('"').next()).ok_or_else(|| tag.to_owned())?;
        if !body.contains(&format!(r#"aria-describedby="{id}""#)) {
            return Err(id.to_owned());
        }
    }
    Ok(())
}

#[actix_web::test]
async fn leaving_a_tab_by_next_or_the_tab_strip_validates_it() {
    let mut w = world().await;
    let path = format!("/images/{}/launch", w.image);
    let selected = |tab: &str| format!(r#"id="tab-{tab}" aria-controls="panel-{tab}" aria-selected="true""#);
    for step in ["next", "tab:volumes"] {
        let stuck = post(&mut w.client, &path, &form(&w.base, &[("step", step), ("count", "0")])).await;
        assert_eq!(stuck.status, StatusCode::UNPROCESSABLE_ENTITY, "{step}");
        assert!(stuck.body.contains(&selected("general")), "{step}");
        assert!(text(&stuck.body).contains("Launch from 1 to 20 servers"), "{step}");
    }
    let on = post(&mut w.client, &path, &form(&w.base, &[("step", "next"), ("volume_size_gb", "0")])).await;
    assert_eq!(on.status, StatusCode::OK, "another tab's problem waits for its tab");
    assert!(on.body.contains(&selected("key-pair")));
    let on = post(&mut w.client, &path, &form(&w.base, &[("step", "tab:config"), ("volume_size_gb", "0")])).await;
    assert_eq!(on.status, StatusCode::OK);
    assert!(on.body.contains(&selected("config")));
}

#[actix_web::test]
async fn only_the_launch_button_launches() {
    let mut w = world().await;
    let path = format!("/images/{}/launch", w.image);
    for step in ["bogus", ""] {
        let sent = post(&mut w.client, &path, &form(&w.base, &[("step", step)])).await;
        assert_eq!(sent.status, StatusCode::BAD_REQUEST, "step {step:?}: {}", sent.body);
    }
    assert_eq!(count(&mut w.conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'run_instance'").await, 0);
    assert_eq!(post(&mut w.client, &path, &form(&w.base, &[])).await.status, StatusCode::OK, "the form launches");
    assert!(count(&mut w.conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'run_instance'").await > 0);
}

#[actix_web::test]
async fn an_image_that_is_not_available_says_so_rather_than_blaming_the_role() {
    let mut w = world().await;
    let path = format!("/images/{}/launch", w.image);
    let pending = format!(
        "UPDATE provider_images SET state = 'PENDING' WHERE id = (SELECT provider_image_id FROM image_records WHERE id = {})",
        w.image
    );
    w.conn.batch_execute(&pending).await.unwrap();
    let shown = w.client.get(&path).await;
    assert_eq!(shown.status, StatusCode::CONFLICT, "{}", text(&shown.body));
    assert!(
        text(&shown.body)
            .contains("That cannot be done. “web-frontend-2026.11” is pending at the provider: only an available image can be launched."),
        "{}",
        text(&shown.body)
    );
    let sent = post(&mut w.client, &path, &form(&w.base, &[])).await;
    assert_eq!(sent.status, StatusCode::CONFLICT);
    assert_eq!(count(&mut w.conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'run_instance'").await, 0);
    // A role that may not launch is still told so.
    let mut viewer = w.app.signed_in("viewer@acme.test").await;
    let refused = viewer.get(&path).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(text(&refused.body).contains("Your role in Acme Production does not allow “Launch” on this image."));
}

#[actix_web::test]
async fn windows_images_need_a_key_pair_and_a_new_one_is_offered_once() {
    let mut w = world().await;
    let windows = record_id(&mut w.conn, w.app.demo.acme_production, "windows-build-agent").await;
    let path = format!("/images/{windows}/launch");
    let refused = post(&mut w.client, &path, &form(&w.base, &[("product_id", "t3.medium")])).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&refused.body).contains("Windows images need a key pair"));

    let bad = post(&mut w.client, &format!("{path}/key-pair"), &form(&w.base, &[("new_key_name", "ops/key")])).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let created =
        post(&mut w.client, &format!("{path}/key-pair"), &form(&w.base, &[("new_key_name", "build-agents")])).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert!(created.body.contains(r#"download="build-agents.pem""#), "offered as a download");
    assert!(created.body.contains("data:application/x-pem-file;base64,"));
    assert!(created.body.contains(r#"value="build-agents" selected"#), "selected in the form");
    let stored = count(&mut w.conn, "SELECT count(*) AS n FROM key_pairs WHERE name = 'build-agents'").await;
    assert_eq!(stored, 1);
    let leaked =
        count(&mut w.conn, "SELECT count(*) AS n FROM audit_events WHERE changes::text LIKE '%PRIVATE KEY%'").await;
    assert_eq!(leaked, 0, "the private key is never stored");

    let launched = post(
        &mut w.client,
        &path,
        &form(&w.base, &[("product_id", "t3.medium"), ("key_choice", "existing"), ("key_pair", "build-agents")]),
    )
    .await;
    assert_eq!(launched.status, StatusCode::OK, "{}", text(&launched.body));
    w.app.run_jobs().await;
    let instance: String = servers::table
        .filter(servers::key_pair_name.eq("build-agents"))
        .select(servers::provider_instance_id.assume_not_null())
        .first(&mut w.conn)
        .await
        .unwrap();
    let ec2 = Ec2Provider::connect(&connection(&w.app.demo.numbers.production, endpoint())).await.unwrap();
    let details = ec2.instance_details(&instance).await.unwrap();
    assert_eq!(details.key_name.as_deref(), Some("build-agents"), "the key pair reaches the provider");
    assert_eq!(details.instance_type, "t3.medium");
}

#[actix_web::test]
async fn a_public_image_launch_adds_it_to_my_images() {
    let mut w = world().await;
    let (public, provider_id): (i64, String) = public_images::table
        // Not a provided image (those get the provided advice instead).
        .filter(public_images::owner_account_number.ne_all(["099720109477", "137112412989"]))
        .filter(public_images::platform.eq("UBUNTU"))
        .filter(public_images::state.eq("ACTIVE"))
        .filter(public_images::architecture.eq("x86_64"))
        .select((public_images::id, public_images::provider_image_id))
        .first(&mut w.conn)
        .await
        .unwrap();
    // Its publisher goes by a name at the provider, as Amazon's images do ("amazon").
    diesel::update(public_images::table.find(public))
        .set(public_images::owner_alias.eq("example-publisher"))
        .execute(&mut w.conn)
        .await
        .unwrap();
    let path = format!("/images/{public}/launch?catalog=public");
    let dialog = w.client.get_htmx(&path, "modal").await;
    assert!(text(&dialog.body).contains("This image is a public image. Launch only images whose origin you trust."));
    let launched =
        post(&mut w.client, &path, &w.base.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect::<Vec<_>>()).await;
    assert_eq!(launched.status, StatusCode::OK, "{}", text(&launched.body));
    let (record, source): (i64, String) = image_records::table
        .inner_join(provider_images::table)
        .filter(image_records::account_id.eq(w.app.demo.acme_production))
        .filter(provider_images::provider_image_id.eq(&provider_id))
        .select((image_records::id, image_records::source))
        .first(&mut w.conn)
        .await
        .unwrap();
    assert_eq!(source, "public_launched");
    // My images names its owner as the public catalog does.
    let page = w.client.get("/images").await.body;
    let start = page.find(&format!("<tr id=\"image-{record}\"")).expect("the row is listed");
    let row = text(&page[start..start + page[start..].find("</tr>").unwrap()]);
    assert!(row.contains("example-publisher"), "{row}");
    // Launched again from My images, it is still someone else's image.
    let again = w.client.get_htmx(&format!("/images/{record}/launch"), "modal").await;
    assert!(text(&again.body).contains("This image is a public image. Launch only images whose origin you trust."));

    let mut viewer = w.app.signed_in("viewer@acme.test").await;
    assert_eq!(viewer.get_htmx(&path, "modal").await.status, StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn a_launch_past_the_hard_quota_is_refused_and_codes_in_hard_alarm_are_not_offered() {
    let mut w = world().await;
    let operations = code_id(&mut w.conn, "Operations").await;
    // Operations: soft 1,000, hard 2,000 a month. A big server has run since the month began.
    diesel::sql_query(format!(
        "INSERT INTO servers (account_id, provider_image_id, name, product_id, budget_code_id, hourly_rate, state, launched_at)
         SELECT {account}, provider_image_id, 'big', 'x2iedn.32xlarge', {operations}, 2.5, 'RUNNING', date_trunc('month', now())
         FROM image_records WHERE id = {image}",
        account = w.app.demo.acme_production,
        image = w.image
    ))
    .execute(&mut w.conn)
    .await
    .unwrap();
    let path = format!("/images/{}/launch", w.image);
    // About 1,800 projected: over the soft quota, still offered.
    let dialog = w.client.get_htmx(&path, "modal").await;
    assert!(text(&dialog.body).contains("Operations (over its soft quota)"), "{}", text(&dialog.body));
    // Twenty m5.4xlarge add 15.36 an hour for the rest of the month: past 2,000.
    let fields = form(&w.base, &[("budget_code_id", &operations), ("count", "20"), ("product_id", "m5.4xlarge")]);
    let refused = post(&mut w.client, &path, &fields).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text(&refused.body).contains("These servers would take Operations past its hard quota"),
        "{}",
        text(&refused.body)
    );
    assert_eq!(
        count(&mut w.conn, "SELECT count(*) AS n FROM servers WHERE name = 'web' OR name LIKE 'web-_'").await,
        0
    );
    let exhausted = code_id(&mut w.conn, "Exhausted").await;
    assert!(!dialog.body.contains(&format!(r#"<option value="{exhausted}""#)), "Exhausted is never offered");
    // Sent anyway (a stale dialog, a script): refused with why.
    let fields = form(&w.base, &[("budget_code_id", &exhausted.to_string())]);
    let refused = post(&mut w.client, &path, &fields).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text(&refused.body).contains("“Exhausted” has reached its hard quota: no server may be launched on it."),
        "{}",
        text(&refused.body)
    );
}

#[actix_web::test]
async fn launching_needs_the_rights_and_an_image_of_this_account() {
    let mut w = world().await;
    let mut viewer = w.app.signed_in("viewer@acme.test").await;
    let path = format!("/images/{}/launch", w.image);
    assert_eq!(viewer.get_htmx(&path, "modal").await.status, StatusCode::FORBIDDEN);
    assert_eq!(post(&mut viewer, &path, &form(&w.base, &[])).await.status, StatusCode::FORBIDDEN);
    let globex = record_id(&mut w.conn, w.app.demo.globex_main, "hammock-district-web").await;
    assert_eq!(w.client.get_htmx(&format!("/images/{globex}/launch"), "modal").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        count(&mut w.conn, "SELECT count(*) AS n FROM servers WHERE name = 'web' OR name LIKE 'web-_'").await,
        0
    );
}

#[actix_web::test]
async fn a_code_deactivated_while_the_launch_waits_for_it_refuses_the_launch() {
    let mut w = world().await;
    let path = format!("/images/{}/launch", w.image);
    let default = code_id(&mut w.conn, "Default").await;
    // A deactivation holds the code's row, not yet committed, while the
    // launch is posted: the form checks out, the launch waits for the row.
    let mut deactivation = w.app.db().await;
    deactivation.batch_execute("BEGIN").await.unwrap();
    diesel::sql_query(format!("UPDATE budget_codes SET status = 'inactive' WHERE id = {default}"))
        .execute(&mut deactivation)
        .await
        .unwrap();
    let fields = form(&w.base, &[]);
    let mut client = w.client;
    let launch = actix_web::rt::spawn(async move { post(&mut client, &path, &fields).await });
    let waiting = "SELECT count(*) AS n FROM pg_stat_activity
                   WHERE datname = current_database() AND wait_event_type = 'Lock'";
    for _ in 0..200 {
        if count(&mut w.conn, waiting).await == 1 {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(count(&mut w.conn, waiting).await, 1, "the launch waits for the code");
    deactivation.batch_execute("COMMIT").await.unwrap();

    let refused = launch.await.unwrap();
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        text(&refused.body).contains("This budget code was deactivated or withdrawn meanwhile: choose another."),
        "{}",
        text(&refused.body)
    );
    let codes = refused.body.split(r#"id="launch-budget""#).nth(1).and_then(|s| s.split("</select>").next());
    assert!(!codes.expect("the code field").contains(&format!(r#"value="{default}""#)), "no longer offered");
    assert_eq!(count(&mut w.conn, "SELECT count(*) AS n FROM servers WHERE name = 'web'").await, 0);
    assert_eq!(count(&mut w.conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'run_instance'").await, 0);
}

#[actix_web::test]
async fn the_fields_of_a_choice_not_taken_are_ignored() {
    let mut w = world().await;
    // Volume Configuration "None" and a shell script: the browser hides the
    // volume group's and Chef's fields, and the server does not read them.
    let fields = form(
        &w.base,
        &[
            ("volumes", "none"),
            ("volume_count", "not a number"),
            ("mount_point", "../../etc"),
            ("config_type", "script"),
            ("script", "#!/bin/sh\ntrue\n"),
            ("config_server", "not a url"),
            ("run_list", "recipe[web]"),
        ],
    );
    let launched = post(&mut w.client, &format!("/images/{}/launch", w.image), &fields).await;
    assert_eq!(launched.status, StatusCode::OK, "{}", text(&launched.body));
    w.app.run_jobs().await;
    let instance: Option<String> = servers::table
        .filter(servers::name.eq("web"))
        .select(servers::provider_instance_id)
        .first(&mut w.conn)
        .await
        .unwrap();
    let ec2 = Ec2Provider::connect(&connection(&w.app.demo.numbers.production, endpoint())).await.unwrap();
    let details = ec2.instance_details(&instance.expect("launched")).await.unwrap();
    assert!(details.volumes.is_empty(), "no volume group: {:?}", details.volumes);
    let user_data = details.user_data.expect("the script");
    assert!(!user_data.contains("chef") && !user_data.contains("../../etc"), "{user_data}");
}

/// A launch of one server "held" from `image`, as `user` in `account`, made
/// directly and held open (see `hold_open`), with the firewalls and key pair
/// given.
async fn launch_held_open(
    app: &TestApp,
    (user, account, image): (i64, i64, i64),
    (code, group_id): (i64, Option<i64>),
    firewalls: Vec<(i64, String)>,
    key_name: Option<&str>,
) -> Held {
    use stratus_console::changes::{self, launch::Source};
    use stratus_console::domain::{cloud_init::ConfigManagement, images::Label, launch::Launch};
    let launch = Launch {
        names: vec!["held".to_owned()],
        description: String::new(),
        label: Label::None,
        budget_code_id: code,
        group_id,
        zone: None,
        product_id: "t3.micro".to_owned(),
        rate: "0.0104".parse().unwrap(),
        firewalls,
        key_name: key_name.map(str::to_owned),
        volume_group: None,
        config: ConfigManagement::None,
        user_data: None,
    };
    hold_open(app, async move |c| {
        let acting = Acting::as_user(c, user, account).await;
        let row = db::images::find_record(c, account, image).await.unwrap();
        let settings = stratus_console::jobs::JobSettings::default();
        let source = Source::Record(&row);
        changes::launch::launch(c, &acting.actor(), &settings, source, &launch, uuid::Uuid::new_v4(), None)
            .await
            .unwrap();
    })
    .await
}

/// Posts `fields` to image `image`'s launch while `held` holds what the
/// launch needs: once the launch waits on it, commits `held`; the answer.
async fn launch_behind(
    mut client: Client,
    conn: &mut AsyncPgConnection,
    image: i64,
    fields: Vec<(String, String)>,
    held: Held,
) -> Response {
    let path = format!("/images/{image}/launch");
    let launch = actix_web::rt::spawn(async move { post(&mut client, &path, &fields).await });
    until_one_waits(conn, "the launch").await;
    held.commit().await;
    launch.await.unwrap()
}

/// A launch and a delete of the same image at the same instant: whichever
/// holds the image first, the other sees what it did. A delete that waited
/// counts the launch's server and is refused; a launch that waited finds
/// the image gone and answers 404, writing nothing.
#[actix_web::test]
async fn a_launch_and_a_delete_of_one_image_at_once_never_both_pass() {
    use stratus_console::changes;

    let mut w = world().await;
    let production = w.app.demo.acme_production;
    let admin: i64 =
        users::table.filter(users::email.eq("admin@acme.test")).select(users::id).first(&mut w.conn).await.unwrap();
    let version = || async {
        let mut conn = w.app.db().await;
        image_records::table.find(w.image).select(image_records::version).first::<i32>(&mut conn).await.unwrap()
    };
    let servers_of_image = format!("SELECT count(*) AS n FROM servers WHERE image_record_id = {}", w.image);

    // The launch first, held open; the delete waits for it and counts its server.
    let code: i64 = code_id(&mut w.conn, "Default").await.parse().unwrap();
    let launch = launch_held_open(&w.app, (admin, production, w.image), (code, None), Vec::new(), None).await;
    let mut deleter = w.app.signed_in("admin@acme.test").await;
    let delete_path = format!("/images/{}/delete", w.image);
    let at = version().await.to_string();
    let delete = actix_web::rt::spawn(async move { deleter.post_htmx(&delete_path, &[("version", &at)]).await });
    until_one_waits(&mut w.conn, "the delete").await;
    launch.commit().await;
    let refused = delete.await.unwrap();
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(text(&refused.body).contains("1 server launched from it is pending"), "{}", refused.body);
    assert_eq!(count(&mut w.conn, &servers_of_image).await, 1);

    // The delete first (the server gone, it moves the image to the bin),
    // held open; the launch waits, then finds the image in the bin.
    diesel::sql_query(format!("UPDATE servers SET state = 'TERMINATED' WHERE image_record_id = {}", w.image))
        .execute(&mut w.conn)
        .await
        .unwrap();
    let at = version().await;
    let image = w.image;
    let delete = hold_open(&w.app, async move |c| {
        let acting = Acting::as_user(c, admin, production).await;
        let settings = stratus_console::jobs::JobSettings::default();
        changes::images::delete(c, &acting.actor(), &settings, image, at).await.unwrap();
    })
    .await;
    let refused = launch_behind(w.client, &mut w.conn, w.image, form(&w.base, &[]), delete).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(text(&refused.body).contains("is in the recycle bin: restore it first."), "{}", text(&refused.body));
    assert_eq!(count(&mut w.conn, &servers_of_image).await, 1, "no server more");
}

/// A launch and a delete of the key pair it names, at once: as with the
/// image, the delete that waited counts the launch's server, and the launch
/// that waited finds the key pair gone and says so at its field.
#[actix_web::test]
async fn a_launch_and_a_delete_of_its_key_pair_at_once_never_both_pass() {
    use stratus_console::changes;
    use stratus_console::db::keypairs::KeyPairRow;

    let mut w = world().await;
    let production = w.app.demo.acme_production;
    let admin: i64 =
        users::table.filter(users::email.eq("admin@acme.test")).select(users::id).first(&mut w.conn).await.unwrap();
    let made = w.client.post_htmx("/keypairs", &[("name", "build-agents")]).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    let key: i64 = key_pairs::table
        .filter(key_pairs::account_id.eq(production))
        .filter(key_pairs::name.eq("build-agents"))
        .select(key_pairs::id)
        .first(&mut w.conn)
        .await
        .unwrap();
    let firewall: (i64, Option<String>) = firewalls::table
        .filter(firewalls::account_id.eq(production))
        .filter(firewalls::name.eq("default"))
        .select((firewalls::id, firewalls::provider_id))
        .first(&mut w.conn)
        .await
        .unwrap();
    let code: i64 = code_id(&mut w.conn, "Default").await.parse().unwrap();
    let using_key = "SELECT count(*) AS n FROM servers WHERE key_pair_name = 'build-agents'";

    // The launch first, held open; the delete waits and counts its server.
    let launch = launch_held_open(
        &w.app,
        (admin, production, w.image),
        (code, None),
        vec![(firewall.0, firewall.1.unwrap())],
        Some("build-agents"),
    )
    .await;
    let mut deleter = w.app.signed_in("admin@acme.test").await;
    let delete = actix_web::rt::spawn(async move { deleter.post_htmx(&format!("/keypairs/{key}/delete"), &[]).await });
    until_one_waits(&mut w.conn, "the delete").await;
    launch.commit().await;
    let refused = delete.await.unwrap();
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(text(&refused.body).contains("Terminate it first"), "{}", refused.body);

    // The delete first (the server gone), held open; the launch waits, then
    // finds the key pair gone.
    diesel::sql_query("UPDATE servers SET state = 'TERMINATED'").execute(&mut w.conn).await.unwrap();
    let delete = hold_open(&w.app, async move |c| {
        let acting = Acting::as_user(c, admin, production).await;
        let settings = stratus_console::jobs::JobSettings::default();
        changes::resources::delete::<KeyPairRow>(c, &acting.actor(), &settings, key).await.unwrap();
    })
    .await;
    let refused = launch_behind(
        w.client,
        &mut w.conn,
        w.image,
        form(&w.base, &[("key_choice", "existing"), ("key_pair", "build-agents")]),
        delete,
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(text(&refused.body).contains("The key pair “build-agents” was deleted meanwhile"), "{}", refused.body);
    assert_eq!(count(&mut w.conn, using_key).await, 1, "no server more");
}

/// A launch and the delete of its cloud account at the same instant. A
/// delete that comes second waits for the launch, counts its server and is
/// refused; a launch that comes second finds what it chose gone and says
/// so. Neither answers 500 nor leaves a server nobody follows.
#[actix_web::test]
async fn a_launch_and_the_delete_of_its_cloud_account_at_once_never_both_pass() {
    use stratus_console::changes;

    let mut w = world().await;
    let production = w.app.demo.acme_production;
    let admin: i64 =
        users::table.filter(users::email.eq("admin@acme.test")).select(users::id).first(&mut w.conn).await.unwrap();
    // No live server in the account: only the launch's would be.
    diesel::sql_query(format!("UPDATE servers SET state = 'TERMINATED' WHERE account_id = {production}"))
        .execute(&mut w.conn)
        .await
        .unwrap();
    let version = async |conn: &mut AsyncPgConnection| -> i32 {
        accounts::table.find(production).select(accounts::version).first(conn).await.unwrap()
    };
    let code: i64 = code_id(&mut w.conn, "Default").await.parse().unwrap();

    // The launch first, held open; the delete waits for it and counts its server.
    let launch = launch_held_open(&w.app, (admin, production, w.image), (code, None), Vec::new(), None).await;
    let mut deleter = w.app.signed_in("admin@acme.test").await;
    let path = format!("/admin/accounts/{production}/delete");
    let at = version(&mut w.conn).await.to_string();
    let delete = actix_web::rt::spawn(async move {
        deleter.post_htmx(&path, &[("version", &at), ("confirm_name", "Acme Production")]).await
    });
    until_one_waits(&mut w.conn, "the delete").await;
    launch.commit().await;
    let refused = delete.await.unwrap();
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(count(&mut w.conn, &format!("SELECT count(*) AS n FROM accounts WHERE id = {production}")).await, 1);

    // The delete first (the server gone, its launch done), held open; the
    // launch waits, then finds the account's firewalls gone.
    diesel::sql_query(format!("UPDATE servers SET state = 'TERMINATED' WHERE account_id = {production}"))
        .execute(&mut w.conn)
        .await
        .unwrap();
    diesel::sql_query(format!(
        "UPDATE jobs SET state = 'COMPLETE' WHERE account_id = {production} AND state = 'QUEUED'"
    ))
    .execute(&mut w.conn)
    .await
    .unwrap();
    let at = version(&mut w.conn).await;
    let delete = hold_open(&w.app, async move |c| {
        let acting = Acting::as_user(c, admin, production).await;
        changes::cloud_accounts::delete(c, &acting.admin(), production, at).await.unwrap();
    })
    .await;
    let refused = launch_behind(w.client, &mut w.conn, w.image, form(&w.base, &[]), delete).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(text(&refused.body).contains("A firewall you chose was deleted meanwhile"), "{}", refused.body);
    assert_eq!(
        count(&mut w.conn, &format!("SELECT count(*) AS n FROM servers WHERE account_id = {production}")).await,
        0
    );
}

#[actix_web::test]
async fn a_user_who_may_not_make_key_pairs_is_not_offered_one() {
    let mut w = world().await;
    let path = format!("/images/{}/launch", w.image);
    let offered = |body: &str| body.contains(r#"name="key_choice" value="new""#);
    let mut manager = w.app.signed_in("manager@acme.test").await;
    assert!(offered(&manager.get_htmx(&path, "modal").await.body), "CloudManager may");
    // The company takes key pairs from the CloudManager role.
    diesel::sql_query(
        "DELETE FROM access_rights WHERE resource = 'KEYPAIR'
           AND role_id = (SELECT r.id FROM roles r JOIN companies c ON c.id = r.company_id
                          WHERE r.name = 'CloudManager' AND c.name = 'Acme')",
    )
    .execute(&mut w.conn)
    .await
    .unwrap();
    let dialog = manager.get_htmx(&path, "modal").await;
    assert_eq!(dialog.status, StatusCode::OK, "it may still launch");
    assert!(!offered(&dialog.body) && !dialog.body.contains("Create Key Pair"), "{}", dialog.body);
}

/// A launch whose servers a group owns, while the group's last member is
/// taken out of it and the group deleted. The launch holds the group and
/// the launching user's place in it: taking them out waits for the launch,
/// and the delete that follows leaves the new server without an owning
/// group, as it leaves every other. A launch after the delete that still
/// names the group is refused at its field.
#[actix_web::test]
async fn a_launch_and_a_delete_of_its_owning_group_at_once_never_fail() {
    let mut w = world().await;
    let production = w.app.demo.acme_production;
    let admin: i64 =
        users::table.filter(users::email.eq("admin@acme.test")).select(users::id).first(&mut w.conn).await.unwrap();
    let made = format!(
        "WITH g AS (INSERT INTO groups (company_id, name) \
                    SELECT company_id, 'Night shift' FROM accounts WHERE id = {production} RETURNING id) \
         INSERT INTO group_members (group_id, user_id) SELECT id, {admin} FROM g RETURNING group_id AS n"
    );
    let group = count(&mut w.conn, &made).await;
    let code: i64 = code_id(&mut w.conn, "Default").await.parse().unwrap();
    let launch = launch_held_open(&w.app, (admin, production, w.image), (code, Some(group)), Vec::new(), None).await;
    let mut other = w.app.db().await;
    let left = actix_web::rt::spawn(async move {
        let left = format!("DELETE FROM group_members WHERE group_id = {group}");
        diesel::sql_query(left).execute(&mut other).await.unwrap();
    });
    until_one_waits(&mut w.conn, "taking the member out").await;
    launch.commit().await;
    left.await.unwrap();

    let deleted = w.client.post(&format!("/admin/groups/{group}/delete"), &[]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", text(&deleted.body));
    assert_eq!(count(&mut w.conn, &format!("SELECT count(*) AS n FROM groups WHERE id = {group}")).await, 0);
    let owned = "SELECT count(*) AS n FROM servers WHERE name = 'held' AND owner_group_id IS NULL";
    assert_eq!(count(&mut w.conn, owned).await, 1, "the server is kept, without the group");

    // The group gone, a launch that still names it is refused at its field.
    let group = group.to_string();
    let path = format!("/images/{}/launch", w.image);
    let refused = post(&mut w.client, &path, &form(&w.base, &[("group_id", &group)])).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", text(&refused.body));
    assert!(text(&refused.body).contains("Choose one of your groups, or none."), "{}", text(&refused.body));
}

/// A server's page says where it runs and how it was launched (never a
/// secret: parameters by name only), who keeps it and what it costs; its
/// actions lead back to it, and a user of another account gets a 404.
#[actix_web::test]
async fn a_servers_page_tells_where_and_how_it_was_launched_and_its_actions_lead_back_to_it() {
    let mut w = world().await;
    let fields = form(
        &w.base,
        &[
            ("name", "shop"),
            ("description", "the shop's front end"),
            ("volumes", "group"),
            ("volume_count", "2"),
            ("volume_size_gb", "10"),
            ("raid_level", "1"),
            ("file_system", "ext4"),
            ("mount_point", "/srv"),
            ("config_type", "chef"),
            ("config_server", "https://chef.acme.test"),
            ("run_list", "recipe[nginx], role[web]"),
            ("config_environment", "production"),
            ("config_parameters", "db_password=hunter2-secret"),
        ],
    );
    let launched = post(&mut w.client, &format!("/images/{}/launch", w.image), &fields).await;
    assert_eq!(launched.status, StatusCode::OK, "{}", launched.body);
    let id: i64 = servers::table.filter(servers::name.eq("shop")).select(servers::id).first(&mut w.conn).await.unwrap();

    // While it launches, the page's live part polls, and says so.
    let page = w.client.get(&format!("/servers/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(r#"class="server-live" hx-get="/servers/"#), "a launching server's page polls");
    let live = w.client.get_htmx(&format!("/servers/{id}"), "server-live").await;
    assert!(live.body.starts_with(r#"<div id="server-live""#), "{}", live.body);
    assert!(text(&live.body).contains("requested"), "{}", live.body);

    w.app.run_jobs().await;
    let (instance, private_ip): (Option<String>, Option<String>) = servers::table
        .find(id)
        .select((servers::provider_instance_id, servers::private_ip))
        .first(&mut w.conn)
        .await
        .unwrap();
    let page = w.client.get(&format!("/servers/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains(r#"class="server-live" hx-get"#), "a ready server's page does not poll");
    let shown = text(&page.body);
    for fact in [
        "Servers › shop",
        "ready",
        &instance.expect("an instance"),
        &private_ip.expect("a private address"),
        "web-frontend-2026.11",
        "t3.micro",
        "the shop's front end",
        "Blue",
        "Default",
        "2 × 10 GB, RAID 1, ext4 at /srv",
        "Chef, from https://chef.acme.test",
        "recipe[nginx], role[web]",
        "production",
        "db_password (values not kept)",
        "launch",
    ] {
        assert!(shown.contains(fact), "{fact} in {shown}");
    }
    assert!(!page.body.contains("hunter2"), "a parameter's value is never shown");
    assert!(page.body.contains(&format!(r#"href="/images/{}""#, w.image)), "the image links to its page");

    // Its actions start from the page and lead back to it.
    let dialog = w.client.get(&format!("/servers/{id}/terminate?from=server")).await;
    assert!(dialog.body.contains(&format!(r#"action="/servers/{id}/terminate?from=server""#)), "{}", dialog.body);
    assert!(dialog.body.contains(&format!(r#"href="/servers/{id}""#)), "Cancel leads back to the page");
    let version: i32 = servers::table.find(id).select(servers::version).first(&mut w.conn).await.unwrap();
    let paused = w.client.post(&format!("/servers/{id}/pause?from=server"), &[("version", &version.to_string())]).await;
    assert_eq!(paused.status, StatusCode::SEE_OTHER, "{}", paused.body);
    assert_eq!(paused.location(), Some(format!("/servers/{id}").as_str()));
    let back = text(&w.client.get(&format!("/servers/{id}")).await.body);
    assert!(back.contains("Pausing shop"), "the flash on the server's page: {back}");

    // The API tells the same.
    let token = crate::api::make_token(&mut w.client, "facts", w.app.demo.acme_production, "read").await;
    let api = crate::api::Api::new(&w.app, &token);
    let got = api.send(reqwest::Method::GET, &format!("/api/v1/servers/{id}"), None).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.json);
    assert_eq!(got.json["name"], "shop");
    assert_eq!(got.json["description"], "the shop's front end");
    assert_eq!(got.json["volumes"]["mount_point"], "/srv");
    assert_eq!(got.json["volumes"]["raid"], "1");
    let configuration = &got.json["configuration"];
    assert_eq!(configuration["kind"], "chef");
    assert_eq!(configuration["source"], "https://chef.acme.test");
    assert_eq!(configuration["runs"], serde_json::json!(["recipe[nginx]", "role[web]"]));
    assert_eq!(configuration["parameters"], serde_json::json!(["db_password"]));
    assert_eq!(got.json["firewalls"], serde_json::json!(["default"]));
    assert!(!got.json.to_string().contains("hunter2"), "{}", got.json);
    // Described as answered, beside the launch's own (different) shapes.
    let doc: serde_json::Value =
        serde_json::from_str(&reqwest::get(w.app.url("/api/v1/openapi.json")).await.unwrap().text().await.unwrap())
            .unwrap();
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["Volumes"]["properties"]["raid_level"].is_object(), "the launch's volumes: {}", schemas["Volumes"]);
    assert!(schemas["ServerVolumes"]["properties"]["raid"].is_object(), "{}", schemas["ServerVolumes"]);
    let docs = text(&reqwest::get(w.app.url("/api/docs")).await.unwrap().text().await.unwrap());
    let detail = &docs[docs.find("ServerDetail").expect("ServerDetail is described")..];
    assert!(detail.contains("terminated_at") && detail.contains("instance_id"), "its own fields and the list's");

    let mut globex = w.app.signed_in("admin@globex.test").await;
    assert_eq!(globex.get(&format!("/servers/{id}")).await.status, StatusCode::NOT_FOUND);
}

/// SERVER Start is asked of the server a launch makes (the launcher's own,
/// of the group and code they choose), not of the image: a role that may
/// start servers of its groups launches another group's image into one of
/// its groups, and not into none.
#[actix_web::test]
async fn server_start_is_asked_of_the_server_the_launch_makes_not_of_the_image() {
    use crate::admin_roles::{give, make_qualified_role};
    let mut w = world().await;
    let role = make_qualified_role(
        &mut w.conn,
        "GroupLauncher",
        &[
            ("CONSOLE", "Access", "ANY"),
            ("IMAGE", "Access", "ANY"),
            ("IMAGE", "DefineServer", "ANY"),
            ("SERVER", "Access", "GROUP"),
            ("SERVER", "Start", "GROUP"),
        ],
    )
    .await;
    let support = crate::admin_users::group_id(&mut w.conn, "Acme", "Support").await;
    give(&mut w.conn, support, role).await;
    let image_group: Option<i64> =
        image_records::table.find(w.image).select(image_records::owner_group_id).first(&mut w.conn).await.unwrap();
    assert_ne!(image_group, Some(support), "the image is another group's");

    let mut viewer = w.app.signed_in("viewer@acme.test").await;
    let path = format!("/images/{}/launch", w.image);
    let menu = viewer.get_htmx(&format!("/images/{}/actions", w.image), "").await;
    assert!(menu.body.contains(&format!(r#"href="{path}""#)), "Launch is offered: {}", menu.body);
    let dialog = viewer.get_htmx(&path, "modal").await;
    assert_eq!(dialog.status, StatusCode::OK);
    assert!(!dialog.body.contains(r#"<option value="">None</option>"#), "no group is not offered");
    assert!(dialog.body.contains(&format!(r#"<option value="{support}">Support</option>"#)), "{}", dialog.body);
    let ungrouped = post(&mut viewer, &path, &form(&w.base, &[("group_id", "")])).await;
    assert_eq!(ungrouped.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", ungrouped.body);
    assert!(text(&ungrouped.body).contains("Your role does not let you start a server of this group"));
    assert_eq!(count(&mut w.conn, "SELECT count(*) AS n FROM servers WHERE name = 'web'").await, 0);

    let grouped = post(&mut viewer, &path, &form(&w.base, &[("group_id", &support.to_string())])).await;
    assert_eq!(grouped.status, StatusCode::OK, "{}", grouped.body);
    let sql = format!("SELECT count(*) AS n FROM servers WHERE name = 'web' AND owner_group_id = {support}");
    assert_eq!(count(&mut w.conn, &sql).await, 1, "launched, owned by their group");

    // Its page leaves out what the role may not see elsewhere.
    let server: i64 =
        servers::table.filter(servers::name.eq("web")).select(servers::id).first(&mut w.conn).await.unwrap();
    let page = viewer.get(&format!("/servers/{server}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let shown = text(&page.body);
    assert!(shown.contains("Instance ID") && !shown.contains("Firewalls") && !shown.contains("Key pair"), "{shown}");
}
