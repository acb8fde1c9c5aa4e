//! Protection and the recycle bin (ISSUE 17): a delete bins an own image in
//! every account, a restore brings it back as it was, the lifecycle job
//! purges it when its retention ends (evaluated at a "now" the test gives),
//! and the provider deregisters it only then.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use reqwest::StatusCode;
use stratus_console::cloud::{CloudProvider as _, LaunchPermission};
use stratus_console::db::{self, schema::*};
use stratus_console::domain::access::JobSubject;
use stratus_console::jobs::lifecycle::{IMAGE_LIFECYCLE, Lifecycle};

use crate::harness::{TestApp, count, text};
use crate::image_actions::record;
use crate::keypairs::at_provider;

/// What a restore must bring back: name, label, shares and parent.
async fn kept(conn: &mut AsyncPgConnection, id: i64) -> (String, String, i64, Option<i64>) {
    let (name, label, image, parent): (String, String, i64, Option<i64>) = image_records::table
        .inner_join(provider_images::table)
        .filter(image_records::id.eq(id))
        .select((image_records::name, image_records::label, provider_images::id, provider_images::parent_id))
        .first(conn)
        .await
        .unwrap();
    let shares: i64 = image_records::table
        .filter(image_records::provider_image_id.eq(image))
        .filter(image_records::source.eq("shared"))
        .count()
        .get_result(conn)
        .await
        .unwrap();
    (format!("{name}/{label}"), format!("{shares} shares"), image, parent)
}

/// Record `id`'s version, in the bin or not (restore and purge send it).
async fn version_of(conn: &mut AsyncPgConnection, id: i64) -> String {
    let version: i32 =
        image_records::table.find(id).select(image_records::version).first(conn).await.expect("the record");
    version.to_string()
}

async fn bin_of(conn: &mut AsyncPgConnection, id: i64) -> Option<chrono::DateTime<Utc>> {
    image_records::table
        .inner_join(provider_images::table)
        .filter(image_records::id.eq(id))
        .select(provider_images::purge_after)
        .first(conn)
        .await
        .unwrap()
}

/// Runs the account's lifecycle job as at `now`.
async fn lifecycle_at(app: &TestApp, account: i64, now: chrono::DateTime<Utc>) {
    let payload = serde_json::to_value(Lifecycle { now: Some(now) }).unwrap();
    let job = db::jobs::NewJob::new(account, IMAGE_LIFECYCLE, payload, 2, JobSubject::Account);
    db::jobs::enqueue(&mut app.db().await, &job).await.unwrap();
    app.run_jobs().await;
}

/// Retires the provider image today, as the account's lifecycle job does.
async fn retire_at_once(app: &TestApp, account: i64, image: i64) {
    diesel::update(provider_images::table.find(image))
        .set(provider_images::retire_on.eq(Utc::now().date_naive()))
        .execute(&mut app.db().await)
        .await
        .unwrap();
    lifecycle_at(app, account, Utc::now() + Duration::days(1)).await;
}

#[actix_web::test]
async fn a_delete_bins_the_image_in_every_account_and_a_restore_brings_it_back_as_it_was() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let (production, staging) = (app.demo.acme_production, app.demo.acme_staging);
    let (id, version) = record(&mut conn, production, "api-server-base").await.unwrap();
    let (shared, _) = record(&mut conn, staging, "api-server-base (from Production)").await.unwrap();
    let before = kept(&mut conn, id).await;
    assert!(before.3.is_some(), "the demo image knows its parent");
    let mut admin = app.signed_in("admin@acme.test").await;

    let dialog = admin.get_htmx(&format!("/images/{id}/delete"), "modal").await;
    assert!(text(&dialog.body).contains("It goes to the recycle bin"), "{}", text(&dialog.body));
    assert!(text(&dialog.body).contains("for 7 days"), "the company's default retention");
    let done = admin.post_htmx(&format!("/images/{id}/delete"), &[("version", &version.to_string())]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", text(&done.body));
    assert!(text(&done.body).contains("Moved “api-server-base” to the recycle bin"), "{}", text(&done.body));

    // Nothing is removed or deregistered; every record leaves the lists.
    let until = bin_of(&mut conn, id).await.expect("in the bin");
    let days = (until - Utc::now()).num_hours();
    assert!((7 * 24 - 1..=7 * 24).contains(&days), "purged in 7 days: {days} h");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'deregister_image'").await, 0);
    assert_eq!(kept(&mut conn, id).await, before, "name, label, shares and lineage stay");
    assert!(!admin.get("/images").await.body.contains(&format!("id=\"image-{id}\"")));
    let bin = admin.get("/images?scope=bin").await;
    assert!(bin.body.contains(&format!("id=\"image-{id}\"")), "{}", text(&bin.body));
    assert!(text(&bin.body).contains("Alex Morgan"), "deleted by");
    assert_eq!(admin.get(&format!("/images/{id}")).await.status, StatusCode::NOT_FOUND);
    // Its launch dialog, opened from a list read before the delete, says why it is not offered.
    let launch = admin.get(&format!("/images/{id}/launch")).await;
    assert_eq!(launch.status, StatusCode::CONFLICT);
    assert!(text(&launch.body).contains("“api-server-base” is in the recycle bin: restore it first."));
    let launched = admin.post(&format!("/images/{id}/launch"), &[("step", "launch")]).await;
    assert_eq!(launched.status, StatusCode::CONFLICT, "{}", text(&launched.body));
    admin.post("/account", &[("account_id", &staging.to_string())]).await;
    assert!(!admin.get("/images?scope=shared").await.body.contains(&format!("id=\"image-{shared}\"")));
    assert_eq!(admin.get(&format!("/images/{shared}/launch")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        admin
            .post_htmx(&format!("/images/{id}/restore"), &[("version", &version_of(&mut conn, id).await)])
            .await
            .status,
        StatusCode::NOT_FOUND,
        "Staging cannot restore Production's image"
    );

    admin.post("/account", &[("account_id", &production.to_string())]).await;
    let stale = admin.post_htmx(&format!("/images/{id}/restore"), &[("version", &version.to_string())]).await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "the version the list showed before the delete");
    assert!(bin_of(&mut conn, id).await.is_some(), "still in the bin");
    let restored =
        admin.post_htmx(&format!("/images/{id}/restore"), &[("version", &version_of(&mut conn, id).await)]).await;
    assert_eq!(restored.status, StatusCode::OK, "{}", text(&restored.body));
    assert!(text(&restored.body).contains("Restored “api-server-base”"));
    // Sent twice (no JavaScript, a double click): the second is told why.
    for action in ["restore", "purge"] {
        let again =
            admin.post_htmx(&format!("/images/{id}/{action}"), &[("version", &version_of(&mut conn, id).await)]).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{action}");
        assert!(text(&again.body).contains("“api-server-base” is not in the recycle bin."), "{}", text(&again.body));
    }
    assert_eq!(bin_of(&mut conn, id).await, None);
    assert_eq!(kept(&mut conn, id).await, before);
    assert!(admin.get("/images").await.body.contains(&format!("id=\"image-{id}\"")));
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM audit_events WHERE action IN ('delete', 'restore')").await,
        2
    );
    admin.post("/account", &[("account_id", &staging.to_string())]).await;
    assert!(admin.get("/images?scope=shared").await.body.contains(&format!("id=\"image-{shared}\"")));
}

