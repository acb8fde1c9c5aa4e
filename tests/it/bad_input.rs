//! Generated bad input over every form: no answer is a 5xx, and a refused
//! change leaves the database as it was.
//!
//! The forms are not listed here: a real Chromium opens every page and
//! dialog, reads each POST form as the browser would send it (its fields,
//! their values, the button that submits it), and then the test sends it
//! again in the browser's session (its cookies, the form's CSRF token) with
//! one field at a time replaced by a nasty value, dropped, or repeated. Query
//! strings of the list pages get the same values.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::accessibility::every_page;
use crate::browser::Browser;
use crate::harness::TestApp;

/// What users, scripts and attackers type: control characters and NUL,
/// invisible and reversing characters, the replacement character, very long
/// text, numbers that do not fit, markup.
fn nasty() -> Vec<String> {
    vec![
        "\u{0}".into(),
        "\u{1}\u{1b}[31m".into(),
        "line\r\nbreak".into(),
        "\u{202e}gnp.exe".into(),
        "a\u{200b}b".into(),
        "\u{fffd}".into(),
        "x".repeat(5000),
        incompressible(3000),
        "-1".into(),
        "99999999999999999999999".into(),
        "1e309".into(),
        "NaN".into(),
        " ".into(),
        "<script>alert(1)</script>".into(),
    ]
}

/// `len` letters and digits that do not compress: an index entry of them is
/// over PostgreSQL's limit (2,704 bytes), where "x" × 5,000 compresses to a
/// few bytes and passes.
fn incompressible(len: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    (0..len)
        .map(|_| {
            // xorshift64: the same text every run.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(CHARS[(state % CHARS.len() as u64) as usize])
        })
        .collect()
}

/// A fingerprint of every table a change may write. Sessions and sign-in
/// attempts are written by reading pages and signing in, so they are left
/// out; so are sign-in events of the audit log, and the provider's catalog
/// (public images, sizes, zones), which only sync jobs write (no job runs
/// here) and which holds most of the rows. The walk takes one after each of
/// its thousands of requests: the statement is written once, on a
/// connection of its own.
struct Fingerprint {
    conn: diesel_async::AsyncPgConnection,
    sql: String,
}

#[derive(diesel::QueryableByName)]
struct Print {
    #[diesel(sql_type = diesel::sql_types::Text)]
    print: String,
}

impl Fingerprint {
    async fn of(app: &TestApp) -> Self {
        use diesel_async::RunQueryDsl as _;
        let mut conn = app.db().await;
        let tables: Vec<Print> = diesel::sql_query(
            "SELECT table_name::text AS print FROM information_schema.tables
              WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
                AND table_name NOT IN ('sessions', 'login_attempts', '__diesel_schema_migrations',
                                       'public_images', 'products', 'zones')
              ORDER BY table_name",
        )
        .load(&mut conn)
        .await
        .unwrap();
        let parts: Vec<String> = tables
            .iter()
            .map(|t| {
                let filter = if t.print == "audit_events" { " WHERE x.action <> 'sign_in'" } else { "" };
                format!(
                    "SELECT '{0}:' || coalesce(md5(string_agg(x::text, ',' ORDER BY x::text)), '') FROM {0} x{filter}",
                    t.print
                )
            })
            .collect();
        Self { conn, sql: format!("SELECT concat_ws(' ', ({})) AS print", parts.join("), (")) }
    }

    async fn take(&mut self) -> String {
        use diesel_async::RunQueryDsl as _;
        diesel::sql_query(&self.sql).get_result::<Print>(&mut self.conn).await.unwrap().print
    }
}

