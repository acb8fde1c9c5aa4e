//! The servers page: live rows, pause/start/reboot/terminate, and images
//! made from servers, against a real PostgreSQL and the local EC2 endpoint.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use reqwest::StatusCode;
use stratus_console::db::schema::*;

use crate::harness::{TestApp, count, text};

/// The demo server kept running in Acme Production: `(id, version)`.
pub(crate) async fn running_server(conn: &mut AsyncPgConnection, account: i64) -> (i64, i32) {
    servers::table
        .filter(servers::account_id.eq(account))
        .filter(servers::state.eq("RUNNING"))
        .select((servers::id, servers::version))
        .first(conn)
        .await
        .unwrap()
}

/// The demo's "Operations" budget code, which Make Image bills.
pub(crate) async fn operations_code(conn: &mut AsyncPgConnection) -> i64 {
    budget_codes::table.filter(budget_codes::name.eq("Operations")).select(budget_codes::id).first(conn).await.unwrap()
}

/// The record of an image made from a server, by name: its id, and its
/// image's state and provider id.
pub(crate) async fn made_record(conn: &mut AsyncPgConnection, name: &str) -> (i64, (String, Option<String>)) {
    image_records::table
        .inner_join(provider_images::table)
        .filter(image_records::name.eq(name))
        .select((image_records::id, (provider_images::state, provider_images::provider_image_id)))
        .first(conn)
        .await
        .unwrap()
}

