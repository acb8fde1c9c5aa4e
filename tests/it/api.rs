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
pub(crate) async fn make_token(client: &mut Client, name: &str, account: i64, access: &str) -> String {
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

pub(crate) struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    headers: reqwest::header::HeaderMap,
    pub(crate) json: Value,
}

impl Api {
    pub(crate) fn new(app: &TestApp, token: &str) -> Self {
        Self { http: reqwest::Client::new(), base: app.address.clone(), token: token.to_owned() }
    }

    pub(crate) async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        read(request.send().await.expect("the API answers")).await
    }

    pub(crate) async fn get(&self, path: &str) -> Answer {
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

pub(crate) async fn record(app: &TestApp, name: &str) -> (i64, i32) {
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

    // Revoke asks first, in a dialog that says what it does; another user's
    // token is not found.
    assert!(listing.body.contains(&format!("hx-get=\"/settings/tokens/{id}/revoke\"")), "{}", listing.body);
    let asked = client.get_htmx(&format!("/settings/tokens/{id}/revoke"), "modal").await;
    assert_eq!(asked.status, StatusCode::OK);
    assert!(text(&asked.body).contains("Revoke “image pipeline”? Scripts and pipelines that send it are refused"));
    assert!(
        asked.body.contains("class=\"button\" href=\"/settings/tokens\" data-close autofocus"),
        "Cancel has the focus"
    );
    let mut other = app.signed_in("manager@acme.test").await;
    assert_eq!(other.get(&format!("/settings/tokens/{id}/revoke")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(other.post(&format!("/settings/tokens/{id}/revoke"), &[]).await.status, StatusCode::NOT_FOUND);
    let api_still = api.get("/api/v1/images").await;
    assert_eq!(api_still.status, StatusCode::OK, "asking revoked nothing");

    let revoked = client.post_htmx(&format!("/settings/tokens/{id}/revoke"), &[]).await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert!(revoked.body.starts_with(&format!("<tr id=\"token-{id}\" class=\"inactive\">")), "{}", revoked.body);
    assert!(text(&revoked.body).contains("revoked") && !revoked.body.contains("Revoke…"), "{}", revoked.body);
    assert!(text(&revoked.body).contains("Token revoked: it no longer works."));
    let again = client.get(&format!("/settings/tokens/{id}/revoke")).await;
    assert!(text(&again.body).contains("“image pipeline” is revoked already"), "{}", text(&again.body));
    // A dialog left open elsewhere answers with the row as it is.
    let stale = client.post_htmx(&format!("/settings/tokens/{id}/revoke"), &[]).await;
    assert_eq!(stale.status, StatusCode::OK);
    assert!(text(&stale.body).contains("“image pipeline” was revoked already: it no longer works."));
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM audit_events WHERE action = 'revoke_token'").await, 1);
    // The log names the token: its id and name are no secret.
    let log = text(&client.get("/audit?action=revoke_token").await.body);
    assert!(log.contains(&format!("revoke_token USER 1 success id {id} name image pipeline")), "{log}");
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
    // Whatever the body holds: the token is refused before it is read.
    for body in [json!({}), json!("not an object")] {
        let refused = read_only.send(reqwest::Method::POST, "/api/v1/key-pairs", Some(body)).await;
        assert!(is_problem(&refused, StatusCode::FORBIDDEN), "{}", refused.json);
    }
    let malformed = http
        .patch(app.url(&format!("/api/v1/images/{id}")))
        .bearer_auth(&reader)
        .header("content-type", "application/json")
        .body("{bad")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::FORBIDDEN);

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

#[actix_web::test]
async fn a_password_reset_by_an_administrator_revokes_the_users_tokens() {
    let app = TestApp::spawn().await;
    let mut manager = app.signed_in("manager@acme.test").await;
    let api = Api::new(&app, &make_token(&mut manager, "laptop", app.demo.acme_production, "read").await);
    // The scheme is case-insensitive.
    let lower = api.http.get(app.url("/api/v1/images")).header("authorization", format!("bearer {}", api.token));
    assert_eq!(lower.send().await.unwrap().status(), StatusCode::OK);

    let manager_id: i64 = diesel::sql_query("SELECT id AS n FROM users WHERE email = 'manager@acme.test'")
        .get_result::<Id>(&mut app.db().await)
        .await
        .unwrap()
        .n;
    let mut admin = app.signed_in("admin@acme.test").await;
    admin.get("/admin/users").await;
    let reset = admin.post_htmx(&format!("/admin/users/{manager_id}/password"), &[]).await;
    assert_eq!(reset.status, StatusCode::OK, "{}", text(&reset.body));
    assert!(is_problem(&api.get("/api/v1/images").await, StatusCode::UNAUTHORIZED));
    let mut conn = app.db().await;
    let event = "SELECT count(*) AS n FROM audit_events WHERE action = 'reset_password' AND (changes->>'tokens_revoked')::int = 1";
    assert_eq!(count(&mut conn, event).await, 1);
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
    // 413 and 415 only where a body is read.
    assert!(doc.json["paths"]["/api/v1/images"]["get"]["responses"]["415"].is_null());
    assert!(doc.json["paths"]["/api/v1/images/{id}/launch"]["post"]["responses"]["415"].is_object());
    // A read that the rules can refuse says so too.
    assert!(doc.json["paths"]["/api/v1/images/{id}/sharing"]["get"]["responses"]["409"].is_object());

    let docs = http.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    let csp = docs.headers().get("content-security-policy").unwrap().to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let body = text(&docs.text().await.unwrap());
    assert!(body.contains("PATCH /api/v1/images/{id}") && body.contains("Rename or relabel an image"), "{body}");

    let nowhere = read(http.get(app.url("/api/v1/nothing-here")).send().await.unwrap()).await;
    assert!(is_problem(&nowhere, StatusCode::NOT_FOUND));
}

#[actix_web::test]
async fn a_path_asked_with_a_method_it_does_not_answer_is_a_405_whatever_the_token() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let production = app.demo.acme_production;
    let write = Api::new(&app, &make_token(&mut client, "write", production, "write").await);
    let read_only = Api::new(&app, &make_token(&mut client, "read", production, "read").await);
    let none = Api::new(&app, "");
    let (id, _) = record(&app, "batch-worker").await;
    let cases = [
        (reqwest::Method::POST, "/api/v1/images".to_owned(), "GET"),
        (reqwest::Method::DELETE, "/api/v1/images".to_owned(), "GET"),
        (reqwest::Method::GET, format!("/api/v1/images/{id}/deprecate"), "POST"),
        (reqwest::Method::POST, format!("/api/v1/images/{id}"), "GET, PATCH, DELETE"),
        (reqwest::Method::PUT, "/api/v1/openapi.json".to_owned(), "GET"),
    ];
    for api in [&write, &read_only, &none] {
        for (method, path, allowed) in &cases {
            let answer = api.send(method.clone(), path, Some(json!({}))).await;
            assert!(is_problem(&answer, StatusCode::METHOD_NOT_ALLOWED), "{method} {path}: {}", answer.json);
            assert_eq!(answer.headers.get("allow").and_then(|v| v.to_str().ok()), Some(*allowed), "{method} {path}");
        }
    }
    // The methods a path answers still answer, HEAD as GET.
    assert_eq!(write.get(&format!("/api/v1/images/{id}/launch")).await.status, StatusCode::OK);
    assert_eq!(write.send(reqwest::Method::HEAD, "/api/v1/images", None).await.status, StatusCode::OK);
    assert!(is_problem(&write.send(reqwest::Method::POST, "/api/v1/nothing-here", None).await, StatusCode::NOT_FOUND));
}

/// The demo synced from the provider (sizes, zones, firewalls, key pairs),
/// and a read-write token of the admin in Production.
async fn synced_with_token() -> (TestApp, Api) {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    for kind in ["sync_products", "sync_zones", "sync_firewalls", "sync_key_pairs"] {
        stratus_console::db::jobs::enqueue_sync(&mut conn, app.demo.acme_production, kind, 2).await.unwrap();
    }
    app.run_jobs().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let token = make_token(&mut client, "ci", app.demo.acme_production, "write").await;
    let api = Api::new(&app, &token);
    (app, api)
}

pub(crate) async fn default_code(app: &TestApp) -> i64 {
    use stratus_console::db::schema::budget_codes;
    budget_codes::table
        .filter(budget_codes::name.eq("Default"))
        .select(budget_codes::id)
        .first(&mut app.db().await)
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_launch_checks_every_field_at_once_and_an_idempotency_key_launches_once() {
    let (app, api) = synced_with_token().await;
    let (image, _) = record(&app, "web-frontend-2026.11").await;
    let path = format!("/api/v1/images/{image}/launch");
    let mut conn = app.db().await;
    let servers_before = count(&mut conn, "SELECT count(*) AS n FROM servers").await;

    let bad = api
        .send(
            reqwest::Method::POST,
            &path,
            Some(json!({ "name": "", "budget_code_id": 0, "product_id": "x9.imaginary", "count": 99_999_999_999_i64,
                         "volumes": { "count": 0, "size_gb": -1, "raid_level": "7", "file_system": "xfs", "mount_point": "/data" } })),
        )
        .await;
    assert!(is_problem(&bad, StatusCode::UNPROCESSABLE_ENTITY), "{}", bad.json);
    let fields: Vec<&str> =
        bad.json["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    // Numbers out of range, however far, are refused at their fields.
    for field in
        ["name", "budget_code_id", "product_id", "count", "volumes.count", "volumes.size_gb", "volumes.raid_level"]
    {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM servers").await, servers_before, "nothing was written");

    // What a launch may choose, as the dialog offers it.
    let options = api.get(&path).await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.json);
    assert!(options.json["products"].as_array().unwrap().iter().any(|p| p["id"] == "t3.micro" && p["unfit"].is_null()));
    let code = default_code(&app).await;
    assert!(options.json["budget_codes"].as_array().unwrap().iter().any(|c| c["id"] == code), "{}", options.json);
    assert!(options.json["firewalls"].as_array().unwrap().iter().any(|f| f["name"] == "default"));

    let body =
        json!({ "name": "canary", "count": 2, "budget_code_id": code, "product_id": "t3.micro", "label": "green" });
    let send_as = |body: String| {
        let request = api
            .http
            .post(format!("{}{path}", api.base))
            .bearer_auth(&api.token)
            .header("Idempotency-Key", "release-42")
            .header("content-type", "application/json")
            .body(body);
        async { read(request.send().await.unwrap()).await }
    };
    let send = || send_as(body.to_string());
    let first = send().await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.json);
    assert_eq!(first.json["replayed"], false);
    let names: Vec<&str> =
        first.json["servers"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(first.json["jobs"].as_array().unwrap().len(), 2);
    let again = send().await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.json["replayed"], true);
    assert_eq!(again.json["servers"], first.json["servers"], "the same servers answer the retry");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM servers").await, servers_before + 2, "launched once");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM audit_events WHERE action = 'launch'").await, 2);
    // The same request written otherwise (key order, spacing, a default
    // spelled out) is the same request; another with the key is refused.
    let respelled = format!(
        r#"{{ "label": "green", "product_id": "t3.micro", "budget_code_id": {code}, "count": 2, "name": "canary", "firewall_ids": [], "zone": "" }}"#
    );
    let again = send_as(respelled).await;
    assert_eq!((again.status, &again.json["replayed"]), (StatusCode::ACCEPTED, &json!(true)), "{}", again.json);
    let mut other = body.clone();
    other["count"] = json!(3);
    let reused = send_as(other.to_string()).await;
    assert!(is_problem(&reused, StatusCode::UNPROCESSABLE_ENTITY), "{}", reused.json);
    assert_eq!(reused.json["errors"][0]["field"], "Idempotency-Key", "{}", reused.json);
    assert!(reused.json["detail"].as_str().unwrap().contains("nothing was launched"), "{}", reused.json);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM servers").await, servers_before + 2, "still once");
    // A body that is not sent as JSON is 415.
    let plain = api
        .http
        .post(format!("{}{path}", api.base))
        .bearer_auth(&api.token)
        .header("content-type", "text/plain")
        .body(body.to_string());
    let plain = read(plain.send().await.unwrap()).await;
    assert!(is_problem(&plain, StatusCode::UNSUPPORTED_MEDIA_TYPE), "{}", plain.json);

    // The job is polled until the provider has the server.
    let job = first.json["jobs"][0].as_i64().unwrap();
    let queued = api.get(&format!("/api/v1/jobs/{job}")).await;
    assert_eq!(queued.status, StatusCode::OK, "{}", queued.json);
    assert_eq!(queued.json["state"], "QUEUED");
    app.run_jobs().await;
    let done = api.get(&format!("/api/v1/jobs/{job}")).await;
    assert_eq!(done.json["state"], "COMPLETE", "{}", done.json);
    let server = first.json["servers"][0]["id"].as_i64().unwrap();
    let shown = api.get(&format!("/api/v1/servers/{server}")).await;
    assert!(shown.json["instance_id"].as_str().is_some_and(|i| i.starts_with("i-")), "{}", shown.json);

    // A stale version is 409 with the server as it now is; the right one acts.
    let version = shown.json["version"].as_i64().unwrap();
    let stale = api
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/servers/{server}/reboot"),
            Some(json!({ "version": version - 1 })),
        )
        .await;
    assert!(is_problem(&stale, StatusCode::CONFLICT), "{}", stale.json);
    assert_eq!(stale.json["current"]["id"], server);
    let made = api
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/servers/{server}/make-image"),
            Some(json!({ "name": "canary-image", "budget_code_id": default_code(&app).await })),
        )
        .await;
    assert_eq!(made.status, StatusCode::ACCEPTED, "{}", made.json);
    let image_id = made.json["image_id"].as_i64().unwrap();
    let pending = api.get(&format!("/api/v1/images/{image_id}")).await;
    assert_eq!(pending.json["name"], "canary-image");
}

