//! The Audit Log page: the account's events newest first, filters, keyset
//! pages of 50, masked secrets, and who may read it.

use diesel_async::{AsyncPgConnection, RunQueryDsl};
use reqwest::StatusCode;

use crate::harness::{TestApp, count, text};

/// Adds `n` events to `account` by the user with `email`, one second apart
/// and older than anything the test does, numbered 1 (oldest) to `n`.
async fn add_events(conn: &mut AsyncPgConnection, account: i64, email: &str, resource: &str, n: i64) {
    diesel::sql_query(format!(
        "INSERT INTO audit_events (account_id, user_id, action, resource, resource_id, outcome, changes, created_at)
         SELECT {account}, (SELECT id FROM users WHERE email = '{email}'), 'rename', '{resource}', 'r' || g,
                'success', jsonb_build_object('name', jsonb_build_object('from', 'old ' || g, 'to', 'new ' || g)),
                timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second'
         FROM generate_series(1, {n}) g"
    ))
    .execute(conn)
    .await
    .expect("insert events");
}

/// The resource ids on a page, in order.
fn ids(body: &str) -> Vec<String> {
    body.split("<tr id=\"event-")
        .skip(1)
        .filter_map(|row| {
            row.split("<td class=\"mono\">").nth(3).and_then(|cell| cell.split('<').next()).map(str::to_owned)
        })
        .collect()
}

/// The `href` of the link with `rel`, unescaped.
fn link(body: &str, rel: &str) -> Option<String> {
    let marker = format!("\" rel=\"{rel}\"");
    let end = body.find(&marker)?;
    let start = body[..end].rfind("href=\"")? + 6;
    Some(body[start..end].replace("&amp;", "&").replace("&#38;", "&"))
}

#[actix_web::test]
async fn the_log_pages_newest_first_by_fifty_and_back() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let account = app.demo.acme_production;
    add_events(&mut conn, account, "manager@acme.test", "IMAGE", 120).await;
    let mut admin = app.signed_in("admin@acme.test").await;

    let first = admin.get("/audit").await;
    assert_eq!(first.status, StatusCode::OK);
    let body = text(&first.body);
    for heading in ["When", "Who", "Action", "Resource", "ID", "Outcome", "Changes"] {
        assert!(body.contains(heading), "{heading}");
    }
    let rows = ids(&first.body);
    assert_eq!(rows.len(), 50);
    // Demo loading may have written events of its own that are newer.
    let newest_test_event = rows.iter().position(|id| id == "r120").expect("r120 on the first page");
    assert_eq!(rows[newest_test_event + 1], "r119", "newest first");
    assert!(body.contains("Jordan Lee") && body.contains("old 120 → new 120"), "who and what in words");
    assert!(first.body.contains("title=\"2026-01-01 00:02 UTC\""), "UTC on hover");
    assert!(link(&first.body, "prev").is_none());

    let next = link(&first.body, "next").expect("a next page");
    let second = admin.get(&next).await;
    assert_eq!(second.status, StatusCode::OK);
    let second_rows = ids(&second.body);
    assert_eq!(second_rows.len(), 50);
    assert!(second_rows.iter().all(|id| !rows.contains(id)), "no row twice");
    let back = admin.get(&link(&second.body, "prev").expect("a previous page")).await;
    assert_eq!(ids(&back.body), rows, "Newer leads back to the same first page");

    let mut page = second;
    let mut seen = rows.len() + second_rows.len();
    while let Some(next) = link(&page.body, "next") {
        page = admin.get(&next).await;
        seen += ids(&page.body).len();
    }
    let total = count(&mut conn, &format!("SELECT count(*) AS n FROM audit_events WHERE account_id = {account}")).await;
    assert_eq!(seen as i64, total, "every event of the account, once");
    assert_eq!(ids(&page.body).last().map(String::as_str), Some("r1"), "the oldest last");
}