#[actix_web::test]
async fn the_lifecycle_purges_when_the_retention_ends_and_only_then_the_provider_deregisters() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let (id, version) = record(&mut conn, production, "batch-worker").await.unwrap();
    let ami: String = image_records::table
        .inner_join(provider_images::table)
        .filter(image_records::id.eq(id))
        .select(provider_images::provider_image_id.assume_not_null())
        .first(&mut conn)
        .await
        .unwrap();
    let mut admin = app.signed_in("admin@acme.test").await;
    admin.post_htmx(&format!("/images/{id}/delete"), &[("version", &version.to_string())]).await;

    lifecycle_at(&app, production, Utc::now() + Duration::days(6)).await;
    assert!(bin_of(&mut conn, id).await.is_some(), "day 6 of 7: still in the bin");
    assert!(at_provider(&app.demo.numbers.production).await.describe_image(&ami).await.unwrap().is_some());

    lifecycle_at(&app, production, Utc::now() + Duration::days(8)).await;
    assert!(record(&mut conn, production, "batch-worker").await.is_none(), "purged");
    let gone = at_provider(&app.demo.numbers.production).await.describe_image(&ami).await.unwrap();
    assert!(gone.is_none(), "deregistered at the provider: {gone:?}");
    let by_system = "SELECT count(*) AS n FROM audit_events WHERE action = 'purge' AND user_id IS NULL AND changes->>'recycle_bin' = 'retention ended'";
    assert_eq!(count(&mut conn, by_system).await, 1);
}

