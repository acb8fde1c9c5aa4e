//! The JSON API: personal access tokens, their refusals, and the same
//! changes as the pages through `/api/v1`.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use stratus_console::db::schema::{api_tokens, audit_events, image_records};

use crate::harness::{Client, TestApp, count, text};

/// A token made on the tokens page by `client` (signed in), for `account`.
async fn make_token(client: &mut Client, name: &str, account: i64, access: &str) -> String {
    client.get("/settings/tokens").await;
    let page = client
        .post(
            "/settings/tokens",
            &[("name", name), ("expires_days", "30"), ("account_id", &account.to_string()), ("access", access)],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", text(&page.body));
    assert_eq!(page.header("cache-control"), Some("no-store"), "the page that shows the token is not kept");
    let start = page.body.find("value=\"stc_").expect("the token is shown") + "value=\"".len();
    page.body[start..].split('"').next().unwrap().to_owned()
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    json: Value,
}

impl Api {
    fn new(app: &TestApp, token: &str) -> Self {
        Self { http: reqwest::Client::new(), base: app.address.clone(), token: token.to_owned() }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        read(request.send().await.expect("the API answers")).await
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(reqwest::Method::GET, path, None).await
    }
}

async fn read(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await.expect("a body");
    let json = if body.is_empty() { Value::Null } else { serde_json::from_str(&body).unwrap_or(Value::String(body)) };
    Answer { status, headers, json }
}

fn is_problem(answer: &Answer, status: StatusCode) -> bool {
    answer.status == status
        && answer.headers.get("content-type").is_some_and(|v| v == "application/problem+json")
        && answer.json["status"] == status.as_u16()
        && answer.json["detail"].as_str().is_some_and(|d| !d.is_empty())
}

async fn record(app: &TestApp, name: &str) -> (i64, i32) {
    image_records::table
        .filter(image_records::name.eq(name))
        .select((image_records::id, image_records::version))
        .first(&mut app.db().await)
        .await
        .expect("the record")
}

#[actix_web::test]
async fn a_token_is_shown_once_stored_as_its_hash_lists_its_use_and_stops_when_revoked() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let token = make_token(&mut client, "image pipeline", app.demo.acme_production, "read").await;
    assert!(token.starts_with("stc_") && token.len() == 47, "{token}");

    let mut conn = app.db().await;
    let (id, hash): (i64, Vec<u8>) =
        api_tokens::table.select((api_tokens::id, api_tokens::token_hash)).first(&mut conn).await.unwrap();
    assert_eq!(hash, Sha256::digest(token.as_bytes()).to_vec());
    let listing = client.get("/settings/tokens").await;
    assert!(!listing.body.contains(&token), "the token is never shown again");
    assert!(text(&listing.body).contains("image pipeline Acme Production Read only"), "{}", text(&listing.body));
    assert!(text(&listing.body).contains("never"), "not used yet");

    let api = Api::new(&app, &token);
    let images = api.get("/api/v1/images?scope=own&q=batch").await;
    assert_eq!(images.status, StatusCode::OK, "{}", images.json);
    let names: Vec<&str> =
        images.json["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["batch-worker"]);
    let used: Option<chrono::DateTime<chrono::Utc>> =
        api_tokens::table.find(id).select(api_tokens::last_used_at).first(&mut conn).await.unwrap();
    assert!(used.is_some(), "its use is noted");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM audit_events WHERE action = 'create_token'").await, 1);

    let revoked = client.post(&format!("/settings/tokens/{id}/revoke"), &[]).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    let refused = api.get("/api/v1/images").await;
    assert!(is_problem(&refused, StatusCode::UNAUTHORIZED), "{}", refused.json);
    assert!(refused.json["detail"].as_str().unwrap().contains("revoked"));
    assert!(refused.headers.get("www-authenticate").is_some());
}

#[actix_web::test]
async fn tokens_are_refused_when_missing_malformed_unknown_expired_read_only_or_of_another_account() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let reader = make_token(&mut client, "reader", app.demo.acme_production, "read").await;
    let writer = make_token(&mut client, "writer", app.demo.acme_production, "write").await;
    let (id, version) = record(&app, "batch-worker").await;
    let http = reqwest::Client::new();

    // A session cookie without a token: 401, and no way around CSRF.
    let with_cookie = client.http.get(app.url("/api/v1/images")).send().await.unwrap();
    let with_cookie = read(with_cookie).await;
    assert!(is_problem(&with_cookie, StatusCode::UNAUTHORIZED), "{}", with_cookie.json);
    assert!(with_cookie.json["detail"].as_str().unwrap().contains("session cookie"));
    let patch = client
        .http
        .patch(app.url(&format!("/api/v1/images/{id}")))
        .header("content-type", "application/json")
        .body(json!({ "version": version, "name": "by cookie" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), StatusCode::UNAUTHORIZED);

    for header in [
        "Basic YWRtaW46cGFzcw==",
        "Bearer",
        "Bearer stc_short",
        "Bearer ghp_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    ] {
        let answer =
            read(http.get(app.url("/api/v1/images")).header("authorization", header).send().await.unwrap()).await;
        assert!(is_problem(&answer, StatusCode::UNAUTHORIZED), "{header}: {}", answer.json);
    }
    let unknown = Api::new(&app, &format!("stc_{}", "A".repeat(43))).get("/api/v1/images").await;
    assert!(is_problem(&unknown, StatusCode::UNAUTHORIZED));

    // Read-only: every change is 403 and changes nothing.
    let read_only = Api::new(&app, &reader);
    let refused = read_only
        .send(reqwest::Method::PATCH, &format!("/api/v1/images/{id}"), Some(json!({ "version": version, "name": "x" })))
        .await;
    assert!(is_problem(&refused, StatusCode::FORBIDDEN), "{}", refused.json);
    assert!(refused.json["detail"].as_str().unwrap().contains("read-only"));
    assert_eq!(record(&app, "batch-worker").await, (id, version));

    // Another account's id is not found, whatever the token may do.
    let staging: i64 = image_records::table
        .filter(image_records::account_id.eq(app.demo.acme_staging))
        .select(image_records::id)
        .first(&mut app.db().await)
        .await
        .unwrap();
    let api = Api::new(&app, &writer);
    let other = api.get(&format!("/api/v1/images/{staging}")).await;
    assert!(is_problem(&other, StatusCode::NOT_FOUND), "{}", other.json);
    let other = api
        .send(reqwest::Method::PATCH, &format!("/api/v1/images/{staging}"), Some(json!({ "version": 1, "name": "x" })))
        .await;
    assert!(is_problem(&other, StatusCode::NOT_FOUND));

    // Expired.
    diesel::sql_query(
        "UPDATE api_tokens SET created_at = now() - interval '2 days', expires_at = now() - interval '1 day'",
    )
    .execute(&mut app.db().await)
    .await
    .unwrap();
    let expired = api.get("/api/v1/images").await;
    assert!(is_problem(&expired, StatusCode::UNAUTHORIZED));
    assert!(expired.json["detail"].as_str().unwrap().contains("expired"));
}

#[actix_web::test]
async fn a_rename_through_the_api_leaves_the_database_as_the_page_does() {
    let (page_app, api_app) = (TestApp::spawn().await, TestApp::spawn().await);
    let new_name = "nightly batch worker";

    let mut page = page_app.signed_in("admin@acme.test").await;
    let (id, version) = record(&page_app, "batch-worker").await;
    let renamed =
        page.post_htmx(&format!("/images/{id}/name"), &[("name", new_name), ("version", &version.to_string())]).await;
    assert_eq!(renamed.status, StatusCode::OK);

    let mut client = api_app.signed_in("admin@acme.test").await;
    let token = make_token(&mut client, "ci", api_app.demo.acme_production, "write").await;
    let (id, version) = record(&api_app, "batch-worker").await;
    let answer = Api::new(&api_app, &token)
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/images/{id}"),
            Some(json!({ "version": version, "name": new_name })),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    assert_eq!(answer.json["name"], new_name);
    assert_eq!(answer.json["version"], version + 1);

    async fn state(app: &TestApp) -> (String, String, i32, Vec<(String, String, Value)>) {
        let mut conn = app.db().await;
        let (name, label, version) = image_records::table
            .filter(image_records::name.eq("nightly batch worker"))
            .select((image_records::name, image_records::label, image_records::version))
            .first(&mut conn)
            .await
            .unwrap();
        let events = audit_events::table
            .filter(audit_events::action.eq_any(["rename", "relabel"]))
            .select((audit_events::action, audit_events::resource, audit_events::changes))
            .load(&mut conn)
            .await
            .unwrap();
        (name, label, version, events)
    }
    assert_eq!(state(&page_app).await, state(&api_app).await);
}

#[actix_web::test]
async fn a_stale_version_is_409_with_the_image_as_it_now_is_and_bad_fields_are_422_together() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let api = Api::new(&app, &make_token(&mut client, "ci", app.demo.acme_production, "write").await);
    let (id, version) = record(&app, "batch-worker").await;
    let path = format!("/api/v1/images/{id}");

    let first = api.send(reqwest::Method::PATCH, &path, Some(json!({ "version": version, "label": "green" }))).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.json);
    let stale = api.send(reqwest::Method::PATCH, &path, Some(json!({ "version": version, "name": "late" }))).await;
    assert!(is_problem(&stale, StatusCode::CONFLICT), "{}", stale.json);
    assert_eq!(stale.json["current"]["label"], "green");
    assert_eq!(stale.json["current"]["version"], version + 1);

    let bad = api
        .send(reqwest::Method::PATCH, &path, Some(json!({ "version": version + 1, "name": "", "label": "plaid" })))
        .await;
    assert!(is_problem(&bad, StatusCode::UNPROCESSABLE_ENTITY), "{}", bad.json);
    let fields: Vec<&str> =
        bad.json["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["name", "label"]);
    let unreadable = api.send(reqwest::Method::PATCH, &path, Some(json!({ "version": "one" }))).await;
    assert!(is_problem(&unreadable, StatusCode::BAD_REQUEST), "{}", unreadable.json);
    assert_eq!(record(&app, "batch-worker").await.1, version + 1, "nothing more was written");
}