#[actix_web::test]
async fn key_pairs_and_firewalls_are_made_listed_and_deleted_through_the_api() {
    let (app, api) = synced_with_token().await;
    let created = api.send(reqwest::Method::POST, "/api/v1/key-pairs", Some(json!({ "name": "pipeline-key" }))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    assert!(created.headers.get("cache-control").is_some_and(|v| v == "no-store"));
    assert!(created.json["private_key"].as_str().unwrap().contains("PRIVATE KEY"));
    let listed = api.get("/api/v1/key-pairs").await;
    assert!(
        listed.json["items"].as_array().unwrap().iter().any(|k| k["name"] == "pipeline-key" && k["state"] == "ACTIVE")
    );
    let taken = api.send(reqwest::Method::POST, "/api/v1/key-pairs", Some(json!({ "name": "pipeline-key" }))).await;
    assert!(is_problem(&taken, StatusCode::UNPROCESSABLE_ENTITY), "{}", taken.json);
    let id = created.json["id"].as_i64().unwrap();
    let deleted = api.send(reqwest::Method::DELETE, &format!("/api/v1/key-pairs/{id}"), None).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.json);

    let firewall = api
        .send(reqwest::Method::POST, "/api/v1/firewalls", Some(json!({ "name": "api-web", "description": "Web" })))
        .await;
    assert_eq!(firewall.status, StatusCode::ACCEPTED, "{}", firewall.json);
    assert_eq!(firewall.json["state"], "PENDING");
    app.run_jobs().await;
    let listed = api.get("/api/v1/firewalls").await;
    assert!(
        listed.json["items"].as_array().unwrap().iter().any(|f| f["name"] == "api-web" && f["state"] == "ACTIVE"),
        "{}",
        listed.json
    );
    let bad = api
        .send(reqwest::Method::POST, "/api/v1/firewalls", Some(json!({ "name": "", "description": "a\u{0}b" })))
        .await;
    assert!(is_problem(&bad, StatusCode::UNPROCESSABLE_ENTITY));
    assert_eq!(bad.json["errors"].as_array().unwrap().len(), 2, "{}", bad.json);
}