/// The row of record `id` on the Machine Images page.
fn image_row(page: &str, id: i64) -> String {
    let start = page.find(&format!(r#"<tr id="image-{id}""#)).unwrap_or_else(|| panic!("no row {id} in {page}"));
    let row = &page[start..];
    text(&row[..row.find("</tr>").unwrap_or(row.len())])
}

async fn state_of(conn: &mut AsyncPgConnection, id: i64) -> (String, i32) {
    servers::table.find(id).select((servers::state, servers::version)).first(conn).await.unwrap()
}

#[actix_web::test]
async fn the_servers_page_lists_the_accounts_servers_and_changing_rows_poll() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut client = app.signed_in("viewer@acme.test").await;
    let page = client.get("/servers").await;
    assert_eq!(page.status, StatusCode::OK);
    let shown = text(&page.body);
    for column in ["ID", "Name", "Label", "Provider ID", "Image", "IP address", "State", "Launched", "Budget Code"] {
        assert!(shown.contains(column), "{column}");
    }
    assert!(shown.contains("web-frontend-2026.11-builder"));
    assert!(!shown.contains("staging-web-frontend-builder"), "another account's server");
    assert!(!page.body.contains("actions-button"), "a viewer gets no actions");
    assert!(!page.body.contains("every 2s"), "a settled row does not poll");

    let (id, _) = running_server(&mut conn, app.demo.acme_production).await;
    diesel::update(servers::table.find(id)).set(servers::state.eq("PAUSING")).execute(&mut conn).await.unwrap();
    let row = client.get_htmx(&format!("/servers/{id}"), &format!("server-{id}")).await;
    assert!(row.body.starts_with(&format!(r#"<tr id="server-{id}" hx-get="/servers/{id}" hx-trigger="every 2s""#)));
    assert!(text(&row.body).contains("pausing"));
    let other = servers::table
        .filter(servers::account_id.eq(app.demo.globex_main))
        .select(servers::id)
        .first::<i64>(&mut conn)
        .await
        .unwrap();
    assert_eq!(client.get(&format!("/servers/{other}")).await.status, StatusCode::NOT_FOUND);
}

/// A running server whose instance the provider forgot long ago, asked to
/// pause: the provider will refuse to stop it. Its id.
async fn pause_a_forgotten_server(app: &TestApp, conn: &mut AsyncPgConnection) -> i64 {
    let mut client = app.signed_in("manager@acme.test").await;
    let (id, version) = running_server(conn, app.demo.acme_production).await;
    diesel::update(servers::table.find(id))
        .set((
            servers::provider_instance_id.eq("i-0123456789abcdef0"),
            servers::instance_recorded_at.eq(chrono::Utc::now() - chrono::Duration::hours(2)),
        ))
        .execute(conn)
        .await
        .unwrap();
    let paused = client.post_htmx(&format!("/servers/{id}/pause"), &[("version", &version.to_string())]).await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    assert_eq!(state_of(conn, id).await.0, "PAUSING");
    id
}

#[actix_web::test]
async fn a_server_action_the_provider_refuses_for_good_leaves_the_server_as_the_provider_has_it() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let id = pause_a_forgotten_server(&app, &mut conn).await;
    app.run_jobs().await;
    let failed = "SELECT count(*) AS n FROM jobs WHERE kind = 'server_action' AND state = 'ERROR'";
    assert_eq!(count(&mut conn, failed).await, 1);
    // Not left "pausing" until the next periodic sync: read back at once.
    assert_eq!(state_of(&mut conn, id).await.0, "TERMINATED");
}

/// A job that failed for good and the server it was about are written
/// together. When the server's write fails (the database went away), the
/// job is not marked failed either: it stays claimed, and runs again once a
/// worker takes it up, rather than leave the server "pausing" for good.
#[actix_web::test]
async fn a_failure_is_recorded_with_its_server_or_not_at_all() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let id = pause_a_forgotten_server(&app, &mut conn).await;
    for sql in [
        "CREATE FUNCTION gone() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'gone'; END $$",
        "CREATE TRIGGER gone BEFORE UPDATE OF last_error ON servers FOR EACH ROW EXECUTE FUNCTION gone()",
    ] {
        diesel::sql_query(sql).execute(&mut conn).await.unwrap();
    }

    let runner = crate::races::runner(&app);
    assert!(runner.run_next("worker").await.is_err(), "the failure could not be written");
    let action = "SELECT count(*) AS n FROM jobs WHERE kind = 'server_action' AND state =";
    assert_eq!(count(&mut conn, &format!("{action} 'RUNNING'")).await, 1, "still claimed, not failed");
    assert_eq!(state_of(&mut conn, id).await.0, "PAUSING");

    diesel::sql_query("DROP TRIGGER gone ON servers").execute(&mut conn).await.unwrap();
    let later = chrono::Utc::now() + chrono::Duration::minutes(1);
    assert_eq!(stratus_console::db::jobs::requeue_stale(&mut conn, later).await.unwrap().requeued, 1);
    app.run_jobs().await;
    assert_eq!(count(&mut conn, &format!("{action} 'ERROR'")).await, 1);
    assert_eq!(state_of(&mut conn, id).await.0, "TERMINATED", "read back from the provider");
}

/// A paused server counts nothing against its budget code's run rate;
/// started again it does, so a start that would take the code to its hard
/// quota is refused as a launch would be: pausing, launching and starting
/// again never gets past the quota.
#[actix_web::test]
async fn a_start_that_would_take_the_budget_past_its_hard_quota_is_refused() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut client = app.signed_in("manager@acme.test").await;
    let (id, version) = running_server(&mut conn, app.demo.acme_production).await;
    let paused = client.post_htmx(&format!("/servers/{id}/pause"), &[("version", &version.to_string())]).await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    app.run_jobs().await;
    let (state, version) = state_of(&mut conn, id).await;
    assert_eq!(state, "PAUSED");
    let code: i64 = servers::table.find(id).select(servers::budget_code_id).first(&mut conn).await.unwrap();
    let quota = |hard: String| format!("UPDATE budget_codes SET soft_quota = 0, hard_quota = {hard} WHERE id = {code}");
    // What the code's servers ran this month fits, with a dollar to spare;
    // the rest of the month of this one does not.
    use stratus_console::db::budget::{BudgetCode, figures_for};
    let held = budget_codes::table.find(code).select(BudgetCode::as_select()).load(&mut conn).await.unwrap();
    let figures = figures_for(&mut conn, held, chrono::Utc::now()).await.unwrap();
    let spent = figures[0].1.current_usage().clone();
    diesel::sql_query(quota((spent + bigdecimal::BigDecimal::from(1)).to_string())).execute(&mut conn).await.unwrap();
    let jobs = "SELECT count(*) AS n FROM jobs WHERE kind = 'server_action'";
    let queued = count(&mut conn, jobs).await;

    let refused = client.post_htmx(&format!("/servers/{id}/start"), &[("version", &version.to_string())]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    let said = "Starting this server would take Default past its hard quota";
    assert!(text(&refused.body).contains(said), "{}", text(&refused.body));
    assert_eq!(state_of(&mut conn, id).await, ("PAUSED".into(), version), "nothing written");
    assert_eq!(count(&mut conn, jobs).await, queued, "nothing asked of the provider");

    diesel::sql_query(quota("1000".into())).execute(&mut conn).await.unwrap();
    let started = client.post_htmx(&format!("/servers/{id}/start"), &[("version", &version.to_string())]).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
}

#[actix_web::test]
async fn pause_start_reboot_and_terminate_go_through_the_provider() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut client = app.signed_in("manager@acme.test").await;
    let (id, version) = running_server(&mut conn, app.demo.acme_production).await;
    let first = version;

    let paused = client.post_htmx(&format!("/servers/{id}/pause"), &[("version", &version.to_string())]).await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    assert!(text(&paused.body).contains("Pausing web-frontend-2026.11-builder"));
    assert_eq!(state_of(&mut conn, id).await.0, "PAUSING");
    let stale = client.post_htmx(&format!("/servers/{id}/pause"), &[("version", &version.to_string())]).await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "pausing twice");
    app.run_jobs().await;
    let (state, version) = state_of(&mut conn, id).await;
    assert_eq!(state, "PAUSED");

    let started = client.post_htmx(&format!("/servers/{id}/start"), &[("version", &version.to_string())]).await;
    assert_eq!(started.status, StatusCode::OK);
    app.run_jobs().await;
    let (state, version) = state_of(&mut conn, id).await;
    assert_eq!(state, "RUNNING");

    // A menu read before the pause and the start carries an old version: refused, with the row as
    // it now is in its place, whose menu carries the current version, so trying again succeeds.
    let stale = client.post_htmx(&format!("/servers/{id}/reboot"), &[("version", &first.to_string())]).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(stale.body.contains(&format!(r#"<tr id="server-{id}""#)), "the row: {}", stale.body);
    assert!(stale.body.contains(&format!(r#"name="version" value="{version}""#)), "{}", stale.body);
    assert!(text(&stale.body).contains("web-frontend-2026.11-builder changed meanwhile"), "{}", stale.body);
    assert!(stale.body.contains(r#"class="flash flash-warn""#), "why, as a warning: {}", stale.body);

    let rebooted = client.post_htmx(&format!("/servers/{id}/reboot"), &[("version", &version.to_string())]).await;
    assert_eq!(rebooted.status, StatusCode::OK);
    app.run_jobs().await;
    let (state, version) = state_of(&mut conn, id).await;
    assert_eq!(state, "RUNNING");

    let dialog = client.get_htmx(&format!("/servers/{id}/terminate"), "modal").await;
    assert!(text(&dialog.body).contains("Are you sure you want to terminate web-frontend-2026.11-builder?"));
    let terminated = client.post(&format!("/servers/{id}/terminate"), &[("version", &version.to_string())]).await;
    assert_eq!(terminated.status, StatusCode::SEE_OTHER);
    app.run_jobs().await;
    let (state, _) = state_of(&mut conn, id).await;
    assert_eq!(state, "TERMINATED");
    let ended =
        count(&mut conn, &format!("SELECT count(*) AS n FROM servers WHERE id = {id} AND terminated_at IS NOT NULL"))
            .await;
    assert_eq!(ended, 1);
    let addressed = format!(
        "SELECT count(*) AS n FROM servers WHERE id = {id} AND (private_ip IS NOT NULL OR public_ip IS NOT NULL)"
    );
    assert_eq!(count(&mut conn, &addressed).await, 0, "a terminated server has no address");
    let actions = count(
        &mut conn,
        &format!("SELECT count(*) AS n FROM audit_events WHERE resource = 'SERVER' AND resource_id = '{id}'"),
    )
    .await;
    assert_eq!(actions, 4, "pause, start, reboot, terminate");

    // The image it was launched from can be deleted now.
    let record: i64 =
        servers::table.find(id).select(servers::image_record_id.assume_not_null()).first(&mut conn).await.unwrap();
    let dialog = client.get_htmx(&format!("/images/{record}/delete"), "modal").await;
    assert!(text(&dialog.body).contains("Are you sure you want to delete"));
}

#[actix_web::test]
async fn server_actions_need_the_rights() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let (id, version) = running_server(&mut conn, app.demo.acme_production).await;
    let version = version.to_string();
    for email in ["viewer@acme.test", "configurator@acme.test"] {
        let mut client = app.signed_in(email).await;
        for action in ["pause", "reboot", "terminate"] {
            let refused = client.post(&format!("/servers/{id}/{action}"), &[("version", &version)]).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{email} {action}");
        }
        let refused = client.post(&format!("/servers/{id}/image"), &[("name", "x"), ("budget_code_id", "1")]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{email} make image");
    }
    let mut globex = app.signed_in("admin@globex.test").await;
    assert_eq!(
        globex.post(&format!("/servers/{id}/pause"), &[("version", &version)]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(state_of(&mut conn, id).await.0, "RUNNING");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs").await, 0);
}

#[actix_web::test]
async fn make_image_checks_its_form_and_the_image_joins_my_images_owned_as_chosen() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let (id, _) = running_server(&mut conn, app.demo.acme_production).await;
    let operations = operations_code(&mut conn).await;
    let ops_group: i64 =
        groups::table.filter(groups::name.eq("Admin")).select(groups::id).first(&mut conn).await.unwrap();

    let dialog = client.get_htmx(&format!("/servers/{id}/image"), "modal").await;
    assert!(text(&dialog.body).contains("web-frontend-2026.11-builder: Make Image"));
    let bad = client
        .post_htmx(
            &format!("/servers/{id}/image"),
            &[("name", " "), ("budget_code_id", "999999"), ("group_id", "999999")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let shown = text(&bad.body);
    assert!(
        shown.contains("Enter a name.")
            && shown.contains("Choose one of your budget codes.")
            && shown.contains("Choose one of your groups")
    );
    // A name EC2's CreateImage would refuse when the job runs is refused here, at its field.
    let unmakeable = client
        .post_htmx(
            &format!("/servers/{id}/image"),
            &[("name", "bad/name!!<>"), ("budget_code_id", &operations.to_string())],
        )
        .await;
    assert_eq!(unmakeable.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text(&unmakeable.body).contains("The provider does not take “!” in an image's name"),
        "{}",
        unmakeable.body
    );

    let made = client
        .post_htmx(
            &format!("/servers/{id}/image"),
            &[
                ("name", "frontend-golden"),
                ("budget_code_id", &operations.to_string()),
                ("group_id", &ops_group.to_string()),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    assert!(text(&made.body).contains("Making image “frontend-golden”"));
    // My images lists it at once, as pending, before any worker has run.
    let (record, pending): (i64, (String, Option<String>)) = made_record(&mut conn, "frontend-golden").await;
    assert_eq!(pending, ("PENDING".into(), None), "written in the request, without a provider id yet");
    let row = image_row(&client.get("/images").await.body, record);
    assert!(row.contains("frontend-golden") && row.contains("pending"), "{row}");
    app.run_jobs().await;
    let (same, (_, provider_id)) = made_record(&mut conn, "frontend-golden").await;
    assert_eq!(same, record, "the job filled in the record the request wrote");
    assert!(provider_id.is_some_and(|id| id.starts_with("ami-")));
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM image_records WHERE name = 'frontend-golden'").await,
        1,
        "listed once"
    );
    let (source, budget, group, owner, state): (String, Option<i64>, Option<i64>, Option<i64>, String) =
        image_records::table
            .inner_join(provider_images::table)
            .filter(image_records::account_id.eq(app.demo.acme_production))
            .filter(image_records::name.eq("frontend-golden"))
            .select((
                image_records::source,
                image_records::budget_code_id,
                image_records::owner_group_id,
                image_records::owner_user_id,
                provider_images::state,
            ))
            .first(&mut conn)
            .await
            .unwrap();
    assert_eq!((source.as_str(), budget, group), ("own", Some(operations), Some(ops_group)));
    assert!(owner.is_some());
    assert_eq!(state, "ACTIVE", "the provider has it ready");
    let page = text(&client.get("/images").await.body);
    assert!(page.contains("frontend-golden"));

    // The provider takes one image of a name: a second is refused at its field.
    let form = [("name", "frontend-golden"), ("budget_code_id", &operations.to_string())];
    let twice = client.post_htmx(&format!("/servers/{id}/image"), &form).await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&twice.body).contains("The account already has an image named “frontend-golden”"));
}

#[actix_web::test]
async fn an_image_the_provider_cannot_make_stays_listed_as_failed_with_the_reason() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let (id, _) = running_server(&mut conn, app.demo.acme_production).await;
    // The provider no longer knows the instance: it refuses to make an image of it.
    diesel::update(servers::table.find(id))
        .set(servers::provider_instance_id.eq("i-0123456789abcdef0"))
        .execute(&mut conn)
        .await
        .unwrap();
    let operations = operations_code(&mut conn).await;

    let made = client
        .post_htmx(
            &format!("/servers/{id}/image"),
            &[("name", "doomed-image"), ("budget_code_id", &operations.to_string()), ("group_id", "")],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    app.run_jobs().await;

    let (record, (state, provider_id)) = made_record(&mut conn, "doomed-image").await;
    assert_eq!((state.as_str(), provider_id), ("FAILED", None), "failed, not vanished");
    let row = image_row(&client.get("/images").await.body, record);
    assert!(row.contains("failed") && row.contains("The provider could not make this image"), "{row}");
    assert!(row.contains("InvalidInstanceID"), "the provider's reason: {row}");

    // Delete removes the record; there is nothing to deregister.
    let asked = client.get_htmx(&format!("/images/{record}/delete"), "dialog").await;
    assert!(text(&asked.body).contains("nothing to deregister"), "{}", asked.body);
    let version: i32 = image_records::table.find(record).select(image_records::version).first(&mut conn).await.unwrap();
    let deleted = client.post_htmx(&format!("/images/{record}/delete"), &[("version", &version.to_string())]).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert!(text(&deleted.body).contains("Deleted “doomed-image”; the provider had not made it"), "{}", deleted.body);
    assert_eq!(count(&mut conn, &format!("SELECT count(*) AS n FROM image_records WHERE id = {record}")).await, 0);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM provider_images WHERE provider_image_id IS NULL").await, 0);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'deregister_image'").await, 0);
}

/// The ids of the servers' rows on a page, in order.
fn server_ids(body: &str) -> Vec<i64> {
    body.split("<tr id=\"server-").skip(1).filter_map(|s| s.split('"').next()?.parse().ok()).collect()
}

#[actix_web::test]
async fn the_servers_list_pages_fifty_newest_first_on_the_page_and_in_the_api() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let account = app.demo.acme_production;
    let (template, _) = running_server(&mut conn, account).await;
    // 120 servers that ended an hour ago (listed for a day) and one that ended two days ago (not listed).
    diesel::sql_query(
        "INSERT INTO servers (account_id, image_record_id, provider_image_id, name, description, label, product_id,
                              firewall_ids, owner_user_id, owner_group_id, budget_code_id, hourly_rate, state,
                              version, launched_at, terminated_at)
         SELECT account_id, image_record_id, provider_image_id, 'paged-' || n, '', label, product_id, '{}',
                owner_user_id, owner_group_id, budget_code_id, hourly_rate, 'TERMINATED', 1,
                now() - interval '3 days',
                now() - CASE WHEN n = 0 THEN interval '2 days' ELSE interval '1 hour' END
           FROM servers, generate_series(0, 120) AS n
          WHERE id = $1",
    )
    .bind::<diesel::sql_types::BigInt, _>(template)
    .execute(&mut conn)
    .await
    .unwrap();
    let listed = count(
        &mut conn,
        &format!(
            "SELECT count(*) AS n FROM servers WHERE account_id = {account}
               AND (terminated_at IS NULL OR terminated_at > now() - interval '1 day')"
        ),
    )
    .await;
    let gone = count(&mut conn, "SELECT id AS n FROM servers WHERE name = 'paged-0'").await;
    let mut client = app.signed_in("viewer@acme.test").await;

    let mut pages = Vec::new();
    let mut url = "/servers".to_owned();
    loop {
        let page = client.get(&url).await;
        assert_eq!(page.status, StatusCode::OK);
        pages.push(server_ids(&page.body));
        match crate::images::link(&page.body, "next") {
            Some(next) => url = next,
            None => break,
        }
    }
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    let all = pages.concat();
    assert_eq!(sizes[..2], [50, 50]);
    assert_eq!(all.len() as i64, listed, "every listed server once: {sizes:?}");
    assert!(all.windows(2).all(|w| w[0] > w[1]), "newest first, none twice");
    assert!(!all.contains(&gone), "a server that ended two days ago is not listed");
    // And back from the last page.
    let last = client.get(&url).await;
    let middle = client.get(&crate::images::link(&last.body, "prev").expect("a newer page")).await;
    assert_eq!(server_ids(&middle.body), pages[1]);
    assert!(text(&middle.body).contains("← Newer") && text(&middle.body).contains("Older →"));

    // The API pages the same way.
    let token = crate::api::make_token(&mut client, "servers", account, "read").await;
    let api = crate::api::Api::new(&app, &token);
    let mut seen = Vec::new();
    let mut path = "/api/v1/servers".to_owned();
    let mut cursors = Vec::new();
    loop {
        let answer = api.get(&path).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
        seen.extend(answer.json["items"].as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()));
        cursors.push(answer.json["prev"].as_str().map(str::to_owned));
        match answer.json["next"].as_str() {
            Some(next) => path = format!("/api/v1/servers?after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, all, "the API's pages hold the page's servers in the same order");
    assert_eq!(cursors[0], None, "the first page has none before it");
    let back = api.get(&format!("/api/v1/servers?before={}", cursors[1].as_deref().unwrap())).await;
    let first: Vec<i64> = back.json["items"].as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect();
    assert_eq!(first, pages[0]);

    // A link that is not one of the pager's is refused where it is read.
    let bad = client.get("/servers?after=not-a-cursor").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(text(&bad.body).contains("This page link is not valid."));
    assert_eq!(api.get("/api/v1/servers?after=not-a-cursor").await.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[actix_web::test]
async fn a_server_the_provider_no_longer_knows_is_marked_terminated_and_the_others_still_sync() {
    use stratus_console::jobs::servers::SYNC_SERVERS;
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let account = app.demo.acme_production;
    let (running, _) = running_server(&mut conn, account).await;
    // Two servers the provider does not report: one terminated outside the console long enough ago
    // that the provider has forgotten it, and one whose instance was launched a moment ago (EC2's
    // DescribeInstances may not show it yet).
    for (name, instance, recorded) in
        [("forgotten", "i-0123456789abcdef0", "1 day"), ("just-launched", "i-0fedcba9876543210", "1 second")]
    {
        diesel::sql_query(format!(
            "INSERT INTO servers (account_id, image_record_id, provider_image_id, name, description, label,
                                  product_id, firewall_ids, owner_user_id, owner_group_id, budget_code_id,
                                  hourly_rate, state, version, launched_at, provider_instance_id, instance_recorded_at)
             SELECT account_id, image_record_id, provider_image_id, '{name}', '', label, product_id, '{{}}',
                    owner_user_id, owner_group_id, budget_code_id, hourly_rate, 'RUNNING', 1,
                    now() - interval '{recorded}', '{instance}', now() - interval '{recorded}'
               FROM servers WHERE id = $1"
        ))
        .bind::<diesel::sql_types::BigInt, _>(running)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    assert!(stratus_console::db::jobs::enqueue_sync(&mut conn, account, SYNC_SERVERS, 2).await.unwrap());

    app.run_jobs().await;

    let (sync_state, sync_error): (String, Option<String>) = jobs::table
        .filter(jobs::kind.eq(SYNC_SERVERS))
        .filter(jobs::account_id.eq(account))
        .order(jobs::id.desc())
        .select((jobs::state, jobs::last_error))
        .first(&mut conn)
        .await
        .unwrap();
    assert_ne!(sync_state, "ERROR", "the sync is not held up by the server it cannot find: {sync_error:?}");
    assert_eq!(sync_error, None);
    let state_named = async |conn: &mut AsyncPgConnection, name: &str| -> String {
        servers::table.filter(servers::name.eq(name)).select(servers::state).first(conn).await.unwrap()
    };
    assert_eq!(state_named(&mut conn, "forgotten").await, "TERMINATED");
    assert_eq!(state_named(&mut conn, "just-launched").await, "RUNNING", "followed until the provider shows it");
    assert_eq!(state_of(&mut conn, running).await.0, "RUNNING", "the server the provider has is still observed");
    let mut client = app.signed_in("viewer@acme.test").await;
    let page = client.get("/servers").await.body;
    let forgotten = page.split("<tr id=\"server-").find(|row| row.contains(">forgotten<")).expect("its row");
    assert!(text(forgotten).contains("terminated"), "{}", text(forgotten));
}

/// Two images made at the same moment under one name: the second waits for
/// the first, then finds the name taken and is refused at its field, so the
/// provider is never asked for a second image of that name.
#[actix_web::test]
async fn two_images_made_at_once_under_one_name_are_not_both_taken() {
    use stratus_console::changes::servers::{NewImage, make_image};
    use stratus_console::domain::images::MadeImageName;

    use crate::harness::{Acting, hold_open, until_one_waits};

    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let (server, _) = running_server(&mut conn, production).await;
    let admin = count(&mut conn, "SELECT id AS n FROM users WHERE email = 'admin@acme.test'").await;
    let code = count(&mut conn, "SELECT id AS n FROM budget_codes WHERE name = 'Operations'").await;
    let first = hold_open(&app, async move |c| {
        let acting = Acting::as_user(c, admin, production).await;
        let image =
            NewImage { name: MadeImageName::parse("nightly-golden").unwrap(), budget_code_id: code, group_id: None };
        let settings = stratus_console::jobs::JobSettings::default();
        make_image(c, &acting.actor(), &settings, server, &image).await.unwrap();
    })
    .await;
    let mut client = app.signed_in("admin@acme.test").await;
    let path = format!("/servers/{server}/image");
    let fields = [("name", "nightly-golden".to_owned()), ("budget_code_id", code.to_string())];
    let second = actix_web::rt::spawn(async move {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        client.post_htmx(&path, &fields).await
    });
    until_one_waits(&mut conn, "the second image").await;
    first.commit().await;
    let refused = second.await.unwrap();

    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", text(&refused.body));
    assert!(
        text(&refused.body).contains("The account already has an image named “nightly-golden”"),
        "{}",
        text(&refused.body)
    );
    let named = "SELECT count(*) AS n FROM provider_images WHERE name = 'nightly-golden'";
    assert_eq!(count(&mut conn, named).await, 1, "one image, one record, one job");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'create_image'").await, 1);
}