#[actix_web::test]
async fn filters_narrow_the_log_and_offer_what_it_holds() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let account = app.demo.acme_production;
    add_events(&mut conn, account, "manager@acme.test", "IMAGE", 60).await;
    add_events(&mut conn, account, "configurator@acme.test", "KEYPAIR", 3).await;
    add_events(&mut conn, app.demo.acme_staging, "viewer@acme.test", "FIREWALL", 2).await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let sam: i64 = diesel_async::RunQueryDsl::get_result(
        diesel::sql_query("SELECT id AS n FROM users WHERE email = 'configurator@acme.test'"),
        &mut conn,
    )
    .await
    .map(|row: Id| row.n)
    .unwrap();

    let page = admin.get("/audit").await;
    assert!(page.body.contains(&format!("<option value=\"{sam}\">Sam Patel</option>")), "users who acted");
    assert!(page.body.contains("<option value=\"KEYPAIR\">KEYPAIR</option>"));
    assert!(!page.body.contains("Riley Chen") && !page.body.contains(">FIREWALL<"), "another account's log stays out");

    let by_user = admin.get(&format!("/audit?user={sam}")).await;
    assert_eq!(ids(&by_user.body), ["r3", "r2", "r1"]);
    assert!(by_user.body.contains(&format!("<option value=\"{sam}\" selected>")));
    let by_resource = admin.get("/audit?resource=KEYPAIR&action=rename").await;
    assert_eq!(ids(&by_resource.body).len(), 3);
    let none = admin.get("/audit?action=nothing-like-this").await;
    assert_eq!(none.status, StatusCode::OK);
    assert!(text(&none.body).contains("No events match these filters"));
    let paged = admin.get("/audit?resource=IMAGE").await;
    let next = link(&paged.body, "next").expect("60 IMAGE events: a second page");
    assert!(next.contains("resource=IMAGE"), "the filter stays on the next page: {next}");
    assert_eq!(ids(&admin.get(&next).await.body).len(), 10);
}

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[actix_web::test]
async fn tampered_cursors_and_bad_filters_are_bad_requests() {
    let app = TestApp::spawn().await;
    let mut admin = app.signed_in("admin@acme.test").await;
    for query in ["after=not-a-cursor", "before=eyJpZCI6MX0", "user=abc", "after=x&before=y", "resource=BOGUS"] {
        assert_eq!(admin.get(&format!("/audit?{query}")).await.status, StatusCode::BAD_REQUEST, "{query}");
    }
}

#[actix_web::test]
async fn secrets_in_changes_are_masked() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    diesel::sql_query(format!(
        "INSERT INTO audit_events (account_id, user_id, action, resource, resource_id, outcome, changes)
         VALUES ({}, NULL, 'reset_password', 'USER', '7', 'success',
                 '{{\"password\": \"hunter2-secret-value\", \"user\": {{\"api_token\": \"tok-123\", \"email\": \"a@acme.test\"}},
                   \"private_key\": \"-----BEGIN OPENSSH PRIVATE KEY-----\"}}')",
        app.demo.acme_production
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let mut admin = app.signed_in("admin@acme.test").await;
    let page = admin.get("/audit?action=reset_password").await;
    assert_eq!(page.status, StatusCode::OK);
    for secret in ["hunter2", "tok-123", "BEGIN OPENSSH"] {
        assert!(!page.body.contains(secret), "{secret} leaked");
    }
    let body = text(&page.body);
    assert!(body.contains("password : ••••••") || body.contains("password ••••••"), "{body}");
    assert!(body.contains("a@acme.test"), "the rest is shown");
    assert!(body.contains("system"), "an event without a user");
}

#[actix_web::test]
async fn only_administrators_read_the_log_and_changes_appear_in_it() {
    let app = TestApp::spawn().await;
    for email in ["manager@acme.test", "configurator@acme.test", "viewer@acme.test"] {
        let mut client = app.signed_in(email).await;
        assert_eq!(client.get("/audit").await.status, StatusCode::FORBIDDEN, "{email}");
        assert!(!client.get("/images").await.body.contains("href=\"/audit\""), "{email} has no nav entry");
    }
    let mut admin = app.signed_in("admin@acme.test").await;
    assert!(admin.get("/images").await.body.contains("href=\"/audit\""));
    admin.get("/admin/budget-codes").await;
    let added = admin
        .post(
            "/admin/budget-codes",
            &[("name", "Research"), ("finance_code", "CC-3"), ("soft_quota", "1"), ("hard_quota", "2")],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER);
    let log = admin.get("/audit?resource=BUDGET").await;
    let body = text(&log.body);
    assert!(body.contains("Alex Morgan create BUDGET"), "{body}");
    assert!(body.contains("name : Research") || body.contains("name Research"), "{body}");

    let mut globex = app.signed_in("admin@globex.test").await;
    let theirs = globex.get("/audit").await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert!(!text(&theirs.body).contains("Research"), "Acme's log is not Globex's");
}