#[actix_web::test]
async fn audit_events_are_for_administrators_and_secrets_stay_masked() {
    let app = TestApp::spawn().await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let api = Api::new(&app, &make_token(&mut admin, "audit", app.demo.acme_production, "write").await);
    let (id, version) = record(&app, "batch-worker").await;
    api.send(
        reqwest::Method::PATCH,
        &format!("/api/v1/images/{id}"),
        Some(json!({ "version": version, "name": "renamed by api" })),
    )
    .await;
    let events = api.get("/api/v1/audit-events?action=rename").await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.json);
    let event = &events.json["items"][0];
    assert_eq!(event["who"], "Alex Morgan");
    assert_eq!(event["changes"]["name"]["to"], "renamed by api");

    let mut viewer = app.signed_in("viewer@acme.test").await;
    let viewer_api = Api::new(&app, &make_token(&mut viewer, "mine", app.demo.acme_production, "read").await);
    assert!(is_problem(&viewer_api.get("/api/v1/audit-events").await, StatusCode::FORBIDDEN));
    // A cursor that does not decode, or carries a key no row has (a year before PostgreSQL's range).
    let ancient = "eyJpZCI6MSwiYXQiOiItMjAwMDAwLTAxLTAxVDAwOjAwOjAwWiJ9";
    for path in [
        "/api/v1/audit-events?after=not-a-cursor".to_owned(),
        "/api/v1/audit-events?resource=BOGUS".to_owned(),
        format!("/api/v1/audit-events?after={ancient}"),
        format!("/api/v1/images?sort=-created&after={ancient}"),
        format!("/api/v1/public-images?q=x&sort=created&after={ancient}"),
    ] {
        let bad = api.get(&path).await;
        assert!(
            is_problem(&bad, StatusCode::UNPROCESSABLE_ENTITY) || is_problem(&bad, StatusCode::BAD_REQUEST),
            "{path}: {}",
            bad.json
        );
    }
    // A query that is not UTF-8 is refused, not read with replacement characters.
    for path in ["/api/v1/images?q=%FF", "/api/v1/public-images?q=caf%E9"] {
        let bad = api.get(path).await;
        assert!(is_problem(&bad, StatusCode::BAD_REQUEST), "{path}: {}", bad.json);
        assert!(bad.json["detail"].as_str().unwrap().contains("not valid UTF-8"), "{}", bad.json);
    }
}