/// The POST forms on the page as the browser would send them.
async fn forms(browser: &Browser) -> Vec<Value> {
    browser
        .client
        .execute(
            "return Array.from(document.querySelectorAll('form[method=post]')).map(f => {
                 const data = Array.from(new FormData(f).entries()).filter(([, v]) => typeof v === 'string');
                 const button = f.querySelector('button[type=submit][name]:not([tabindex=\"-1\"]).primary')
                     || f.querySelector('button[type=submit][name]:not([tabindex=\"-1\"])');
                 if (button) data.push([button.name, button.value]);
                 return { action: f.getAttribute('action'), fields: data };
             })",
            vec![],
        )
        .await
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Sends requests in the browser's session without the browser: the cookies
/// Chromium holds, on a client of the test's own. The body is the form the
/// page would send (urlencoded, its own CSRF token among the fields); a
/// WebDriver round trip per request would cost ten times the request.
struct AsBrowser {
    http: reqwest::Client,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
    base: reqwest::Url,
}

impl AsBrowser {
    fn new(app: &TestApp) -> Self {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client");
        Self { http, jar, base: app.url("/").parse().expect("the app's address") }
    }

    /// Takes the cookies the browser holds now (after it signed in, or was
    /// given a session by the page it opened).
    async fn follow(&self, browser: &Browser) {
        for cookie in browser.client.get_all_cookies().await.unwrap() {
            self.jar.add_cookie_str(&format!("{}={}; Path=/", cookie.name(), cookie.value()), &self.base);
        }
    }

    /// Posts `fields` to `action`; the status and the start of the body.
    async fn post(&self, action: &str, fields: &[(String, String)]) -> (u64, String) {
        let url = self.base.join(action).expect("a form's action");
        match self.http.post(url).form(fields).send().await {
            Ok(answer) => {
                let status = answer.status().as_u16().into();
                let body = answer.text().await.unwrap_or_default();
                (status, body.chars().take(300).collect())
            }
            Err(error) => (0, error.to_string()),
        }
    }

    async fn get(&self, path: &str) -> u64 {
        let url = self.base.join(path).expect("an address");
        self.http.get(url).send().await.map_or(0, |answer| answer.status().as_u16().into())
    }
}

/// Variants of a form: each field (but the CSRF token) nasty, dropped, and
/// repeated with a second, nasty value; `few`: only the values that broke
/// something once (for endpoints that read the same form as another).
fn variants(fields: &[(String, String)], few: bool) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    let values: Vec<String> = if few {
        vec!["\u{0}".into(), "\u{202e}x".into(), "x".repeat(5000), "99999999999999999999999".into()]
    } else {
        nasty()
    };
    for (at, (name, _)) in fields.iter().enumerate() {
        if name == "csrf_token" {
            continue;
        }
        for value in values.clone() {
            let mut changed = fields.to_vec();
            changed[at].1.clone_from(&value);
            let shown: String = value.chars().take(12).collect();
            out.push((format!("{name}={shown:?}"), changed));
        }
        if few {
            continue;
        }
        let mut dropped = fields.to_vec();
        dropped.remove(at);
        out.push((format!("{name} missing"), dropped));
        let mut repeated = fields.to_vec();
        repeated.push((name.clone(), "\u{0}".into()));
        out.push((format!("{name} twice"), repeated));
    }
    out
}