#[actix_web::test]
async fn protection_refuses_delete_with_the_reason_and_delete_now_purges_from_the_bin() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let (id, version) = record(&mut conn, production, "postgres-15-primary").await.unwrap();
    let mut configurator = app.signed_in("configurator@acme.test").await;
    let protected =
        configurator.post_htmx(&format!("/images/{id}/protect"), &[("version", &version.to_string())]).await;
    assert_eq!(protected.status, StatusCode::OK, "IMAGE Configure protects: {}", text(&protected.body));
    assert!(text(&protected.body).contains("protected"));

    let mut admin = app.signed_in("admin@acme.test").await;
    let (_, version) = record(&mut conn, production, "postgres-15-primary").await.unwrap();
    let dialog = admin.get_htmx(&format!("/images/{id}/delete"), "modal").await;
    assert!(text(&dialog.body).contains("is protected: remove its protection first"), "{}", text(&dialog.body));
    let refused = admin.post_htmx(&format!("/images/{id}/delete"), &[("version", &version.to_string())]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(text(&refused.body).contains("is protected"));
    assert_eq!(bin_of(&mut conn, id).await, None, "nothing changed");

    admin.post_htmx(&format!("/images/{id}/unprotect"), &[("version", &version.to_string())]).await;
    let (_, version) = record(&mut conn, production, "postgres-15-primary").await.unwrap();
    let deleted = admin.post_htmx(&format!("/images/{id}/delete"), &[("version", &version.to_string())]).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert!(bin_of(&mut conn, id).await.is_some());

    // Delete now needs IMAGE Delete; an administrator empties it from the bin.
    assert_eq!(
        configurator
            .post_htmx(&format!("/images/{id}/purge"), &[("version", &version_of(&mut conn, id).await)])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let asked = admin.get_htmx(&format!("/images/{id}/purge"), "modal").await;
    assert!(text(&asked.body).contains("Delete postgres-15-primary for good now?"), "{}", text(&asked.body));
    // Sent at an older version: asked again about the image as it is now.
    let stale = admin.post_htmx(&format!("/images/{id}/purge"), &[("version", &version.to_string())]).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    let said = "Someone else changed this image (“postgres-15-primary”) meanwhile. Delete it for good as it is now?";
    assert!(text(&stale.body).contains(said), "{}", text(&stale.body));
    let current = version_of(&mut conn, id).await;
    assert!(stale.body.contains(&format!(r#"name="version" value="{current}""#)), "{}", stale.body);
    assert!(record(&mut conn, production, "postgres-15-primary").await.is_some(), "nothing deleted yet");
    let purged =
        admin.post_htmx(&format!("/images/{id}/purge"), &[("version", &version_of(&mut conn, id).await)]).await;
    assert_eq!(purged.status, StatusCode::OK, "{}", text(&purged.body));
    assert!(text(&purged.body).contains("Deleted “postgres-15-primary” for good"));
    assert!(record(&mut conn, production, "postgres-15-primary").await.is_none());
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'deregister_image'").await, 1);
}

#[actix_web::test]
async fn authorization_of_every_new_route_by_role_and_account() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let (page, _) = record(&mut conn, production, "web-frontend-2026.11").await.unwrap();
    let (binned, version) = record(&mut conn, production, "batch-worker").await.unwrap();
    let mut admin = app.signed_in("admin@acme.test").await;
    admin.post_htmx(&format!("/images/{binned}/delete"), &[("version", &version.to_string())]).await;
    let globex: i64 = image_records::table
        .filter(image_records::account_id.eq(app.demo.globex_main))
        .select(image_records::id)
        .first(&mut conn)
        .await
        .unwrap();

    // (role, may configure, may delete)
    for (email, configure, delete) in [
        ("admin@acme.test", true, true),
        ("manager@acme.test", true, true),
        ("configurator@acme.test", true, false),
        ("viewer@acme.test", false, false),
    ] {
        let mut client = app.signed_in(email).await;
        let expect = |allowed: bool| if allowed { StatusCode::OK } else { StatusCode::FORBIDDEN };
        assert_eq!(client.get(&format!("/images/{page}")).await.status, StatusCode::OK, "{email}: the page");
        let (_, v) = record(&mut conn, production, "web-frontend-2026.11").await.unwrap();
        let form = [("version", v.to_string())];
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let protect = client.post_htmx(&format!("/images/{page}/protect"), &form).await.status;
        assert_eq!(protect, expect(configure), "{email}: protect");
        let (_, v) = record(&mut conn, production, "web-frontend-2026.11").await.unwrap();
        let unprotect = client.post_htmx(&format!("/images/{page}/unprotect"), &[("version", &v.to_string())]).await;
        assert_eq!(unprotect.status, expect(configure), "{email}: unprotect");
        assert_eq!(
            client.get_htmx(&format!("/images/{binned}/purge"), "modal").await.status,
            expect(delete),
            "{email}"
        );
        if !delete {
            assert_eq!(
                client
                    .post_htmx(
                        &format!("/images/{binned}/restore"),
                        &[("version", &version_of(&mut conn, binned).await)]
                    )
                    .await
                    .status,
                StatusCode::FORBIDDEN
            );
            assert_eq!(
                client
                    .post_htmx(&format!("/images/{binned}/purge"), &[("version", &version_of(&mut conn, binned).await)])
                    .await
                    .status,
                StatusCode::FORBIDDEN
            );
        }
        // The schedule dialog and a bulk action need IMAGE Configure on the image.
        let schedule = client.get_htmx(&format!("/images/{page}/schedule"), "modal").await.status;
        assert_eq!(schedule, expect(configure), "{email}: schedule");
        let (_, v) = record(&mut conn, production, "web-frontend-2026.11").await.unwrap();
        let saved = client
            .post_htmx(
                &format!("/images/{page}/schedule"),
                &[("version", &v.to_string()), ("deprecate_on", ""), ("retire_on", "")],
            )
            .await;
        assert_eq!(saved.status, expect(configure), "{email}: save a schedule");
        let page_id = page.to_string();
        let bulk = client.post_htmx("/images/bulk", &[("ids", page_id.as_str()), ("action", "protect")]).await;
        assert_eq!(bulk.status, expect(configure), "{email}: bulk protect");
        let bulk = client.post_htmx("/images/bulk", &[("ids", page_id.as_str()), ("action", "unprotect")]).await;
        assert_eq!(bulk.status, expect(configure), "{email}: bulk unprotect");

        // Another company's ids are not found, whatever the role (a role
        // without any bulk action is refused them before any id is read).
        let globex_id = globex.to_string();
        let bulk = client.post_htmx("/images/bulk", &[("ids", globex_id.as_str()), ("action", "protect")]).await;
        let not_found = if configure { StatusCode::NOT_FOUND } else { StatusCode::FORBIDDEN };
        assert_eq!(bulk.status, not_found, "{email}: bulk with another company's id");
        assert_eq!(client.get_htmx(&format!("/images/{globex}/schedule"), "modal").await.status, StatusCode::NOT_FOUND);
        for path in ["", "/protect", "/unprotect", "/restore", "/purge", "/schedule"] {
            let url = format!("/images/{globex}{path}");
            let status = if path.is_empty() {
                client.get(&url).await.status
            } else {
                client.post_htmx(&url, &[("version", "1")]).await.status
            };
            assert_eq!(status, StatusCode::NOT_FOUND, "{email}: {url}");
        }
    }
    let restored = admin
        .post_htmx(&format!("/images/{binned}/restore"), &[("version", &version_of(&mut conn, binned).await)])
        .await;
    assert_eq!(restored.status, StatusCode::OK, "an administrator restores");
}

#[actix_web::test]
async fn the_company_sets_its_retention_and_zero_deletes_at_once() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let retention = "SELECT image_retention_days::bigint AS n FROM companies WHERE name = 'Acme'";
    // Only administrators (ACCOUNT Configure) set it.
    for email in ["manager@acme.test", "configurator@acme.test", "viewer@acme.test"] {
        let mut client = app.signed_in(email).await;
        let status = client.post("/admin/accounts/retention", &[("bin_retention_days", "0")]).await.status;
        assert_eq!(status, StatusCode::FORBIDDEN, "{email}");
    }
    assert_eq!(count(&mut conn, retention).await, 7, "nothing changed");

    let mut admin = app.signed_in("admin@acme.test").await;
    let page = admin.get("/admin/accounts").await;
    assert!(page.body.contains("name=\"bin_retention_days\" value=\"7\""), "the default");
    for bad in ["366", "-1", "a week", "3\u{0}"] {
        let refused = admin.post("/admin/accounts/retention", &[("bin_retention_days", bad)]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        assert!(text(&refused.body).contains("Enter a number of days from 0 (delete at once) to 365."));
        assert!(refused.body.contains("aria-invalid=\"true\""), "at the field");
        // The Connect account form beside it is whole: every region, a way to sign in chosen.
        let regions = |body: &str| body.matches("name=\"regions\"").count();
        assert!(regions(&page.body) > 20);
        assert_eq!(regions(&refused.body), regions(&page.body), "{bad:?}: the regions stay offered");
        assert!(refused.body.contains(r#"value="assume_role" checked"#), "{bad:?}: assume a role, as at first");
    }
    assert_eq!(count(&mut conn, retention).await, 7, "nothing changed");
    let saved = admin.post("/admin/accounts/retention", &[("bin_retention_days", "0")]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(count(&mut conn, retention).await, 0);
    let audited = "SELECT count(*) AS n FROM audit_events WHERE action = 'set_retention'";
    assert_eq!(count(&mut conn, audited).await, 2, "in both of Acme's accounts");

    let (id, version) = record(&mut conn, production, "batch-worker").await.unwrap();
    let deleted = admin.post_htmx(&format!("/images/{id}/delete"), &[("version", &version.to_string())]).await;
    assert!(text(&deleted.body).contains("Deleted “batch-worker”; the provider deregisters"), "{}", deleted.body);
    assert!(record(&mut conn, production, "batch-worker").await.is_none());
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'deregister_image'").await, 1);
}

#[actix_web::test]
async fn the_demo_leaves_one_staging_image_in_the_bin_with_who_and_when() {
    let app = TestApp::spawn().await;
    let mut admin = app.signed_in("admin@acme.test").await;
    admin.post("/account", &[("account_id", &app.demo.acme_staging.to_string())]).await;
    let bin = text(&admin.get("/images?scope=bin").await.body);
    assert!(bin.contains("load-test-runner") && bin.contains("Alex Morgan"), "{bin}");
    assert!(!text(&admin.get("/images").await.body).contains("load-test-runner"));
}

async fn schedule_of(conn: &mut AsyncPgConnection, id: i64) -> (Option<NaiveDate>, Option<NaiveDate>, Option<String>) {
    image_records::table
        .inner_join(provider_images::table)
        .filter(image_records::id.eq(id))
        .select((provider_images::deprecate_on, provider_images::retire_on, provider_images::retirement_waits))
        .first(conn)
        .await
        .unwrap()
}

#[actix_web::test]
async fn the_schedule_dialog_checks_its_dates_at_their_fields_and_saves_them() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let (id, version) = record(&mut conn, production, "batch-worker").await.unwrap();
    let mut viewer = app.signed_in("viewer@acme.test").await;
    assert_eq!(viewer.get_htmx(&format!("/images/{id}/schedule"), "modal").await.status, StatusCode::FORBIDDEN);
    let mut configurator = app.signed_in("configurator@acme.test").await;
    let dialog = configurator.get_htmx(&format!("/images/{id}/schedule"), "modal").await;
    assert_eq!(dialog.status, StatusCode::OK);
    assert!(text(&dialog.body).contains("batch-worker: Schedule"));

    let today = Utc::now().date_naive();
    let day = |days: i64| (today + Duration::days(days)).to_string();
    let v = version.to_string();
    for (d, r, field, message) in [
        (day(0), String::new(), "deprecate-on", "Choose a day after today."),
        (String::new(), day(4000), "retire-on", "Choose a day at most ten years ahead."),
        (day(10), day(5), "retire-on", "Retire it on or after the day it is deprecated."),
        ("next week".to_owned(), String::new(), "deprecate-on", "Enter a date as YYYY-MM-DD."),
        (format!("{}-1-1", today.year() + 1), String::new(), "deprecate-on", "Enter a date as YYYY-MM-DD."),
        (
            String::new(),
            format!("{}-02-30", today.year() + 1),
            "retire-on",
            &format!("There is no day {}-02-30 in the calendar.", today.year() + 1),
        ),
    ] {
        let refused = configurator
            .post_htmx(&format!("/images/{id}/schedule"), &[("version", &v), ("deprecate_on", &d), ("retire_on", &r)])
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{d} {r}");
        assert!(refused.body.contains(&format!("id=\"{field}-error\">{message}")), "{}", refused.body);
        assert!(refused.body.contains(&format!("value=\"{d}\"")), "as typed");
    }
    assert_eq!(schedule_of(&mut conn, id).await, (None, None, None), "nothing saved");

    let saved = configurator
        .post_htmx(
            &format!("/images/{id}/schedule"),
            &[("version", &v), ("deprecate_on", &day(3)), ("retire_on", &day(30))],
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", text(&saved.body));
    assert!(text(&saved.body).contains("retiring in 30 days"), "the row's badge: {}", text(&saved.body));
    let (deprecate_on, retire_on, _) = schedule_of(&mut conn, id).await;
    assert_eq!((deprecate_on, retire_on), (Some(today + Duration::days(3)), Some(today + Duration::days(30))));
    // A dialog refused for a bad day keeps the version it was read at: sent
    // again, it meets the change made meanwhile instead of overwriting it.
    let refused = configurator
        .post_htmx(&format!("/images/{id}/schedule"), &[("version", &v), ("deprecate_on", "next week")])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains(&format!(r#"name="version" value="{v}""#)), "{}", refused.body);
    let stale = configurator
        .post_htmx(&format!("/images/{id}/schedule"), &[("version", &v), ("deprecate_on", ""), ("retire_on", "")])
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "the version moved on");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM audit_events WHERE action = 'schedule'").await, 1);
}

#[actix_web::test]
async fn a_scheduled_retirement_deprecates_then_waits_for_a_live_server_then_disables_and_bins() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    // The image the demo's running server was launched from.
    let (id, version): (i64, i32) = image_records::table
        .filter(image_records::account_id.eq(production))
        .filter(image_records::source.eq("public_launched"))
        .select((image_records::id, image_records::version))
        .first(&mut conn)
        .await
        .unwrap();
    let own = record(&mut conn, production, "web-frontend-2026.11").await.unwrap();
    let mut admin = app.signed_in("admin@acme.test").await;
    let today = Utc::now().date_naive();
    let (d, r) = ((today + Duration::days(2)).to_string(), (today + Duration::days(5)).to_string());
    // A public image launched here is not this account's to schedule.
    let refused = admin
        .post_htmx(&format!("/images/{id}/schedule"), &[("version", &version.to_string()), ("deprecate_on", &d)])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    let said = "this account has it launched from the public catalog";
    assert!(text(&refused.body).contains(said), "{}", text(&refused.body));

    let (id, version) = own;
    let saved = admin
        .post_htmx(
            &format!("/images/{id}/schedule"),
            &[("version", &version.to_string()), ("deprecate_on", &d), ("retire_on", &r)],
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", text(&saved.body));
    let server = live_server_from(&mut conn, production, id).await;

    lifecycle_at(&app, production, Utc::now() + Duration::days(1)).await;
    assert!(!deprecated(&mut conn, id).await, "day 1: nothing is due");
    lifecycle_at(&app, production, Utc::now() + Duration::days(3)).await;
    assert!(deprecated(&mut conn, id).await, "day 3: deprecated");
    lifecycle_at(&app, production, Utc::now() + Duration::days(6)).await;
    let (_, _, waits) = schedule_of(&mut conn, id).await;
    assert!(waits.as_deref().is_some_and(|w| w.contains("Terminate it first")), "{waits:?}");
    assert!(bin_of(&mut conn, id).await.is_none(), "it waits while the server lives");
    let page = text(&admin.get(&format!("/images/{id}")).await.body);
    assert!(page.contains("Its retirement is due and waits"), "the image page says why: {page}");

    diesel::sql_query(format!("UPDATE servers SET state = 'TERMINATED', terminated_at = now() WHERE id = {server}"))
        .execute(&mut conn)
        .await
        .unwrap();
    lifecycle_at(&app, production, Utc::now() + Duration::days(7)).await;
    assert!(bin_of(&mut conn, id).await.is_some(), "retired into the bin");
    let retired = "SELECT count(*) AS n FROM audit_events WHERE action = 'retire' AND user_id IS NULL";
    assert_eq!(count(&mut conn, retired).await, 1);
    let jobs = "SELECT count(*) AS n FROM jobs WHERE kind = 'set_image_availability' AND state = 'COMPLETE'";
    assert_eq!(count(&mut conn, jobs).await, 1, "disabled at the provider, which can");

    // Restored, it is enabled again and its schedule is done.
    let restored =
        admin.post_htmx(&format!("/images/{id}/restore"), &[("version", &version_of(&mut conn, id).await)]).await;
    assert_eq!(restored.status, StatusCode::OK);
    app.run_jobs().await;
    assert_eq!(count(&mut conn, jobs).await, 2, "enabled again");
    assert_eq!(schedule_of(&mut conn, id).await, (None, None, None));
}

#[actix_web::test]
async fn a_protected_image_waits_on_its_retirement_day_and_says_why() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let (id, version) = record(&mut conn, production, "postgres-15-primary").await.unwrap();
    let mut admin = app.signed_in("admin@acme.test").await;
    let r = (Utc::now().date_naive() + Duration::days(1)).to_string();
    admin.post_htmx(&format!("/images/{id}/schedule"), &[("version", &version.to_string()), ("retire_on", &r)]).await;
    let (_, version) = record(&mut conn, production, "postgres-15-primary").await.unwrap();
    admin.post_htmx(&format!("/images/{id}/protect"), &[("version", &version.to_string())]).await;
    lifecycle_at(&app, production, Utc::now() + Duration::days(2)).await;
    assert!(bin_of(&mut conn, id).await.is_none());
    assert!(deprecated(&mut conn, id).await, "deprecated on its retirement day, as it would have been");
    let (_, _, waits) = schedule_of(&mut conn, id).await;
    assert!(waits.as_deref().is_some_and(|w| w.contains("is protected")), "{waits:?}");
    let page = text(&admin.get(&format!("/images/{id}")).await.body);
    assert!(page.contains("Its retirement is due and waits: “postgres-15-primary” is protected"), "{page}");

    // Undeprecated while it waits, it stays so: the retirement deprecated it once.
    let version = version_of(&mut conn, id).await;
    let undeprecated = admin.post_htmx(&format!("/images/{id}/undeprecate"), &[("version", &version)]).await;
    assert_eq!(undeprecated.status, StatusCode::OK, "{}", text(&undeprecated.body));
    lifecycle_at(&app, production, Utc::now() + Duration::days(3)).await;
    assert!(!deprecated(&mut conn, id).await, "the user's undeprecate is kept");
    let by_schedule = "SELECT count(*) AS n FROM audit_events WHERE action = 'deprecate' AND user_id IS NULL";
    assert_eq!(count(&mut conn, by_schedule).await, 1);
}

async fn deprecated(conn: &mut AsyncPgConnection, id: i64) -> bool {
    image_records::table.find(id).select(image_records::deprecated_at.is_not_null()).first(conn).await.unwrap()
}

/// A server of the account recorded as launched from record `id`, alive.
async fn live_server_from(conn: &mut AsyncPgConnection, account: i64, id: i64) -> i64 {
    let (image, code): (i64, i64) = image_records::table
        .inner_join(provider_images::table)
        .filter(image_records::id.eq(id))
        .select((provider_images::id, image_records::budget_code_id.assume_not_null()))
        .first(conn)
        .await
        .unwrap();
    db::servers::insert(
        conn,
        &db::servers::NewServer {
            account_id: account,
            image_record_id: Some(id),
            provider_image_id: image,
            name: "still-running",
            description: "",
            product_id: "t3.micro",
            zone: None,
            owner_user_id: None,
            owner_group_id: None,
            budget_code_id: code,
            hourly_rate: bigdecimal::BigDecimal::from(0),
            provider_instance_id: None,
            private_ip: None,
            state: "RUNNING",
        },
    )
    .await
    .unwrap()
}

/// A retirement day that passed while the image was in the bin does not
/// retire it again the moment it is restored; a deprecation day that passed
/// still deprecates it, as scheduled.
#[actix_web::test]
async fn a_restore_drops_a_retirement_day_that_passed_in_the_bin() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let (id, version) = record(&mut conn, production, "api-server-base").await.unwrap();
    let mut admin = app.signed_in("admin@acme.test").await;
    let binned = admin.post_htmx(&format!("/images/{id}/delete"), &[("version", &version.to_string())]).await;
    assert_eq!(binned.status, StatusCode::OK, "{}", text(&binned.body));
    let today = Utc::now().date_naive();
    let (deprecate_on, retire_on) = (today - Duration::days(2), today - Duration::days(1));
    let (_, _, image, _) = kept(&mut conn, id).await;
    diesel::update(provider_images::table.find(image))
        .set((provider_images::deprecate_on.eq(deprecate_on), provider_images::retire_on.eq(retire_on)))
        .execute(&mut conn)
        .await
        .unwrap();

    let restored =
        admin.post_htmx(&format!("/images/{id}/restore"), &[("version", &version_of(&mut conn, id).await)]).await;
    assert_eq!(restored.status, StatusCode::OK, "{}", text(&restored.body));
    assert_eq!(schedule_of(&mut conn, id).await, (Some(deprecate_on), None, None));
    let said = "SELECT count(*) AS n FROM audit_events WHERE action = 'restore' AND changes->'retire_on'->>'to' IS NULL \
                AND changes->'retire_on'->>'from' IS NOT NULL";
    assert_eq!(count(&mut conn, said).await, 1, "the restore's event says the day was dropped");
    lifecycle_at(&app, production, Utc::now()).await;
    assert!(bin_of(&mut conn, id).await.is_none(), "restored, it stays");
    assert!(deprecated(&mut conn, id).await, "deprecated as scheduled");
}

/// A retirement disables the image at the provider, which takes every
/// launch permission it had (EC2's DisableImage); a restore enables it and
/// grants its shares again.
#[actix_web::test]
async fn a_restore_of_a_retired_image_grants_its_shares_again() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let (id, _) = record(&mut conn, production, "api-server-base").await.unwrap();
    let (_, shares, image, _) = kept(&mut conn, id).await;
    assert_eq!(shares, "1 shares", "shared with Staging");
    retire_at_once(&app, production, image).await;
    assert!(bin_of(&mut conn, id).await.is_some(), "retired into the bin");

    let mut admin = app.signed_in("admin@acme.test").await;
    let restored =
        admin.post_htmx(&format!("/images/{id}/restore"), &[("version", &version_of(&mut conn, id).await)]).await;
    assert_eq!(restored.status, StatusCode::OK, "{}", text(&restored.body));
    let staging = &app.demo.numbers.staging;
    let grant = format!(
        "SELECT count(*) AS n FROM jobs WHERE kind = 'launch_permission' AND payload->>'grant' = 'true' \
         AND payload->>'account_number' = '{staging}'"
    );
    let queued = format!("{grant} AND state = 'QUEUED'");
    assert_eq!(count(&mut conn, &queued).await, 1, "a grant to Staging is queued");
    app.run_jobs().await;
    assert_eq!(count(&mut conn, &queued).await, 0);
    assert!(count(&mut conn, &format!("{grant} AND state = 'COMPLETE'")).await >= 1, "and granted");
    let enabled =
        "SELECT count(*) AS n FROM jobs WHERE kind = 'set_image_availability' AND payload->>'enabled' = 'true'";
    assert_eq!(count(&mut conn, enabled).await, 1, "enabled first");
}

/// A retired image is disabled at the provider, which still lists it (EC2
/// when asked to include disabled images, the local endpoint always): a
/// sync keeps it in the bin as the console retired it, and so does a sync
/// that reads it still disabled after a restore, before the provider has
/// enabled it again.
#[actix_web::test]
async fn a_sync_keeps_a_retired_image_that_the_provider_lists_disabled() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let account = db::accounts::find(&mut conn, production).await.unwrap();
    let (id, _) = record(&mut conn, production, "api-server-base").await.unwrap();
    let (_, _, image, _) = kept(&mut conn, id).await;
    retire_at_once(&app, production, image).await;
    assert!(bin_of(&mut conn, id).await.is_some(), "retired into the bin");
    let state = || provider_images::table.find(image).select(provider_images::state);

    let listed = crate::races::sync_read(&app.demo.numbers.production).await;
    db::sync::own_images(&mut conn, &account, &listed).await.unwrap();
    assert_eq!(state().first::<String>(&mut conn).await.unwrap(), "ACTIVE", "disabled, not gone");
    let mut admin = app.signed_in("admin@acme.test").await;
    let bin = text(&admin.get("/images?scope=bin").await.body);
    assert!(bin.contains("api-server-base"), "still in the bin: {bin}");

    let restored =
        admin.post_htmx(&format!("/images/{id}/restore"), &[("version", &version_of(&mut conn, id).await)]).await;
    assert_eq!(restored.status, StatusCode::OK, "{}", text(&restored.body));
    db::sync::own_images(&mut conn, &account, &listed).await.unwrap();
    assert_eq!(state().first::<String>(&mut conn).await.unwrap(), "ACTIVE", "being enabled again");
    app.run_jobs().await;
    let listed = crate::races::sync_read(&app.demo.numbers.production).await;
    db::sync::own_images(&mut conn, &account, &listed).await.unwrap();
    assert_eq!(state().first::<String>(&mut conn).await.unwrap(), "ACTIVE");
    assert!(text(&admin.get("/images").await.body).contains("api-server-base"), "back in My images");
}

/// The API's schedule refuses a field it does not know: a misspelt day
/// would otherwise be no day, and clear the schedule.
#[actix_web::test]
async fn the_api_refuses_a_schedule_with_a_misspelt_field_and_keeps_the_schedule() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let (id, version) = record(&mut conn, production, "batch-worker").await.unwrap();
    let mut admin = app.signed_in("admin@acme.test").await;
    let api = crate::api::Api::new(&app, &crate::api::make_token(&mut admin, "schedule", production, "write").await);
    let day = (Utc::now().date_naive() + Duration::days(30)).to_string();
    let path = format!("/api/v1/images/{id}/schedule");
    let saved =
        api.send(reqwest::Method::PUT, &path, Some(serde_json::json!({ "version": version, "retire_on": day }))).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.json);
    let version = saved.json["version"].as_i64().unwrap();

    let misspelt =
        api.send(reqwest::Method::PUT, &path, Some(serde_json::json!({ "version": version, "retireOn": day }))).await;
    assert_eq!(misspelt.status, StatusCode::BAD_REQUEST, "{}", misspelt.json);
    assert_eq!(schedule_of(&mut conn, id).await.1, Some(Utc::now().date_naive() + Duration::days(30)), "kept");
}

/// Nobody launches a binned image at the provider either: the bin takes back
/// the launch permissions its shares and public flag gave (the delete's and
/// the retirement's), a sync meanwhile keeps the console's record of them,
/// and a restore grants them again.
#[actix_web::test]
async fn the_bin_takes_back_the_launch_permissions_at_the_provider_and_a_restore_grants_them_again() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let (production, staging) = (app.demo.acme_production, app.demo.acme_staging);
    let account = db::accounts::find(&mut conn, production).await.unwrap();
    let (id, _) = record(&mut conn, production, "api-server-base").await.unwrap();
    let (_, _, image, _) = kept(&mut conn, id).await;
    let ami = crate::image_actions::provider_id(&mut conn, id).await;
    let ec2 = at_provider(&app.demo.numbers.production).await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let public = admin
        .post_htmx(&format!("/images/{id}/sharing"), &[("share_type", "public"), ("account_ids", &staging.to_string())])
        .await;
    assert_eq!(public.status, StatusCode::OK, "{}", text(&public.body));
    app.run_jobs().await;
    let staging_may = LaunchPermission::Account(app.demo.numbers.staging.clone());
    let granted = ec2.launch_permissions(&ami).await.unwrap();
    assert!(granted.len() == 2 && granted.contains(&staging_may), "{granted:?}");
    assert!(granted.contains(&LaunchPermission::Public), "{granted:?}");
    let is_public = || provider_images::table.find(image).select(provider_images::is_public);

    for how in ["delete", "retirement"] {
        if how == "delete" {
            let version = version_of(&mut conn, id).await;
            let done = admin.post_htmx(&format!("/images/{id}/delete"), &[("version", &version)]).await;
            assert_eq!(done.status, StatusCode::OK, "{}", text(&done.body));
            app.run_jobs().await;
        } else {
            retire_at_once(&app, production, image).await;
        }
        assert!(bin_of(&mut conn, id).await.is_some(), "{how}: in the bin");
        assert_eq!(ec2.launch_permissions(&ami).await.unwrap(), [], "{how}: nobody may launch it");
        let listed = crate::races::sync_read(&app.demo.numbers.production).await;
        db::sync::own_images(&mut conn, &account, &listed).await.unwrap();
        assert!(is_public().first::<bool>(&mut conn).await.unwrap(), "{how}: the console keeps its public flag");
        let (_, shares, _, _) = kept(&mut conn, id).await;
        assert_eq!(shares, "1 shares", "{how}: and its share");

        let version = version_of(&mut conn, id).await;
        let restored = admin.post_htmx(&format!("/images/{id}/restore"), &[("version", &version)]).await;
        assert_eq!(restored.status, StatusCode::OK, "{}", text(&restored.body));
        app.run_jobs().await;
        let granted = ec2.launch_permissions(&ami).await.unwrap();
        assert!(granted.len() == 2 && granted.contains(&staging_may), "{how}: {granted:?}");
        assert!(granted.contains(&LaunchPermission::Public), "{how}: {granted:?}");
        let listed = crate::races::sync_read(&app.demo.numbers.production).await;
        db::sync::own_images(&mut conn, &account, &listed).await.unwrap();
        assert!(is_public().first::<bool>(&mut conn).await.unwrap(), "{how}: public again");
    }
}