#[actix_web::test]
async fn a_token_past_its_rate_gets_429_with_retry_after() {
    let app = TestApp::spawn_with(|config| config.api_rate_per_minute = 3).await;
    let mut client = app.signed_in("admin@acme.test").await;
    let api = Api::new(&app, &make_token(&mut client, "busy", app.demo.acme_production, "read").await);
    for _ in 0..3 {
        assert_eq!(api.get("/api/v1/servers").await.status, StatusCode::OK);
    }
    let refused = api.get("/api/v1/servers").await;
    assert!(is_problem(&refused, StatusCode::TOO_MANY_REQUESTS), "{}", refused.json);
    let wait: u64 = refused.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&wait), "{wait}");
}

/// The independent check: schemathesis generates requests from the API's
/// own description (every operation, its default number of cases and
/// more) with a read-write token, and checks that no answer is a server
/// error and every answer conforms to the description; and
/// openapi-spec-validator checks the description itself.
#[actix_web::test]
async fn schemathesis_finds_the_api_true_to_its_description() {
    let tools =
        std::env::var("TEST_API_TOOLS").expect("TEST_API_TOOLS is set by `make test` (the venv with schemathesis)");
    let app = TestApp::spawn_with(|config| config.api_rate_per_minute = 1_000_000).await;
    let production = app.demo.acme_production;
    let mut conn = app.db().await;
    for kind in ["sync_products", "sync_zones", "sync_firewalls", "sync_key_pairs"] {
        stratus_console::db::jobs::enqueue_sync(&mut conn, production, kind, 2).await.unwrap();
    }
    app.run_jobs().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let token = make_token(&mut client, "schemathesis", production, "write").await;

    let key =
        Api::new(&app, &token).send(reqwest::Method::POST, "/api/v1/key-pairs", Some(json!({ "name": "fuzz" }))).await;
    assert_eq!(key.status, StatusCode::CREATED, "{}", key.json);

    // Real ids of the token's account, so that generated requests reach the
    // changes themselves, not only the 404 of an unknown id.
    let id = |table: &str| format!("SELECT id AS n FROM {table} WHERE account_id = {production} ORDER BY id LIMIT 1");
    let mut config = String::new();
    for (path, table) in [
        ("images", "image_records"),
        ("servers", "servers"),
        ("key-pairs", "key_pairs"),
        ("firewalls", "firewalls"),
        ("jobs", "jobs"),
    ] {
        let found = diesel::sql_query(id(table)).get_result::<Id>(&mut conn).await.unwrap().n;
        config.push_str(&format!(
            "[[operations]]\ninclude-path-regex = '^/api/v1/{path}/\\{{id\\}}'\nparameters = {{ \"path.id\" = {found} }}\n\n"
        ));
    }
    let config_path = std::env::temp_dir().join(format!("stratus-schemathesis-{}.toml", std::process::id()));
    std::fs::write(&config_path, &config).unwrap();

    let doc = reqwest::get(app.url("/api/v1/openapi.json")).await.unwrap().text().await.unwrap();
    let path = std::env::temp_dir().join(format!("stratus-openapi-{}.json", std::process::id()));
    std::fs::write(&path, &doc).unwrap();
    let validated =
        tokio::process::Command::new(format!("{tools}/bin/openapi-spec-validator")).arg(&path).output().await.unwrap();
    assert!(
        validated.status.success(),
        "{}{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );

    let run = tokio::process::Command::new(format!("{tools}/bin/schemathesis"))
        .arg("--config-file")
        .arg(&config_path)
        .args(["run", &app.url("/api/v1/openapi.json"), "--header"])
        .arg(format!("Authorization: Bearer {token}"))
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,unsupported_method",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "100",
            // One worker: with two threads, CPython 3.11's parser raced inside
            // hypothesis ("AST constructor recursion depth mismatch") once in
            // five runs, an engine error and not a finding about the API.
            "--workers",
            "1",
            "--seed",
            "1",
        ])
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap();
    let output = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    println!("{output}");
    assert!(run.status.success(), "{output}");
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(config_path);
}