#[actix_web::test]
async fn no_generated_input_over_any_form_gets_a_5xx_or_half_writes() {
    let app = TestApp::spawn().await;
    let browser = Browser::start().await;
    let b = &browser.client;
    let session = AsBrowser::new(&app);
    let mut failures = String::new();
    let (mut sent, mut refused_checked) = (0, 0);

    browser.sign_in(&app, "admin@acme.test").await;
    let image = crate::browser::id_of(&app, "SELECT id FROM image_records WHERE name = 'batch-worker' LIMIT 1").await;
    let mut pages = every_page(&app).await;
    // The rows' own forms (inline rename, label picker), and sign-in last:
    // its failures count against the address, and the session ends there.
    pages.extend([format!("/images/{image}/name/edit"), format!("/images/{image}/label"), "/login".to_owned()]);
    let mut seen = std::collections::HashSet::new();
    // The database as the last answer left it: a refusal must not change it.
    let mut fingerprint = Fingerprint::of(&app).await;
    let mut before = fingerprint.take().await;
    for path in pages {
        if path == "/login" {
            b.delete_all_cookies().await.unwrap();
        }
        b.goto(&app.url(&path)).await.unwrap();
        session.follow(&browser).await;
        for form in forms(&browser).await {
            let action = form["action"].as_str().unwrap_or_default().to_owned();
            let fields: Vec<(String, String)> = form["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| (f[0].as_str().unwrap_or_default().to_owned(), f[1].as_str().unwrap_or_default().to_owned()))
                .collect();
            // Sign-out and the account switcher are on every page: once is enough.
            let shape = format!("{action} {:?}", fields.iter().map(|f| &f.0).collect::<Vec<_>>());
            if action == "/logout" || !seen.insert(shape) {
                continue;
            }
            // The launch form is also sent to its cost panel and key pair button
            // (fewer values: they read the very same form).
            let mut actions = vec![action.clone()];
            if action.ends_with("/launch") {
                actions.extend([format!("{action}/cost"), format!("{action}/key-pair")]);
            }
            for (at, action) in actions.into_iter().enumerate() {
                for (what, variant) in variants(&fields, at > 0) {
                    let (status, body) = session.post(&action, &variant).await;
                    sent += 1;
                    let after = fingerprint.take().await;
                    if status >= 500 || status == 0 {
                        let _ = writeln!(failures, "POST {action} with {what}: {status} {body:?}");
                    } else if (400..500).contains(&status) {
                        refused_checked += 1;
                        if after != before {
                            let _ = writeln!(failures, "POST {action} with {what}: {status} but the database changed");
                        }
                    }
                    before = after;
                }
            }
        }
    }

    // The query strings of the list pages.
    for page in ["/images", "/images?scope=public", "/servers", "/audit", "/jobs"] {
        for param in
            ["q", "scope", "sort", "dir", "label", "after", "before", "cursor", "page", "account", "user", "action"]
        {
            for value in nasty() {
                let url = format!("{page}{}{param}={}", if page.contains('?') { '&' } else { '?' }, encode(&value));
                let status = app.client().http.get(app.url(&url)).send().await.map(|r| r.status().as_u16());
                let signed = session.get(&url).await;
                sent += 1;
                if signed >= 500 || signed == 0 || status.is_ok_and(|s| s >= 500) {
                    let _ = writeln!(failures, "GET {url}: {signed}");
                }
            }
        }
    }

    b.clone().close().await.unwrap();
    assert!(failures.is_empty(), "{sent} requests sent:\n{failures}");
    assert!(sent > 1000 && refused_checked > 300, "{sent} sent, {refused_checked} refusals checked");
}

/// Percent-encodes every byte but unreserved ones.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[actix_web::test]
async fn a_form_body_that_is_not_utf8_is_a_400() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let token = client.csrf.clone().unwrap();
    let mut fingerprint = Fingerprint::of(&app).await;
    let before = fingerprint.take().await;
    for body in [format!("name=caf%E9&description=&csrf_token={token}"), format!("name=%FF%FE&csrf_token={token}")] {
        let response = client
            .http
            .post(app.url("/firewalls"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::BAD_REQUEST);
        assert!(response.text().await.unwrap().contains("UTF-8"));
    }
    assert_eq!(fingerprint.take().await, before, "nothing was written");
    let _ = client.get("/firewalls").await;
}

#[actix_web::test]
async fn names_that_hide_or_reverse_their_text_are_refused_at_the_field() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let image = crate::browser::id_of(&app, "SELECT id FROM image_records WHERE name = 'batch-worker' LIMIT 1").await;
    let version = crate::browser::id_of(
        &app,
        "SELECT version::bigint AS id FROM image_records WHERE name = 'batch-worker' LIMIT 1",
    )
    .await;
    let mut fingerprint = Fingerprint::of(&app).await;
    let before = fingerprint.take().await;
    for name in ["\u{202e}gnp.exe", "adm\u{200b}in", "\u{feff}Default", "caf\u{fffd}"] {
        let version = version.to_string();
        let forms: [(&str, Vec<(&str, &str)>); 5] = [
            ("/admin/groups", vec![("name", name), ("description", "")]),
            ("/admin/roles", vec![("name", name), ("description", "")]),
            (
                "/admin/budget-codes",
                vec![
                    ("name", name),
                    ("finance_code", "F-1"),
                    ("description", ""),
                    ("soft_quota", "10"),
                    ("hard_quota", "20"),
                ],
            ),
            ("/firewalls", vec![("name", name), ("description", "web")]),
            (
                &*Box::leak(format!("/images/{image}/name").into_boxed_str()),
                vec![("name", name), ("version", &version)],
            ),
        ];
        for (path, fields) in forms {
            let response = client.post_htmx(path, &fields).await;
            assert_eq!(
                response.status,
                reqwest::StatusCode::UNPROCESSABLE_ENTITY,
                "{path} {name:?}: {}",
                response.body
            );
            let shown = crate::harness::text(&response.body);
            assert!(
                shown.contains("invisible or direction-changing") || shown.contains("may hold letters"),
                "{path} {name:?}: {shown}"
            );
        }
    }
    assert_eq!(fingerprint.take().await, before, "nothing was written");
}