#[actix_web::test]
async fn deactivating_a_user_revokes_their_tokens_in_the_same_change() {
    let app = TestApp::spawn().await;
    let mut manager = app.signed_in("manager@acme.test").await;
    let token = make_token(&mut manager, "laptop", app.demo.acme_production, "read").await;
    let api = Api::new(&app, &token);
    assert_eq!(api.get("/api/v1/images").await.status, StatusCode::OK);

    let manager_id: i64 = diesel::sql_query("SELECT id AS n FROM users WHERE email = 'manager@acme.test'")
        .get_result::<Id>(&mut app.db().await)
        .await
        .unwrap()
        .n;
    let mut admin = app.signed_in("admin@acme.test").await;
    admin.get("/admin/users").await;
    let done = admin.post(&format!("/admin/users/{manager_id}/deactivate"), &[]).await;
    assert!(done.status.is_redirection() || done.status.is_success(), "{}: {}", done.status, text(&done.body));

    let refused = api.get("/api/v1/images").await;
    assert!(is_problem(&refused, StatusCode::UNAUTHORIZED), "{}", refused.json);
    let mut conn = app.db().await;
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM api_tokens WHERE revoked_at IS NULL").await, 0);
}

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[actix_web::test]
async fn the_api_describes_itself_in_openapi_3_1_and_renders_it_for_people() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::new();
    let doc = read(http.get(app.url("/api/v1/openapi.json")).send().await.unwrap()).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.json["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in ["/api/v1/images", "/api/v1/images/{id}", "/api/v1/public-images", "/api/v1/images/{id}/sharing"] {
        assert!(doc.json["paths"][path].is_object(), "{path} is described");
    }
    assert!(doc.json["paths"]["/api/v1/images"]["get"]["responses"]["429"].is_object());

    let docs = http.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    let csp = docs.headers().get("content-security-policy").unwrap().to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let body = text(&docs.text().await.unwrap());
    assert!(body.contains("PATCH /api/v1/images/{id}") && body.contains("Rename or relabel an image"), "{body}");

    let nowhere = read(http.get(app.url("/api/v1/nothing-here")).send().await.unwrap()).await;
    assert!(is_problem(&nowhere, StatusCode::NOT_FOUND));
}