#[actix_web::test]
async fn deprecate_share_and_delete_through_the_api_write_rows_audit_events_and_jobs() {
    let (app, api) = synced_with_token().await;
    app.delete_images_at_once().await;
    let mut conn = app.db().await;
    let (production, staging, globex) = (app.demo.acme_production, app.demo.acme_staging, app.demo.globex_main);
    let (id, version) = record(&app, "batch-worker").await;
    let path = format!("/api/v1/images/{id}");

    let deprecated =
        api.send(reqwest::Method::POST, &format!("{path}/deprecate"), Some(json!({ "version": version }))).await;
    assert_eq!(deprecated.status, StatusCode::OK, "{}", deprecated.json);
    assert!(deprecated.json["deprecated_at"].is_string());
    assert!(deprecated.json["actions"].as_array().unwrap().contains(&json!("undeprecate")));
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM audit_events WHERE action = 'deprecate'").await, 1);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'set_deprecation'").await, 1);
    let again =
        api.send(reqwest::Method::POST, &format!("{path}/deprecate"), Some(json!({ "version": version + 1 }))).await;
    assert!(is_problem(&again, StatusCode::CONFLICT), "{}", again.json);
    let undeprecated =
        api.send(reqwest::Method::POST, &format!("{path}/undeprecate"), Some(json!({ "version": version + 1 }))).await;
    assert_eq!(undeprecated.status, StatusCode::OK, "{}", undeprecated.json);
    assert!(undeprecated.json["deprecated_at"].is_null());

    // Sharing: only the user's other accounts at the same provider and region.
    let sharing = api.get(&format!("{path}/sharing")).await;
    assert_eq!(sharing.status, StatusCode::OK, "{}", sharing.json);
    assert_eq!(sharing.json["accounts"], json!([{ "account_id": staging, "name": "Acme Staging", "shared": false }]));
    let elsewhere = api
        .send(
            reqwest::Method::PUT,
            &format!("{path}/sharing"),
            Some(json!({ "public": false, "account_ids": [globex] })),
        )
        .await;
    assert!(is_problem(&elsewhere, StatusCode::UNPROCESSABLE_ENTITY), "{}", elsewhere.json);
    let shared = api
        .send(
            reqwest::Method::PUT,
            &format!("{path}/sharing"),
            Some(json!({ "public": false, "account_ids": [staging] })),
        )
        .await;
    assert_eq!(shared.status, StatusCode::OK, "{}", shared.json);
    assert_eq!(shared.json["accounts"][0]["shared"], true);
    let theirs = format!(
        "SELECT count(*) AS n FROM image_records WHERE account_id = {staging} AND source = 'shared' \
         AND provider_image_id = (SELECT provider_image_id FROM image_records WHERE id = {id})"
    );
    assert_eq!(count(&mut conn, &theirs).await, 1);
    assert_eq!(
        count(
            &mut conn,
            &format!("SELECT count(*) AS n FROM audit_events WHERE action = 'share' AND account_id = {staging}")
        )
        .await,
        1
    );

    // Delete is refused while a server launched from the image lives, and
    // done once it is terminated.
    let (web, web_version) = record(&app, "web-frontend-2026.11").await;
    let launched = api
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/images/{web}/launch"),
            Some(json!({ "name": "web", "budget_code_id": default_code(&app).await, "product_id": "t3.micro" })),
        )
        .await;
    assert_eq!(launched.status, StatusCode::ACCEPTED, "{}", launched.json);
    app.run_jobs().await;
    let refused = api.send(reqwest::Method::DELETE, &format!("/api/v1/images/{web}?version={web_version}"), None).await;
    assert!(is_problem(&refused, StatusCode::CONFLICT), "{}", refused.json);
    assert!(refused.json["detail"].as_str().unwrap().contains("Terminate"), "{}", refused.json);
    let servers = api.get("/api/v1/servers").await;
    let server = servers.json["items"].as_array().unwrap().iter().find(|s| s["name"] == "web").unwrap().clone();
    let terminating = api
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/servers/{}/terminate", server["id"]),
            Some(json!({ "version": server["version"] })),
        )
        .await;
    assert_eq!(terminating.status, StatusCode::ACCEPTED, "{}", terminating.json);
    assert_eq!(terminating.json["progress"], "terminating");
    app.run_jobs().await;
    let deleted = api.send(reqwest::Method::DELETE, &format!("/api/v1/images/{web}?version={web_version}"), None).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.json);
    assert_eq!(deleted.json["name"], "web-frontend-2026.11");
    assert!(deleted.json["deregistering"].as_str().is_some_and(|ami| ami.starts_with("ami-")));
    assert_eq!(count(&mut conn, &format!("SELECT count(*) AS n FROM image_records WHERE id = {web}")).await, 0);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'deregister_image'").await, 1);
    assert_eq!(
        count(
            &mut conn,
            &format!("SELECT count(*) AS n FROM audit_events WHERE action = 'delete' AND account_id = {production}")
        )
        .await,
        1
    );

    // The public catalog needs a term or a filter, as the page does.
    let everything = api.get("/api/v1/public-images").await;
    assert!(is_problem(&everything, StatusCode::UNPROCESSABLE_ENTITY), "{}", everything.json);
    let ubuntu = api.get("/api/v1/public-images?q=ubuntu").await;
    assert_eq!(ubuntu.status, StatusCode::OK, "{}", ubuntu.json);
    assert!(ubuntu.json["provided"].as_array().unwrap().iter().all(|i| i["provided"] == true));
}