/// An image deregistered at the provider by someone else while it waits in
/// the bin cannot come back: its row offers only Delete now, and a restore
/// sent anyway says why.
#[actix_web::test]
async fn an_image_gone_at_the_provider_while_in_the_bin_can_only_be_purged() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let account = db::accounts::find(&mut conn, production).await.unwrap();
    let (id, version) = record(&mut conn, production, "batch-worker").await.unwrap();
    let ami = crate::image_actions::provider_id(&mut conn, id).await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let done = admin.post_htmx(&format!("/images/{id}/delete"), &[("version", &version.to_string())]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", text(&done.body));
    app.run_jobs().await;
    at_provider(&app.demo.numbers.production).await.deregister_image(&ami).await.unwrap();
    let listed = crate::races::sync_read(&app.demo.numbers.production).await;
    db::sync::own_images(&mut conn, &account, &listed).await.unwrap();

    let bin = admin.get("/images?scope=bin").await;
    assert!(bin.body.contains(&format!("/images/{id}/purge")), "Delete now is offered");
    assert!(!bin.body.contains(&format!("/images/{id}/restore")), "Restore is not");
    let restored =
        admin.post_htmx(&format!("/images/{id}/restore"), &[("version", &version_of(&mut conn, id).await)]).await;
    assert_eq!(restored.status, StatusCode::CONFLICT, "{}", text(&restored.body));
    let said = "“batch-worker” is deleted at the provider: only an available image can be restored.";
    assert!(text(&restored.body).contains(said), "{}", text(&restored.body));
    assert!(bin_of(&mut conn, id).await.is_some(), "still in the bin");
    let purged =
        admin.post_htmx(&format!("/images/{id}/purge"), &[("version", &version_of(&mut conn, id).await)]).await;
    assert_eq!(purged.status, StatusCode::OK, "{}", text(&purged.body));
}
