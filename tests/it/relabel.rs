//! Relabelling an image record from the picker of the 25 labels.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use stratus_console::db::schema::{audit_events, image_records};

use crate::harness::{TestApp, text};

async fn record(app: &TestApp, name: &str) -> (i64, i32, String) {
    image_records::table
        .filter(image_records::name.eq(name))
        .select((image_records::id, image_records::version, image_records::label))
        .first(&mut app.db().await)
        .await
        .expect("the record")
}

#[actix_web::test]
async fn the_picker_offers_the_25_labels_and_a_choice_sets_one() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("configurator@acme.test").await;
    let (id, version, before) = record(&app, "batch-worker").await;
    assert_eq!(before, "iconstar");

    let picker = client.get_htmx(&format!("/images/{id}/label"), "").await;
    assert_eq!(picker.status, StatusCode::OK);
    assert_eq!(picker.body.matches(r#"name="label""#).count(), 25);
    assert!(picker.body.contains(r#"value="iconstar" role="menuitemradio" aria-checked="true""#));

    let response =
        client.post_htmx(&format!("/images/{id}/label"), &[("label", "red"), ("version", &version.to_string())]).await;

    assert_eq!(response.status, StatusCode::OK);
    assert!(response.body.starts_with(&format!(r#"<tr id="image-{id}">"#)));
    assert!(response.body.contains(r#"class="label-swatch label-red""#));
    assert!(response.body.contains("Label set to Red"));
    let (_, after_version, after) = record(&app, "batch-worker").await;
    assert_eq!((after.as_str(), after_version), ("red", version + 1));
    let changes: serde_json::Value = audit_events::table
        .filter(audit_events::action.eq("relabel"))
        .select(audit_events::changes)
        .first(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(changes["label"], serde_json::json!({ "from": "iconstar", "to": "red" }));
}

#[actix_web::test]
async fn a_label_not_in_the_picker_and_a_stale_version_are_refused() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let (id, version, _) = record(&app, "batch-worker").await;

    let bogus = client
        .post_htmx(&format!("/images/{id}/label"), &[("label", "rainbow"), ("version", &version.to_string())])
        .await;
    assert_eq!(bogus.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&bogus.body).contains("is not one of the labels"));
    let plain =
        client.post(&format!("/images/{id}/label"), &[("label", "rainbow"), ("version", &version.to_string())]).await;
    assert_eq!(plain.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&plain.body).contains("is not one of the labels"), "the picker page with the message");

    let first =
        client.post_htmx(&format!("/images/{id}/label"), &[("label", "blue"), ("version", &version.to_string())]).await;
    assert_eq!(first.status, StatusCode::OK);
    let stale = client
        .post_htmx(&format!("/images/{id}/label"), &[("label", "green"), ("version", &version.to_string())])
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(text(&stale.body).contains("its label is now “Blue”"));
    assert_eq!(record(&app, "batch-worker").await.2, "blue");
    // The row as it now is takes the stale one's place: its picker is loaded
    // again when opened, with the current version, so choosing again works.
    assert!(stale.body.contains(&format!("<tr id=\"image-{id}\"")), "{}", stale.body);
    assert!(stale.body.contains("hx-swap-oob"), "and the flash says why");
    assert!(stale.body.contains(r#"class="flash flash-warn""#), "as a warning, not a success: {}", stale.body);
    let again = client
        .post_htmx(&format!("/images/{id}/label"), &[("label", "green"), ("version", &(version + 1).to_string())])
        .await;
    assert_eq!(again.status, StatusCode::OK);
    // Without JavaScript (the picker's own page), back to the list, which says what was done.
    let plain =
        client.post(&format!("/images/{id}/label"), &[("label", "red"), ("version", &(version + 2).to_string())]).await;
    assert_eq!(plain.status, StatusCode::SEE_OTHER);
    let list = text(&client.get(plain.location().unwrap()).await.body);
    assert!(list.contains("Label set to Red"), "{list}");

    // Protect from a stale menu: the same.
    let stale = client.post_htmx(&format!("/images/{id}/protect"), &[("version", &version.to_string())]).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(stale.body.contains(&format!("<tr id=\"image-{id}\"")), "{}", stale.body);
    assert!(text(&stale.body).contains("Someone else changed this image meanwhile (it is “batch-worker” now)."));
}

#[actix_web::test]
async fn only_those_who_may_configure_relabel_and_only_in_their_account() {
    let app = TestApp::spawn().await;
    let (id, version, _) = record(&app, "batch-worker").await;
    let mut viewer = app.signed_in("viewer@acme.test").await;
    assert!(!viewer.get("/images").await.body.contains("label-picker"));
    let refused =
        viewer.post_htmx(&format!("/images/{id}/label"), &[("label", "red"), ("version", &version.to_string())]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let mut globex = app.signed_in("admin@globex.test").await;
    let hidden =
        globex.post(&format!("/images/{id}/label"), &[("label", "red"), ("version", &version.to_string())]).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    assert_eq!(record(&app, "batch-worker").await.2, "iconstar");
}

#[actix_web::test]
async fn a_label_icon_is_drawn_from_the_labels_sprite_the_console_serves() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("configurator@acme.test").await;
    let list = client.get("/images").await;
    // batch-worker carries the star.
    let at = list.body.find("labels.svg#i-star").expect("the star drawn from the labels sprite");
    let start = list.body[..at].rfind("href=\"").expect("the use element's href") + "href=\"".len();
    let sprite = app.client().http.get(app.url(&list.body[start..at + "labels.svg".len()])).send().await.unwrap();
    assert_eq!(sprite.status(), StatusCode::OK);
    assert_eq!(sprite.headers().get("content-type").unwrap(), "image/svg+xml");
    assert!(sprite.text().await.unwrap().contains(r#"<symbol id="i-star""#));
    assert!(!list.body.contains(r#"<symbol id="i-star""#), "the page no longer carries the label symbols");
}