#[actix_web::test]
async fn a_write_token_has_no_more_rights_than_its_user_has_now() {
    let app = TestApp::spawn().await;
    let mut viewer = app.signed_in("viewer@acme.test").await;
    let api = Api::new(&app, &make_token(&mut viewer, "viewer", app.demo.acme_production, "write").await);
    let (id, version) = record(&app, "batch-worker").await;

    let listed = api.get("/api/v1/images").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.json);
    let batch = listed.json["items"].as_array().unwrap().iter().find(|i| i["id"] == id).unwrap();
    assert!(!batch["actions"].as_array().unwrap().contains(&json!("configure")), "the viewer may not rename");
    let refused = api
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/images/{id}"),
            Some(json!({ "version": version, "name": "mine" })),
        )
        .await;
    assert!(is_problem(&refused, StatusCode::FORBIDDEN), "{}", refused.json);
    let refused =
        api.send(reqwest::Method::POST, "/api/v1/firewalls", Some(json!({ "name": "x", "description": "y" }))).await;
    assert!(is_problem(&refused, StatusCode::FORBIDDEN), "{}", refused.json);
    assert_eq!(record(&app, "batch-worker").await, (id, version), "nothing changed");

    // Leaving the account takes the token's access with it.
    diesel::sql_query(format!(
        "DELETE FROM account_memberships WHERE account_id = {} AND user_id = (SELECT id FROM users WHERE email = 'viewer@acme.test')",
        app.demo.acme_production
    ))
    .execute(&mut app.db().await)
    .await
    .unwrap();
    assert!(is_problem(&api.get("/api/v1/images").await, StatusCode::FORBIDDEN));
}

/// A token's request reads its user's rights in the token lookup's one
/// statement while nothing that decides them has changed (the access
/// version, as for a session), and afresh after any change.
#[actix_web::test]
async fn a_tokens_rights_are_kept_between_requests_until_anything_that_decides_them_changes() {
    async fn run(app: &TestApp, sql: &str) {
        diesel::sql_query(sql).execute(&mut app.db().await).await.unwrap();
    }
    let app = TestApp::spawn().await;
    let mut viewer = app.signed_in("viewer@acme.test").await;
    let api = Api::new(&app, &make_token(&mut viewer, "viewer", app.demo.acme_production, "write").await);
    let (id, _) = record(&app, "batch-worker").await;
    let actions = async || {
        let listed = api.get("/api/v1/images").await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.json);
        let batch = listed.json["items"].as_array().unwrap().iter().find(|i| i["id"] == id).unwrap().clone();
        batch["actions"].clone()
    };
    assert!(!actions().await.as_array().unwrap().contains(&json!("configure")));

    // Given with the counting switched off: the kept rights still answer.
    let give = "INSERT INTO access_rights (role_id, resource, action, qualifier)
         SELECT DISTINCT r.id, 'IMAGE', 'Configure', 'ANY' FROM roles r JOIN group_roles gr ON gr.role_id = r.id
         JOIN group_members gm ON gm.group_id = gr.group_id JOIN users u ON u.id = gm.user_id
         WHERE u.email = 'viewer@acme.test'";
    run(&app, "ALTER TABLE access_rights DISABLE TRIGGER access_rights_access").await;
    run(&app, give).await;
    run(&app, "ALTER TABLE access_rights ENABLE TRIGGER access_rights_access").await;
    assert!(!actions().await.as_array().unwrap().contains(&json!("configure")), "kept");

    // Any counted change: the next request reads them afresh.
    run(&app, "UPDATE users SET given_name = 'Val' WHERE email = 'viewer@acme.test'").await;
    assert!(actions().await.as_array().unwrap().contains(&json!("configure")), "read afresh");

    // Deactivated in SQL (no token revoked): refused on the next request.
    run(&app, "UPDATE users SET status = 'inactive' WHERE email = 'viewer@acme.test'").await;
    assert!(is_problem(&api.get("/api/v1/images").await, StatusCode::UNAUTHORIZED));
}

