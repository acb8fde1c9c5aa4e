//! Inline rename of an image record: in place, checked, versioned, audited,
//! and only for whom it should be.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use stratus_console::db::schema::{audit_events, image_records};

use crate::harness::{TestApp, text};

/// `(id, version)` of an image record by name.
async fn record(app: &TestApp, name: &str) -> (i64, i32) {
    image_records::table
        .filter(image_records::name.eq(name))
        .select((image_records::id, image_records::version))
        .first(&mut app.db().await)
        .await
        .expect("the record")
}

async fn name_of(app: &TestApp, id: i64) -> String {
    image_records::table.find(id).select(image_records::name).first(&mut app.db().await).await.unwrap()
}

#[actix_web::test]
async fn renaming_in_place_returns_the_row_and_is_audited() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("configurator@acme.test").await;
    let (id, version) = record(&app, "batch-worker").await;

    let form = client.get_htmx(&format!("/images/{id}/name/edit"), "image").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains(r#"name="name""#) && form.body.contains(r#"value="batch-worker""#));

    let response = client
        .post_htmx(
            &format!("/images/{id}/name"),
            &[("name", "  nightly batch worker "), ("version", &version.to_string())],
        )
        .await;

    assert_eq!(response.status, StatusCode::OK);
    assert!(response.body.starts_with(&format!(r#"<tr id="image-{id}">"#)), "{}", response.body);
    assert!(text(&response.body).contains("nightly batch worker"));
    assert!(response.body.contains("Renamed to “nightly batch worker”"), "the flash");
    assert_eq!(name_of(&app, id).await, "nightly batch worker");
    assert_eq!(record(&app, "nightly batch worker").await.1, version + 1);
    let changes: serde_json::Value = audit_events::table
        .filter(audit_events::action.eq("rename"))
        .select(audit_events::changes)
        .first(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(changes["name"]["from"], "batch-worker");
    assert_eq!(changes["name"]["to"], "nightly batch worker");

    // The name it has already: nothing is written, not even an audit event.
    let same = client
        .post_htmx(
            &format!("/images/{id}/name"),
            &[("name", "nightly batch worker"), ("version", &version.to_string())],
        )
        .await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.body);
    assert_eq!(record(&app, "nightly batch worker").await.1, version + 1, "the version stays");
    let renames: i64 = audit_events::table
        .filter(audit_events::action.eq("rename"))
        .count()
        .get_result(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(renames, 1);
}

#[actix_web::test]
async fn rename_with_stale_version_is_a_conflict_that_shows_the_current_name() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let (id, version) = record(&app, "batch-worker").await;
    let first = client
        .post_htmx(&format!("/images/{id}/name"), &[("name", "batch-a"), ("version", &version.to_string())])
        .await;
    assert_eq!(first.status, StatusCode::OK);

    let stale = client
        .post_htmx(&format!("/images/{id}/name"), &[("name", "batch-b"), ("version", &version.to_string())])
        .await;

    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(
        text(&stale.body).contains("Someone else changed this image meanwhile; its name as it is now is “batch-a”")
    );
    assert!(stale.body.contains(r#"value="batch-a""#), "the form shows the current value");
    assert_eq!(name_of(&app, id).await, "batch-a");
}

/// A rename refused for a bad name keeps the version its form was read at:
/// corrected and sent again, it meets a rename made meanwhile (409) rather
/// than overwrite it.
#[actix_web::test]
async fn a_refused_rename_corrected_meets_a_rename_made_meanwhile() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let (id, version) = record(&app, "batch-worker").await;
    let v = version.to_string();
    let other = client.post_htmx(&format!("/images/{id}/name"), &[("name", "batch-a"), ("version", &v)]).await;
    assert_eq!(other.status, StatusCode::OK);

    let refused = client.post_htmx(&format!("/images/{id}/name"), &[("name", "   "), ("version", &v)]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains(&format!(r#"name="version" value="{v}""#)), "{}", refused.body);
    let corrected = client.post_htmx(&format!("/images/{id}/name"), &[("name", "batch-b"), ("version", &v)]).await;
    assert_eq!(corrected.status, StatusCode::CONFLICT);
    assert_eq!(name_of(&app, id).await, "batch-a");
}

#[actix_web::test]
async fn invalid_names_are_refused_at_the_field_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let (id, version) = record(&app, "batch-worker").await;
    let long = "x".repeat(256);
    for (name, message) in [
        ("   ", "Enter a name."),
        (long.as_str(), "A name has at most 255 characters."),
        ("tab\there", "A name cannot contain control characters"),
    ] {
        let response =
            client.post_htmx(&format!("/images/{id}/name"), &[("name", name), ("version", &version.to_string())]).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}");
        assert!(text(&response.body).contains(message), "{}", text(&response.body));
        assert!(response.body.contains(r#"aria-invalid="true""#));
    }
    assert_eq!(name_of(&app, id).await, "batch-worker");
}

#[actix_web::test]
async fn a_plain_form_post_renames_and_redirects() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let (id, version) = record(&app, "batch-worker").await;
    let page = client.get(&format!("/images/{id}/name/edit")).await;
    assert!(text(&page.body).contains("batch-worker: Rename"));

    let response =
        client.post(&format!("/images/{id}/name"), &[("name", "batch"), ("version", &version.to_string())]).await;

    assert_eq!(response.status, StatusCode::SEE_OTHER);
    assert_eq!(name_of(&app, id).await, "batch");
    let list = text(&client.get(response.location().unwrap()).await.body);
    assert!(list.contains("Renamed to “batch”"), "the page says what was done: {list}");
}

#[actix_web::test]
async fn a_viewer_cannot_rename_and_sees_no_rename_links() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("viewer@acme.test").await;
    assert!(!client.get("/images").await.body.contains("a class=\"name rename"));
    let (id, version) = record(&app, "batch-worker").await;

    let edit = client.get_htmx(&format!("/images/{id}/name/edit"), "image").await;
    let post =
        client.post_htmx(&format!("/images/{id}/name"), &[("name", "mine"), ("version", &version.to_string())]).await;

    assert_eq!(edit.status, StatusCode::FORBIDDEN);
    assert_eq!(post.status, StatusCode::FORBIDDEN);
    assert_eq!(post.header("hx-retarget"), Some("#flash"));
    assert_eq!(name_of(&app, id).await, "batch-worker");
}

#[actix_web::test]
async fn another_accounts_image_is_not_found() {
    let app = TestApp::spawn().await;
    let mut globex = app.signed_in("admin@globex.test").await;
    let (id, version) = record(&app, "batch-worker").await;

    let edit = globex.get(&format!("/images/{id}/name/edit")).await;
    let post =
        globex.post(&format!("/images/{id}/name"), &[("name", "stolen"), ("version", &version.to_string())]).await;

    assert_eq!(edit.status, StatusCode::NOT_FOUND);
    assert_eq!(post.status, StatusCode::NOT_FOUND);
    // Cancel without htmx leads back to the list, but not for someone else's image.
    assert_eq!(globex.get(&format!("/images/{id}/name")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(name_of(&app, id).await, "batch-worker");
}

#[actix_web::test]
async fn two_browsers_renaming_at_once_one_wins_and_the_other_sees_the_conflict() {
    let app = TestApp::spawn().await;
    let (id, version) = record(&app, "batch-worker").await;
    let mut first = app.signed_in("admin@acme.test").await;
    let mut second = app.signed_in("manager@acme.test").await;
    let path = format!("/images/{id}/name");
    let version = version.to_string();

    let (form_a, form_b) =
        ([("name", "from-first"), ("version", &version)], [("name", "from-second"), ("version", &version)]);
    let (a, b) = tokio::join!(first.post_htmx(&path, &form_a), second.post_htmx(&path, &form_b));

    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "exactly one wins");
    let (winner, loser) = if a.status == StatusCode::OK { ("from-first", &b) } else { ("from-second", &a) };
    assert_eq!(name_of(&app, id).await, winner, "the winner's name is kept");
    assert!(text(&loser.body).contains(&format!("its name as it is now is “{winner}”")), "{}", loser.body);
    let renames = crate::harness::count(
        &mut app.db().await,
        &format!("SELECT count(*) AS n FROM audit_events WHERE action = 'rename' AND resource_id = '{id}'"),
    )
    .await;
    assert_eq!(renames, 1, "one change, one audit event");
}

#[actix_web::test]
async fn a_name_with_markup_is_stored_as_typed_and_shown_escaped_everywhere() {
    let app = TestApp::spawn().await;
    let (id, version) = record(&app, "batch-worker").await;
    let mut client = app.signed_in("admin@acme.test").await;
    let markup = "<script>alert(1)</script>";

    let saved =
        client.post_htmx(&format!("/images/{id}/name"), &[("name", markup), ("version", &version.to_string())]).await;
    assert_eq!(saved.status, StatusCode::OK);
    assert_eq!(name_of(&app, id).await, markup, "stored as typed");

    let escaped = "&#60;script&#62;alert(1)&#60;/script&#62;";
    for path in
        ["/images", "/images/{id}/deprecate", "/images/{id}/delete", "/images/{id}/sharing", "/images/{id}/name/edit"]
    {
        let page = client.get(&path.replace("{id}", &id.to_string())).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!page.body.contains(markup), "{path} shows the name as text");
        assert!(page.body.contains(escaped), "{path} shows the name");
    }
    assert!(saved.body.contains(escaped) && !saved.body.contains(markup), "the row and its flash");
}
