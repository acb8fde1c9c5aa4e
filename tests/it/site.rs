//! Site-wide behaviour: health, redirects, headers, static assets, errors.

use reqwest::StatusCode;

use crate::harness::{TestApp, text};

#[actix_web::test]
async fn healthz_says_the_database_answers() {
    let app = TestApp::spawn().await;
    let response = app.client().get("/healthz").await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(response.body.contains(r#""database":"ok""#));
    assert!(response.body.contains(r#""provider":"ok""#));
}

#[actix_web::test]
async fn healthz_is_503_when_the_database_is_gone() {
    let mut config = stratus_console::config::Config::for_database("postgres://stratus@127.0.0.1:1/none");
    config.pool_size = 1;
    let app = stratus_console::Application::build(config).await.unwrap();
    let url = format!("http://{}/healthz", app.address());
    actix_web::rt::spawn(app.run());
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[actix_web::test]
async fn the_root_redirects_to_machine_images() {
    let app = TestApp::spawn().await;
    let response = app.client().get("/").await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
    assert_eq!(response.location(), Some("/images"));
}

#[actix_web::test]
async fn pages_carry_the_security_headers() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let page = client.get("/images").await;
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("same-origin"));
    assert!(!page.body.contains("<script>"), "no inline script");
    assert!(page.body.contains(r#""allowEval": false"#));
}

#[actix_web::test]
async fn static_assets_are_fingerprinted_cached_for_a_year_and_compressed() {
    let app = TestApp::spawn().await;
    let login = app.client().get("/login").await.body;
    let start = login.find("/static/").expect("a static asset");
    let path: String = login[start..].chars().take_while(|c| *c != '"').collect();
    let response = app.client().http.get(app.url(&path)).header("Accept-Encoding", "gzip").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers().get("cache-control").unwrap(), "public, max-age=31536000, immutable");
    assert_eq!(response.headers().get("content-encoding").unwrap(), "gzip");
}

#[actix_web::test]
async fn pages_name_their_icon_so_browsers_do_not_ask_for_a_favicon() {
    let app = TestApp::spawn().await;
    let login = app.client().get("/login").await.body;
    let link = login.find(r#"<link rel="icon" type="image/svg+xml" href=""#).expect("an icon link");
    let path: String = login[link..].split("href=\"").nth(1).unwrap().chars().take_while(|c| *c != '"').collect();
    let response = app.client().http.get(app.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers().get("content-type").unwrap(), "image/svg+xml");
    assert!(response.text().await.unwrap().starts_with("<svg"));
}

#[actix_web::test]
async fn an_unknown_path_is_a_404_page() {
    let app = TestApp::spawn().await;
    let response = app.client().get("/no/such/page").await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert!(text(&response.body).contains("Not found"));
}

#[actix_web::test]
async fn an_id_in_the_path_that_is_not_a_number_is_the_404_page() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    for path in ["/images/abc", "/images/99999999999999999999", "/images/1%00", "/admin/users/abc/edit"] {
        let response = client.get(path).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{path}");
        assert!(response.body.contains("<!doctype html>"), "{path}: the page, not text: {}", response.body);
        assert!(!response.body.contains("can not parse"), "{path}: no parser's words");
    }
    let posted = client.post("/admin/users/abc/deactivate", &[]).await;
    assert_eq!(posted.status, StatusCode::NOT_FOUND);
    assert!(!posted.body.contains("can not parse"));
}

/// HEAD answers as GET does, without the body: a load balancer's check of
/// `/healthz`, a monitor's of a page, a signed-in page alike.
#[actix_web::test]
async fn head_answers_every_get_route_with_its_head_only() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (path, status) in [("/healthz", StatusCode::OK), ("/login", StatusCode::OK), ("/images", StatusCode::SEE_OTHER)]
    {
        let got = client.get(app.url(path)).send().await.unwrap();
        let (got_status, got_length) = (got.status(), got.headers().get("content-length").cloned());
        let body = got.bytes().await.unwrap();
        let head = client.head(app.url(path)).send().await.unwrap();
        assert_eq!((head.status(), got_status), (status, status), "{path}");
        assert_eq!(head.headers().get("content-length"), got_length.as_ref(), "{path}: the GET's length");
        assert!(head.bytes().await.unwrap().is_empty(), "{path}: no body");
        if status == StatusCode::OK {
            assert!(!body.is_empty(), "{path}");
        }
    }
    // A state-changing route is not reached by HEAD.
    let head = client.head(app.url("/logout")).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
}