#[actix_web::test]
async fn pause_start_an_import_and_a_firewall_delete_through_the_api() {
    let (app, api) = synced_with_token().await;
    let mut conn = app.db().await;
    let (web, _) = record(&app, "web-frontend-2026.11").await;
    let launched = api
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/images/{web}/launch"),
            Some(json!({ "name": "worker", "budget_code_id": default_code(&app).await, "product_id": "t3.micro" })),
        )
        .await;
    assert_eq!(launched.status, StatusCode::ACCEPTED, "{}", launched.json);
    let server = launched.json["servers"][0]["id"].as_i64().unwrap();
    app.run_jobs().await;
    let now = api.get(&format!("/api/v1/servers/{server}")).await;
    let paused = api
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/servers/{server}/pause"),
            Some(json!({ "version": now.json["version"] })),
        )
        .await;
    assert_eq!(paused.status, StatusCode::ACCEPTED, "{}", paused.json);
    assert_eq!(paused.json["progress"], "pausing");
    app.run_jobs().await;
    let now = api.get(&format!("/api/v1/servers/{server}")).await;
    assert_eq!(now.json["progress"], "paused", "{}", now.json);
    assert_eq!(now.json["actions"], json!(["start", "make-image", "terminate"]), "{}", now.json);
    let started = api
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/servers/{server}/start"),
            Some(json!({ "version": now.json["version"] })),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.json);
    for action in ["pause", "start"] {
        let events =
            format!("SELECT count(*) AS n FROM audit_events WHERE action = '{action}' AND resource_id = '{server}'");
        assert_eq!(count(&mut conn, &events).await, 1, "{action}");
    }

    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHfFrtHX+Bm9WEBJueOkw12IlEyZLGAJ0NSFLLLVngpY ops@acme.test";
    let nul = key.replace("ops@", "ops\u{0}@");
    let refused =
        api.send(reqwest::Method::POST, "/api/v1/key-pairs", Some(json!({ "name": "nul", "public_key": nul }))).await;
    assert!(is_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY), "{}", refused.json);
    let imported = api
        .send(reqwest::Method::POST, "/api/v1/key-pairs", Some(json!({ "name": "ops-laptop", "public_key": key })))
        .await;
    assert_eq!(imported.status, StatusCode::ACCEPTED, "{}", imported.json);
    assert_eq!(imported.json["state"], "PENDING");
    assert!(imported.json.get("private_key").is_none());
    app.run_jobs().await;
    let listed = api.get("/api/v1/key-pairs").await;
    let ops = listed.json["items"].as_array().unwrap().iter().find(|k| k["name"] == "ops-laptop").unwrap().clone();
    assert_eq!(ops["state"], "ACTIVE", "{}", listed.json);
    assert!(!ops["fingerprint"].as_str().unwrap().is_empty());

    let made = api
        .send(reqwest::Method::POST, "/api/v1/firewalls", Some(json!({ "name": "short-lived", "description": "x" })))
        .await;
    app.run_jobs().await;
    let id = made.json["id"].as_i64().unwrap();
    let deleted = api.send(reqwest::Method::DELETE, &format!("/api/v1/firewalls/{id}"), None).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.json);
    assert_eq!(deleted.json, json!({ "name": "short-lived", "at_provider": true }));
    let gone = api.send(reqwest::Method::DELETE, &format!("/api/v1/firewalls/{id}"), None).await;
    assert!(is_problem(&gone, StatusCode::CONFLICT) || is_problem(&gone, StatusCode::NOT_FOUND), "{}", gone.json);
}

#[actix_web::test]
async fn an_image_in_the_bin_offers_only_what_the_bin_allows() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let token = make_token(&mut client, "bin", app.demo.acme_staging, "write").await;
    let api = Api::new(&app, &token);
    let bin = api.get("/api/v1/images?scope=bin").await;
    assert_eq!(bin.status, StatusCode::OK, "{}", bin.json);
    let runner = bin.json["items"].as_array().unwrap().iter().find(|i| i["name"] == "load-test-runner").unwrap();
    assert_eq!(runner["actions"], json!(["restore", "purge"]), "no rename or relabel in the bin: {runner}");

    // Read by id as listed; a stale version is answered with the record as it is.
    let id = runner["id"].as_i64().unwrap();
    let path = format!("/api/v1/images/{id}");
    let read = api.get(&path).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.json);
    assert_eq!(&read.json, runner);
    let version = runner["version"].as_i64().unwrap();
    // Its sharing is neither read nor changed in the bin, nor is it
    // launched, and each says why.
    let sharing = api.get(&format!("{path}/sharing")).await;
    let shared = api
        .send(reqwest::Method::PUT, &format!("{path}/sharing"), Some(json!({ "public": true, "account_ids": [] })))
        .await;
    let options = api.get(&format!("{path}/launch")).await;
    let launch =
        json!({ "name": "from-the-bin", "budget_code_id": default_code(&app).await, "product_id": "t3.micro" });
    let launched = api.send(reqwest::Method::POST, &format!("{path}/launch"), Some(launch)).await;
    for answer in [&sharing, &shared, &options, &launched] {
        assert!(is_problem(answer, StatusCode::CONFLICT), "{}", answer.json);
        assert_eq!(answer.json["detail"], "“load-test-runner” is in the recycle bin: restore it first.");
    }
    let mut conn = app.db().await;
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'launch_permission'").await, 0);
    for action in ["restore", "purge"] {
        let stale =
            api.send(reqwest::Method::POST, &format!("{path}/{action}"), Some(json!({ "version": version - 1 }))).await;
        assert!(is_problem(&stale, StatusCode::CONFLICT), "{}", stale.json);
        assert_eq!(&stale.json["current"], runner, "{action}: the record as it now is");
    }
    // Nor is anything else done to it there: each change says why, not that it is unknown.
    let changes = [
        (reqwest::Method::PATCH, path.clone(), json!({ "label": "red", "version": version })),
        (reqwest::Method::POST, format!("{path}/protect"), json!({ "version": version })),
        (reqwest::Method::POST, format!("{path}/deprecate"), json!({ "version": version })),
        (reqwest::Method::PUT, format!("{path}/schedule"), json!({ "version": version, "retire_on": "2030-01-01" })),
    ];
    for (method, to, body) in changes {
        let refused = api.send(method, &to, Some(body)).await;
        assert!(is_problem(&refused, StatusCode::CONFLICT), "{to}: {}", refused.json);
        assert_eq!(refused.json["detail"], "“load-test-runner” is in the recycle bin: restore it first.", "{to}");
    }
    assert_eq!(api.get(&path).await.json, *runner, "nothing changed");
    let restored =
        api.send(reqwest::Method::POST, &format!("{path}/restore"), Some(json!({ "version": version }))).await;
    assert_eq!(restored.status, StatusCode::OK, "{}", restored.json);
    assert_eq!(restored.json["purge_after"], Value::Null);
    // Sent twice: the second is told why, not that the image is unknown.
    let again = api.send(reqwest::Method::POST, &format!("{path}/restore"), Some(json!({ "version": version }))).await;
    assert!(is_problem(&again, StatusCode::CONFLICT), "{}", again.json);
    assert_eq!(again.json["detail"], "“load-test-runner” is not in the recycle bin.", "{}", again.json);
    assert_eq!(api.get(&path).await.json, restored.json);
}