/// A form larger than a form may be is a 413 told as every refusal is: the
/// page, or for htmx the flash, with the console's headers; a form or an
/// address it cannot read names the field in words, never the parser's.
#[actix_web::test]
async fn a_form_too_large_or_unreadable_is_told_in_words_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let (id, version) =
        crate::image_actions::record(&mut app.db().await, app.demo.acme_production, "batch-worker").await.unwrap();
    let mut fingerprint = Fingerprint::of(&app).await;
    let before = fingerprint.take().await;
    let path = format!("/images/{id}/name");
    let version = version.to_string();
    for size in [70_000, 300_000] {
        let name = "a".repeat(size);
        for htmx in [false, true] {
            let fields = [("name", name.as_str()), ("version", version.as_str())];
            let answer = if htmx { client.post_htmx(&path, &fields).await } else { client.post(&path, &fields).await };
            assert_eq!(answer.status, reqwest::StatusCode::PAYLOAD_TOO_LARGE, "{size} bytes, htmx {htmx}");
            assert!(answer.body.contains("A form may send at most 64 KiB"), "{}", answer.body);
            assert!(answer.header("content-security-policy").is_some(), "the console's headers");
            assert_eq!(answer.header("hx-retarget").is_some(), htmx, "htmx shows it in the flash");
        }
    }
    let unreadable = [
        (vec![("name", "x")], "The form could not be read: it has no “version”. Reload the page and send it again."),
        (vec![("name", "x"), ("version", "1.5")], "one of its values is not of the kind its field takes"),
        (vec![("name", "x"), ("version", &version), ("version", &version)], "it gives “version” more than once"),
    ];
    for (fields, said) in unreadable {
        let answer = client.post(&path, &fields).await;
        assert_eq!(answer.status, reqwest::StatusCode::BAD_REQUEST, "{fields:?}");
        assert!(answer.body.contains(said), "{fields:?}: {}", answer.body);
        assert!(!answer.body.contains("Parse error"), "{}", answer.body);
    }
    assert_eq!(fingerprint.take().await, before, "nothing was written");

    let twice = client.get("/images?q=a&q=b").await;
    assert_eq!(twice.status, reqwest::StatusCode::BAD_REQUEST);
    assert!(twice.body.contains("The address could not be read: it gives “q” more than once."), "{}", twice.body);
    let unseen = client.get("/images?arch=%01%1b").await;
    assert_eq!(unseen.status, reqwest::StatusCode::BAD_REQUEST);
    assert!(unseen.body.contains("“U+0001U+001B” is not allowed; use one of: i386, x86_64, arm64"), "{}", unseen.body);

    let api = crate::api::Api::new(
        &app,
        &crate::api::make_token(&mut client, "words", app.demo.acme_production, "write").await,
    );
    let record = || {
        format!(
            "SELECT count(*) AS n FROM image_records WHERE id = {id} AND name = 'batch-worker' \
                             AND deprecated_at IS NULL AND version = {version}"
        )
    };
    assert_eq!(crate::harness::count(&mut app.db().await, &record()).await, 1);
    let typed = api
        .send(reqwest::Method::PATCH, &format!("/api/v1/images/{id}"), Some(json!({ "version": "2", "name": "x" })))
        .await;
    assert_eq!(typed.status, reqwest::StatusCode::BAD_REQUEST);
    let detail = typed.json["detail"].as_str().unwrap();
    assert!(detail.contains("expected a whole number") && !detail.contains("i32"), "{detail}");
    assert!(!detail.contains("deserialize"), "{detail}");
    let unknown = api
        .send(reqwest::Method::POST, &format!("/api/v1/images/{id}/deprecate"), Some(json!({ "version": 1, "zzz": 1 })))
        .await;
    assert_eq!(unknown.status, reqwest::StatusCode::BAD_REQUEST, "{}", unknown.json);
    assert_eq!(crate::harness::count(&mut app.db().await, &record()).await, 1, "neither renamed nor deprecated");
}

