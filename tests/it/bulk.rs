//! Bulk actions on My images (ISSUE 17): every image ticked is decided on
//! its own by the same access decision, and the action is done to all of
//! them in one transaction or to none.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl};
use reqwest::StatusCode;
use stratus_console::db::schema::{image_records, provider_images};

use crate::harness::{TestApp, count, text};
use crate::image_actions::record;

/// The ids of `names` in Production, as form fields.
async fn ticked(conn: &mut AsyncPgConnection, account: i64, names: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for name in names {
        ids.push(record(conn, account, name).await.expect(name).0.to_string());
    }
    ids
}

fn form<'a>(ids: &'a [String], fields: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form: Vec<(&str, &str)> = ids.iter().map(|id| ("ids", id.as_str())).collect();
    form.extend_from_slice(fields);
    form
}

async fn deprecated(conn: &mut AsyncPgConnection, account: i64, name: &str) -> bool {
    image_records::table
        .filter(image_records::account_id.eq(account))
        .filter(image_records::name.eq(name))
        .select(image_records::deprecated_at.is_not_null())
        .first(conn)
        .await
        .unwrap()
}

async fn binned(conn: &mut AsyncPgConnection, account: i64, name: &str) -> bool {
    image_records::table
        .inner_join(provider_images::table)
        .filter(image_records::account_id.eq(account))
        .filter(image_records::name.eq(name))
        .select(provider_images::binned_at.is_not_null())
        .first(conn)
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_bulk_action_changes_every_image_ticked_or_none_and_says_what_it_did() {
    let app = TestApp::spawn().await;
    let production = app.demo.acme_production;
    let mut conn = app.db().await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let page = admin.get("/images").await;
    assert!(page.body.contains(r#"form="bulk""#) && page.body.contains("With the images ticked"));

    // Deprecate three, one of them deprecated already.
    let three = ticked(&mut conn, production, &["batch-worker", "edge-cache-arm", "legacy-php-app"]).await;
    let done = admin.post_htmx("/images/bulk", &form(&three, &[("action", "deprecate")])).await;
    assert_eq!(done.status, StatusCode::OK, "{}", text(&done.body));
    assert!(text(&done.body).contains("Deprecated 2 images; 1 image was deprecated already"), "{}", text(&done.body));
    assert!(done.body.contains(r#"id="image-list""#), "the list comes back");
    for name in ["batch-worker", "edge-cache-arm", "legacy-php-app"] {
        assert!(deprecated(&mut conn, production, name).await, "{name}");
    }
    let events = "SELECT count(*) AS n FROM audit_events WHERE action = 'deprecate'";
    assert_eq!(count(&mut conn, events).await, 2, "one event per image changed");
    let jobs = "SELECT count(*) AS n FROM jobs WHERE kind = 'set_deprecation'";
    assert_eq!(count(&mut conn, jobs).await, 2, "one provider job per image changed");

    // Label two; protect one.
    let two = ticked(&mut conn, production, &["batch-worker", "edge-cache-arm"]).await;
    let labelled = admin.post_htmx("/images/bulk", &form(&two, &[("action", "label"), ("label", "red")])).await;
    assert!(text(&labelled.body).contains("Labelled 2 images “Red”"), "{}", text(&labelled.body));
    let labels: Vec<String> = image_records::table
        .filter(image_records::account_id.eq(production))
        .filter(image_records::name.eq_any(["batch-worker", "edge-cache-arm"]))
        .select(image_records::label)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(labels, ["red", "red"]);
    let one = ticked(&mut conn, production, &["edge-cache-arm"]).await;
    admin.post_htmx("/images/bulk", &form(&one, &[("action", "protect")])).await;
    let again = admin.post_htmx("/images/bulk", &form(&one, &[("action", "protect")])).await;
    assert!(text(&again.body).contains("Nothing to change: the image was protected already"));

    // A delete that one image refuses deletes none, and says which and why.
    let refused = admin.post_htmx("/images/bulk", &form(&two, &[("action", "delete")])).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    let shown = text(&refused.body);
    assert!(shown.contains("Nothing was changed: “edge-cache-arm” is protected"), "{shown}");
    for id in &two {
        assert!(
            refused.body.contains(&format!(r#"value="{id}" form="bulk" aria-labelledby="image-{id}-name" checked"#))
        );
    }
    assert!(!binned(&mut conn, production, "batch-worker").await, "not even the one that could go");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM audit_events WHERE action = 'delete'").await, 0);

    // Bad dates come back in the bar, nothing saved; good ones schedule both.
    let past = (Utc::now() - Duration::days(1)).date_naive().to_string();
    let bad = admin
        .post_htmx("/images/bulk", &form(&two, &[("action", "schedule"), ("deprecate_on", &past), ("retire_on", "")]))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&bad.body).contains("after today"), "{}", text(&bad.body));
    assert!(bad.body.contains(&format!(r#"name="deprecate_on" type="date" value="{past}""#)), "as typed");
    let on = (Utc::now() + Duration::days(45)).date_naive().to_string();
    let scheduled = admin.post_htmx("/images/bulk", &form(&two, &[("action", "schedule"), ("retire_on", &on)])).await;
    assert!(text(&scheduled.body).contains(&format!("Scheduled 2 images: retire on {on}")));
    assert_eq!(text(&scheduled.body).matches("retiring in 45 days").count(), 2, "{}", text(&scheduled.body));

    // Unprotected, both go to the bin in one step.
    admin.post_htmx("/images/bulk", &form(&one, &[("action", "unprotect")])).await;
    let deleted = admin.post_htmx("/images/bulk", &form(&two, &[("action", "delete")])).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert!(text(&deleted.body).contains("Deleted 2 images; they wait in the recycle bin"));
    assert!(
        binned(&mut conn, production, "batch-worker").await && binned(&mut conn, production, "edge-cache-arm").await
    );

    // Without htmx: back to the list it came from, with the flash.
    let back = admin
        .post(
            "/images/bulk",
            &form(
                &ticked(&mut conn, production, &["api-server-base"]).await,
                &[("action", "protect"), ("list", "sort=-created&label=blue")],
            ),
        )
        .await;
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    assert_eq!(back.location(), Some("/images?label=blue&sort=-created"));
    // A list query that does not parse (a NUL in the search) shows My images from the start.
    let ids = ticked(&mut conn, production, &["api-server-base"]).await;
    let odd = admin.post_htmx("/images/bulk", &form(&ids, &[("action", "unprotect"), ("list", "q=a%00b")])).await;
    assert_eq!(odd.status, StatusCode::OK, "{}", text(&odd.body));
}

#[actix_web::test]
async fn bulk_input_is_checked_and_every_image_is_authorized_on_its_own() {
    let app = TestApp::spawn().await;
    let production = app.demo.acme_production;
    let mut conn = app.db().await;
    let mine = ticked(&mut conn, production, &["batch-worker", "api-server-base"]).await;
    let mut admin = app.signed_in("admin@acme.test").await;

    for (fields, status, message) in [
        (vec![("action", "deprecate")], StatusCode::UNPROCESSABLE_ENTITY, "Tick the images to change first."),
        (vec![("ids", mine[0].as_str()), ("action", "explode")], StatusCode::UNPROCESSABLE_ENTITY, "Choose what to do"),
        (vec![("ids", mine[0].as_str()), ("action", "label")], StatusCode::UNPROCESSABLE_ENTITY, "Choose the label"),
        (
            vec![("ids", mine[0].as_str()), ("action", "label"), ("label", "chartreuse")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "is not one of the labels",
        ),
    ] {
        let answer = admin.post_htmx("/images/bulk", &fields).await;
        assert_eq!(answer.status, status, "{fields:?}");
        assert!(text(&answer.body).contains(message), "{fields:?}: {}", text(&answer.body));
    }
    assert_eq!(admin.post_htmx("/images/bulk", &[("ids", "x"), ("action", "protect")]).await.status.as_u16() / 100, 4);

    // Another account's id anywhere in the selection: not found, nothing done.
    let (staging_record, _) =
        record(&mut conn, app.demo.acme_staging, "api-server-base (from Production)").await.unwrap();
    let globex: i64 = image_records::table
        .filter(image_records::account_id.eq(app.demo.globex_main))
        .select(image_records::id)
        .first(&mut conn)
        .await
        .unwrap();
    for other in [staging_record, globex] {
        let other = other.to_string();
        let ids = [mine[0].clone(), other];
        let answer = admin.post_htmx("/images/bulk", &form(&ids, &[("action", "deprecate")])).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert!(!deprecated(&mut conn, production, "batch-worker").await);
    }

    // Rights per image: a configurator may not delete; a viewer has no bulk
    // actions at all (no boxes, and 403).
    let mut configurator = app.signed_in("configurator@acme.test").await;
    let refused = configurator.post_htmx("/images/bulk", &form(&mine, &[("action", "delete")])).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(text(&refused.body).contains("Nothing was changed."), "{}", text(&refused.body));
    let protected = configurator.post_htmx("/images/bulk", &form(&mine, &[("action", "protect")])).await;
    assert_eq!(protected.status, StatusCode::OK, "{}", text(&protected.body));
    let mut viewer = app.signed_in("viewer@acme.test").await;
    assert!(!viewer.get("/images").await.body.contains(r#"form="bulk""#));
    let forbidden = viewer.post_htmx("/images/bulk", &form(&mine, &[("action", "unprotect")])).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let said = "Your roles do not allow changing images in Acme Production.";
    assert!(text(&forbidden.body).contains(said), "the viewer has no bar to read it in: {}", text(&forbidden.body));
    let still: i64 = count(&mut conn, "SELECT count(*) AS n FROM provider_images WHERE protected").await;
    assert_eq!(still, 3, "the viewer changed nothing (the two, and the demo's rhel-9-sap-base)");

    // A shared record in My images' company is not the account's to deprecate.
    let mut staging_admin = app.signed_in("admin@acme.test").await;
    staging_admin.post("/account", &[("account_id", &app.demo.acme_staging.to_string())]).await;
    let shared = [staging_record.to_string()];
    let answer = staging_admin.post_htmx("/images/bulk", &form(&shared, &[("action", "deprecate")])).await;
    assert_eq!(answer.status, StatusCode::CONFLICT, "{}", text(&answer.body));
    assert!(text(&answer.body).contains("is for the account that owns"), "{}", text(&answer.body));
}

#[actix_web::test]
async fn bulk_delete_asks_first_naming_each_image_and_what_deleting_does_to_it() {
    let app = TestApp::spawn().await;
    let production = app.demo.acme_production;
    let mut conn = app.db().await;
    let two = ticked(&mut conn, production, &["batch-worker", "edge-cache-arm"]).await;
    let mut admin = app.signed_in("admin@acme.test").await;

    // The bar's Delete asks: a dialog naming both, nothing deleted yet.
    let list = admin.get("/images").await;
    assert!(list.body.contains(r##"hx-post="/images/bulk/delete" hx-target="#modal""##), "the bar's Delete asks first");
    let asked = admin.post_htmx("/images/bulk/delete", &form(&two, &[("list", "sort=-created")])).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", text(&asked.body));
    let shown = text(&asked.body);
    assert!(shown.contains("Are you sure you want to delete these 2 images?"), "{shown}");
    for name in ["batch-worker", "edge-cache-arm"] {
        assert!(shown.contains(name), "{name}: {shown}");
        assert!(!binned(&mut conn, production, name).await, "{name}: asking deletes nothing");
    }
    assert_eq!(shown.matches("to the recycle bin").count(), 2, "{shown}");
    assert!(shown.contains("You can restore it as it was for 7 days"), "{shown}");
    for id in &two {
        assert!(asked.body.contains(&format!(r#"<input type="hidden" name="ids" value="{id}">"#)), "{}", asked.body);
    }
    assert!(asked.body.contains(r#"<input type="hidden" name="action" value="delete">"#));
    assert!(asked.body.contains(r#"<input type="hidden" name="list" value="sort=-created">"#));
    assert!(
        asked.body.contains(r##"hx-post="/images/bulk" hx-target="#image-list""##),
        "its form posts the bulk action"
    );
    assert!(shown.contains("Delete all 2"), "{shown}");

    // Its form, sent: both go, and the dialog closes.
    let deleted = admin.post_htmx("/images/bulk", &form(&two, &[("action", "delete")])).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", text(&deleted.body));
    assert_eq!(deleted.headers.get("hx-trigger").map(|v| v.to_str().unwrap()), Some("close-dialog"));
    assert!(
        binned(&mut conn, production, "batch-worker").await && binned(&mut conn, production, "edge-cache-arm").await
    );

    // Nothing ticked: the reason in the bar, where the list is.
    let none = admin.post_htmx("/images/bulk/delete", &[("list", "")]).await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&none.body).contains("Tick the images to change first."), "{}", text(&none.body));
    assert_eq!(none.headers.get("hx-retarget").map(|v| v.to_str().unwrap()), Some("#image-list"));

    // Another account's id: not found. One in the bin already (moved there
    // since the list was read): said in the bar, by its name.
    let (staging_record, _) =
        record(&mut conn, app.demo.acme_staging, "api-server-base (from Production)").await.unwrap();
    let mine = ticked(&mut conn, production, &["api-server-base"]).await;
    let answer =
        admin.post_htmx("/images/bulk/delete", &form(&[mine[0].clone(), staging_record.to_string()], &[])).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let in_bin = admin.post_htmx("/images/bulk/delete", &form(&[mine[0].clone(), two[0].clone()], &[])).await;
    assert_eq!(in_bin.status, StatusCode::CONFLICT, "{}", text(&in_bin.body));
    let said = text(&in_bin.body);
    assert!(said.contains("“batch-worker” is in the recycle bin: restore it first."), "{said}");
    assert_eq!(in_bin.headers.get("hx-retarget").map(|v| v.to_str().unwrap()), Some("#image-list"));

    // A protected image stops it: the dialog says so and offers nothing to confirm.
    let protected = ticked(&mut conn, production, &["api-server-base", "rhel-9-sap-base"]).await;
    let blocked = admin.post_htmx("/images/bulk/delete", &form(&protected, &[])).await;
    assert_eq!(blocked.status, StatusCode::OK);
    assert!(text(&blocked.body).contains("1 of these 2 images cannot be deleted now."), "{}", text(&blocked.body));
    assert!(text(&blocked.body).contains("rhel-9-sap-base ami-") && text(&blocked.body).contains("protected"));
    assert!(!blocked.body.contains(r#"<button type="submit""#), "{}", blocked.body);

    // So does a record that a live server was launched from, and the dialog says which of the two stop it.
    let in_use = count(
        &mut conn,
        &format!(
            "SELECT min(r.id) AS n FROM image_records r JOIN servers s ON s.image_record_id = r.id
             WHERE r.account_id = {production} AND s.state <> 'TERMINATED'"
        ),
    )
    .await
    .to_string();
    let three = [mine[0].clone(), in_use, protected[1].clone()];
    let blocked = admin.post_htmx("/images/bulk/delete", &form(&three, &[])).await;
    let shown = text(&blocked.body);
    assert!(shown.contains("2 of these 3 images cannot be deleted now."), "{shown}");
    assert!(shown.contains("1 server runs from it") && shown.contains("terminate them first"), "{shown}");
    assert!(!blocked.body.contains(r#"<button type="submit""#));

    // Without htmx, a page of its own whose Cancel leads back to the list.
    let page = admin.post("/images/bulk/delete", &form(&mine, &[("list", "label=blue")])).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(r#"<dialog class="modal" aria-labelledby="dialog-title" open>"#), "{}", page.body);
    assert!(page.body.contains(r#"<a class="button" href="/images?label=blue" data-close autofocus>Cancel</a>"#));

    // A record shared with Staging is only removed from it.
    let mut staging_admin = app.signed_in("admin@acme.test").await;
    staging_admin.post("/account", &[("account_id", &app.demo.acme_staging.to_string())]).await;
    let shared = staging_admin.post_htmx("/images/bulk/delete", &form(&[staging_record.to_string()], &[])).await;
    assert_eq!(shared.status, StatusCode::OK, "{}", text(&shared.body));
    assert!(text(&shared.body).contains("removed from Acme Staging"), "{}", text(&shared.body));
    assert!(text(&shared.body).contains("its owner keeps it"), "{}", text(&shared.body));

    // Who may delete nothing is not asked.
    for who in ["viewer@acme.test", "configurator@acme.test"] {
        let mut user = app.signed_in(who).await;
        let answer = user.post_htmx("/images/bulk/delete", &form(&mine, &[])).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{who}");
    }

    // Who may delete only their own images is told which of those ticked are not theirs to delete.
    diesel::sql_query(
        "INSERT INTO access_rights (role_id, resource, action, qualifier)
         SELECT gr.role_id, 'IMAGE', 'Delete', 'MINE' FROM group_roles gr JOIN groups g ON g.id = gr.group_id
         WHERE g.name = 'Config' GROUP BY gr.role_id",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let mut configurator = app.signed_in("configurator@acme.test").await;
    let asked = configurator.post_htmx("/images/bulk/delete", &form(&mine, &[])).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", text(&asked.body));
    let shown = text(&asked.body);
    assert!(shown.contains("This image cannot be deleted now."), "{shown}");
    assert!(shown.contains("api-server-base") && shown.contains("you may not delete it"), "{shown}");
    assert!(shown.contains("do not allow deleting an image marked so"), "{shown}");
    assert!(!asked.body.contains(r#"<button type="submit""#), "nothing to confirm");
}

/// Locks provider image `image` on `conn`, as a change does.
async fn lock_image(conn: &mut AsyncPgConnection, image: i64) {
    diesel::sql_query(format!("SELECT id FROM provider_images WHERE id = {image} FOR UPDATE"))
        .execute(conn)
        .await
        .unwrap();
}

/// A bulk action and another transaction that take the same two images in
/// opposite orders: PostgreSQL undoes one of them (here the bulk action,
/// which waited first). Its user is told to try again, with 409, not an
/// error page; nothing of it is written.
///
/// PostgreSQL looks for a deadlock once, `deadlock_timeout` after a wait
/// begins, and the one that finds it is undone. The database's connections
/// look after 5 s and the other transaction's never, so the bulk action is
/// the one undone even when a busy machine takes a second to start the
/// other's wait (with the default of 1 s, the bulk action could look too
/// early, find nothing, and the other be undone instead).
#[actix_web::test]
async fn a_bulk_action_undone_by_a_deadlock_says_try_again_and_changes_nothing() {
    let database_url = crate::harness::fresh_database().await;
    let name = database_url.rsplit('/').next().expect("a database URL ends with its name");
    let mut setup = AsyncPgConnection::establish(&database_url).await.unwrap();
    diesel::sql_query(format!("ALTER DATABASE {name} SET deadlock_timeout = '5s'")).execute(&mut setup).await.unwrap();
    let app = TestApp::spawn_in(database_url).await;
    let production = app.demo.acme_production;
    let mut conn = app.db().await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let names = ["batch-worker", "edge-cache-arm"];
    let ids = ticked(&mut conn, production, &names).await;
    let mut images: Vec<i64> = image_records::table
        .filter(image_records::account_id.eq(production))
        .filter(image_records::name.eq_any(names))
        .select(image_records::provider_image_id)
        .load(&mut conn)
        .await
        .unwrap();
    images.sort_unstable();
    let (first, last) = (images[0], images[1]);

    // The other transaction holds the last image; the bulk action takes the
    // first and waits for the last; then the other wants the first.
    let mut other = app.db().await;
    diesel::sql_query("SET deadlock_timeout = '1h'").execute(&mut other).await.unwrap();
    diesel::sql_query("BEGIN").execute(&mut other).await.unwrap();
    lock_image(&mut other, last).await;
    let bulk =
        actix_web::rt::spawn(
            async move { admin.post_htmx("/images/bulk", &form(&ids, &[("action", "protect")])).await },
        );
    crate::harness::until_one_waits(&mut conn, "the bulk action").await;
    let other = actix_web::rt::spawn(async move {
        lock_image(&mut other, first).await;
        diesel::sql_query("COMMIT").execute(&mut other).await.unwrap();
    });
    let undone = bulk.await.unwrap();
    other.await.unwrap();

    assert_eq!(undone.status, StatusCode::CONFLICT, "{}", text(&undone.body));
    let said = "Another change to the same things ran at the same moment, so this one was undone and nothing was \
                saved. Try again.";
    assert!(text(&undone.body).contains(said), "{}", text(&undone.body));
    let protected = format!("SELECT count(*) AS n FROM provider_images WHERE protected AND id IN ({first}, {last})");
    assert_eq!(count(&mut conn, &protected).await, 0);
}