/// Refusals that say what is wrong, all of it, once: a lifecycle change of
/// an image the account does not own, every bad field of Make Image, an
/// empty public key, a name taken; and a schedule sent as it is changes
/// nothing.
#[actix_web::test]
async fn an_api_change_that_cannot_be_done_says_why_and_changes_nothing() {
    let (app, api) = synced_with_token().await;
    let mut conn = app.db().await;

    // Launched from the public catalog: its lifecycle is its owner's.
    let public = "SELECT id AS n FROM image_records WHERE source = 'public_launched' AND account_id = ";
    let public = count(&mut conn, &format!("{public}{}", app.demo.acme_production)).await;
    let read = api.get(&format!("/api/v1/images/{public}")).await;
    let (name, version) = (read.json["name"].as_str().unwrap().to_owned(), read.json["version"].clone());
    let deprecate = api
        .send(reqwest::Method::POST, &format!("/api/v1/images/{public}/deprecate"), Some(json!({ "version": version })))
        .await;
    assert!(is_problem(&deprecate, StatusCode::CONFLICT), "{}", deprecate.json);
    let said = format!(
        "“Deprecate” is for the account that owns “{name}”: this account has it launched from the public catalog."
    );
    assert_eq!(deprecate.json["detail"], said);

    // Every bad field of Make Image in one answer.
    let (server, _) = crate::servers::running_server(&mut conn, app.demo.acme_production).await;
    let made = api
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/servers/{server}/make-image"),
            Some(json!({ "name": "x", "budget_code_id": 999999, "group_id": 999999 })),
        )
        .await;
    assert!(is_problem(&made, StatusCode::UNPROCESSABLE_ENTITY), "{}", made.json);
    let fields: Vec<&str> =
        made.json["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["name", "budget_code_id", "group_id"], "{}", made.json);

    // A schedule sent as it is keeps the image's version.
    let own =
        count(&mut conn, "SELECT id AS n FROM image_records WHERE source = 'own' AND name = 'web-frontend-2026.11'")
            .await;
    let before = api.get(&format!("/api/v1/images/{own}")).await.json;
    let body = json!({ "version": before["version"], "deprecate_on": before["deprecate_on"], "retire_on": before["retire_on"] });
    let same = api.send(reqwest::Method::PUT, &format!("/api/v1/images/{own}/schedule"), Some(body)).await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.json);
    assert_eq!(same.json, before, "unchanged, its version too");

    // An empty public key is a bad import, not a request for a new key pair.
    let empty = api
        .send(reqwest::Method::POST, "/api/v1/key-pairs", Some(json!({ "name": "imported", "public_key": "" })))
        .await;
    assert!(is_problem(&empty, StatusCode::UNPROCESSABLE_ENTITY), "{}", empty.json);
    assert_eq!(empty.json["errors"][0]["field"], "public_key", "{}", empty.json);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM key_pairs WHERE name = 'imported'").await, 0);

    // A name taken is invalid input at its field, by status and by title.
    let firewall = json!({ "name": "api-web", "description": "Web" });
    let first = api.send(reqwest::Method::POST, "/api/v1/firewalls", Some(firewall.clone())).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.json);
    let taken = api.send(reqwest::Method::POST, "/api/v1/firewalls", Some(firewall)).await;
    assert!(is_problem(&taken, StatusCode::UNPROCESSABLE_ENTITY), "{}", taken.json);
    assert_eq!(taken.json["title"], "Invalid input", "{}", taken.json);
    assert_eq!(taken.json["errors"][0]["field"], "name", "{}", taken.json);
}