/// Every form a role is shown, sent unchanged as the browser sends it, is
/// read: a choice the role may not make is shown disabled and not sent a
/// second time, a value it may not change is carried once. A rendered form
/// that answers 400 or 403 is a page and its handler that disagree.
#[actix_web::test]
async fn every_form_each_role_is_shown_is_read_as_the_browser_sends_it() {
    use crate::admin_roles::{give, make_role};
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    // Support (the viewer's group) may share with other accounts, and not
    // make an image public.
    let sharer = make_role(
        &mut conn,
        "Sharer",
        &[("CONSOLE", "Access"), ("IMAGE", "Access"), ("IMAGE", "ShareLocal"), ("SERVER", "Access")],
    )
    .await;
    let support = crate::browser::id_of(&app, "SELECT id FROM groups WHERE name = 'Support'").await;
    give(&mut conn, support, sharer).await;
    let image = crate::browser::id_of(&app, "SELECT id FROM image_records WHERE name = 'batch-worker' LIMIT 1").await;
    let server = crate::browser::id_of(&app, "SELECT id FROM servers ORDER BY id LIMIT 1").await;
    let firewall = crate::accessibility::a_firewall_with_rules(&app).await;
    // The changes that end what the other pages show come last.
    let pages = [
        "/images".to_owned(),
        format!("/images/{image}"),
        format!("/images/{image}/name/edit"),
        format!("/images/{image}/label"),
        format!("/images/{image}/sharing"),
        format!("/images/{image}/schedule"),
        format!("/images/{image}/launch"),
        format!("/images/{image}/deprecate"),
        "/servers".to_owned(),
        format!("/servers/{server}/image"),
        "/keypairs".to_owned(),
        "/firewalls".to_owned(),
        format!("/firewalls/{firewall}"),
        "/settings/tokens".to_owned(),
        format!("/servers/{server}/terminate"),
        format!("/images/{image}/delete"),
    ];
    let browser = Browser::start().await;
    let (mut failures, mut sent) = (String::new(), 0);
    for email in ["viewer@acme.test", "configurator@acme.test", "manager@acme.test"] {
        browser.client.delete_all_cookies().await.unwrap();
        browser.sign_in(&app, email).await;
        let session = AsBrowser::new(&app);
        session.follow(&browser).await;
        let mut seen = std::collections::HashSet::new();
        for path in &pages {
            browser.client.goto(&app.url(path)).await.unwrap();
            for form in forms(&browser).await {
                let action = form["action"].as_str().unwrap_or_default().to_owned();
                let fields: Vec<(String, String)> = serde_json::from_value(form["fields"].clone()).unwrap();
                let shape = format!("{action} {:?}", fields.iter().map(|f| &f.0).collect::<Vec<_>>());
                if action == "/logout" || !seen.insert(shape) {
                    continue;
                }
                let (status, body) = session.post(&action, &fields).await;
                sent += 1;
                if matches!(status, 0 | 400 | 403 | 500..) {
                    let _ = writeln!(failures, "{email} on {path}: POST {action} {fields:?}: {status} {body:?}");
                }
            }
        }
    }
    browser.client.clone().close().await.unwrap();
    assert!(failures.is_empty(), "{sent} forms sent:\n{failures}");
    assert!(sent > 20, "{sent} forms sent");
}
