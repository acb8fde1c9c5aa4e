//! HTML conformance, judged by an independent checker: html-validate
//! (pinned in `package.json`, its "standard" rules: what the HTML standard
//! requires, no matter of style) reads every page and every dialog as the
//! console sends it, signed out and signed in.

use std::fmt::Write as _;
use std::process::Command;

use crate::accessibility::every_page;
use crate::harness::TestApp;

#[actix_web::test]
async fn html_validate_finds_nothing_on_any_page_or_dialog() {
    let app = TestApp::spawn().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("stratus-markup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).expect("a temporary directory");

    let mut sent = vec![("/login (signed out)".to_owned(), app.client().get("/login").await.body)];
    let mut admin = app.signed_in("admin@acme.test").await;
    let pages = every_page(&app).await;
    for path in &pages {
        sent.push((path.clone(), admin.get(path).await.body));
    }
    // Forms as they come back with a problem at every field they check.
    let launch = pages.iter().find(|p| p.ends_with("/launch")).expect("the launch dialog's page");
    let key = uuid::Uuid::new_v4().to_string();
    let bad = [
        ("step", "launch"),
        ("tab", "general"),
        ("idempotency_key", &key),
        ("name", "web/1"),
        ("count", "0"),
        ("product_id", "x"),
        ("key_choice", "none"),
        ("volumes", "group"),
        ("config_type", "chef"),
    ];
    let refused = admin.post(launch, &bad).await;
    assert_eq!(refused.status, reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    sent.push((format!("{launch} with problems"), refused.body));
    let refused = admin.post("/admin/users", &[("email", "not an address"), ("given_name", "")]).await;
    assert_eq!(refused.status, reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    sent.push(("/admin/users with problems".to_owned(), refused.body));
    let mut files = Vec::new();
    for (at, (_, body)) in sent.iter().enumerate() {
        let file = dir.join(format!("{at:02}.html"));
        std::fs::write(&file, body).expect("the page is written");
        files.push(file);
    }

    let checked = Command::new(root.join("node_modules/.bin/html-validate"))
        .arg("--config")
        .arg(root.join(".htmlvalidate.json"))
        .args(["--formatter", "text"])
        .args(&files)
        .output()
        .expect("html-validate runs (`make test` installs it)");
    std::fs::remove_dir_all(&dir).expect("the temporary directory is removed");
    let mut report = String::from_utf8_lossy(&checked.stdout).into_owned();
    for (at, (path, _)) in sent.iter().enumerate() {
        let _ = writeln!(report, "{at:02}.html: {path}");
    }
    assert!(checked.status.success(), "html-validate found problems:\n{report}");
    assert!(sent.len() > 40, "every page was read: {}", sent.len());
}

/// The `id`s an HTML text declares.
fn ids(body: &str) -> std::collections::BTreeSet<&str> {
    body.split(" id=\"").skip(1).filter_map(|rest| rest.split('"').next()).collect()
}

/// A dialog opens in the page's `#modal`: each of its ids must be new there,
/// or a label, a `for` or an `aria-describedby` in it would name the field
/// of the page behind it (html-validate reads the two apart).
#[actix_web::test]
async fn a_dialog_declares_no_id_of_the_page_it_opens_over() {
    let app = TestApp::spawn().await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let pages = every_page(&app).await;
    let mut checked = 0;
    for dialog in &pages {
        // `/admin/users/7/edit` opens over `/admin/users`; an image's dialogs
        // also over the image's own page.
        let segments: Vec<&str> = dialog.trim_start_matches('/').split('/').collect();
        let Some(at) = segments.iter().position(|s| s.parse::<i64>().is_ok()) else { continue };
        if at + 1 == segments.len() {
            continue;
        }
        let list = format!("/{}", segments[..at].join("/"));
        let own = format!("/{}", segments[..=at].join("/"));
        let fragment = admin.get_htmx(dialog, "modal").await;
        assert_eq!(fragment.status, reqwest::StatusCode::OK, "{dialog}");
        for page in [list, own].into_iter().filter(|p| pages.contains(p)) {
            let behind = admin.get(&page).await.body;
            let (behind, opened) = (ids(&behind), ids(&fragment.body));
            let both: Vec<&&str> = opened.intersection(&behind).collect();
            assert!(both.is_empty(), "{dialog} over {page} repeats the ids {both:?}");
            checked += 1;
        }
    }
    assert!(checked >= 20, "every dialog was opened over its page: {checked}");
}
