//! Browser tests: a real headless Chromium driven through chromedriver.

use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator, key::Key};
use tokio::process::{Child, Command};

use crate::harness::TestApp;

/// A chromedriver of our own on a free port, ended when dropped.
pub(crate) struct Browser {
    pub(crate) client: Client,
    _driver: Child,
    _profile: tempdir::Dir,
}

mod tempdir {
    /// A directory removed when dropped.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Drop for Browser {
    /// chromedriver is killed with its handle, which leaves the Chromium it
    /// started running (a test that ends without `close`, or panics, would
    /// leave one per test): every process of this browser's profile ends too.
    fn drop(&mut self) {
        let marker = format!("--user-data-dir={}", self._profile.0.display());
        let Ok(processes) = std::fs::read_dir("/proc") else { return };
        for process in processes.flatten() {
            let Ok(pid) = process.file_name().to_string_lossy().parse::<u32>() else { continue };
            let Ok(cmdline) = std::fs::read(process.path().join("cmdline")) else { continue };
            if cmdline.split(|b| *b == 0).any(|arg| arg == marker.as_bytes()) {
                let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    pub(crate) async fn start() -> Self {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver is installed by `make test`");
        let profile = std::env::temp_dir().join(format!("stratus-chromium-{}", uuid::Uuid::new_v4().simple()));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--no-first-run", "--disable-component-update",
                    "--disable-sync", "--window-size=1400,900",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let mut last_error = None;
        // Up to 15 s: chromedriver starts slowly on a busy machine.
        for _ in 0..150 {
            match ClientBuilder::new(connector.clone())
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => {
                    return Self { client, _driver: driver, _profile: tempdir::Dir(profile) };
                }
                Err(e) => {
                    last_error = Some(e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        panic!("chromedriver did not answer: {last_error:?}");
    }

    /// Saves a screenshot under target/screenshots for a person to look at.
    pub(crate) async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// The page's text; empty while htmx is swapping the element away.
    pub(crate) async fn body_text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Presses keys on whatever has the focus.
    async fn keys(&self, keys: &str) {
        let active = self.client.active_element().await.expect("a focused element");
        active.send_keys(keys).await.expect("typing");
    }

    /// Enter on a menu button: opens the menu, and waits for its items (a
    /// row's menu loads them when it first opens).
    async fn open_menu(&self) {
        self.keys(&char::from(ENTER).to_string()).await;
        self.client.wait().for_element(Locator::Css("details.menu[open] [role^=menuitem]")).await.unwrap();
    }

    async fn tab_to(&self, wanted: &str) {
        // What identifies the focused element, read in one round trip.
        const FOCUSED: &str = "const e = document.activeElement; return [e.innerText || '', e.id, \
            e.getAttribute('name'), e.getAttribute('aria-label'), e.getAttribute('aria-labelledby'), e.title].join(' ')";
        // A page of 50 editable rows has up to six stops a row (a box, the
        // name, the label, the ID, actions), and the bulk bar has twelve.
        for _ in 0..400 {
            self.keys(&char::from(Key::Tab).to_string()).await;
            let label = self.client.execute(FOCUSED, vec![]).await.unwrap();
            if label.as_str().unwrap_or_default().contains(wanted) {
                return;
            }
        }
        panic!("Tab never reached {wanted}");
    }

    /// Shift+Tab until the focused element's text or label contains `wanted`.
    async fn tab_back_to(&self, wanted: &str) {
        let back = format!("{}{}", char::from(Key::Shift), char::from(Key::Tab));
        for _ in 0..100 {
            self.keys(&back).await;
            let active = self.client.active_element().await.unwrap();
            let label = active.text().await.unwrap_or_default();
            if label.contains(wanted) {
                return;
            }
        }
        panic!("Shift+Tab never reached {wanted}");
    }

    pub(crate) async fn wait_for_text(&self, wanted: &str) {
        for _ in 0..50 {
            if self.body_text().await.contains(wanted) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("never saw {wanted:?} in: {}", self.body_text().await);
    }

    async fn wait_for_url(&self, wanted: &str) {
        for _ in 0..50 {
            if self.client.current_url().await.unwrap().as_str().contains(wanted) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the URL never contained {wanted:?}: {}", self.client.current_url().await.unwrap());
    }
}

const ENTER: Key = Key::Enter;

#[actix_web::test]
async fn browser_sign_in_switch_search_filter_and_page_with_the_keyboard_only() {
    let app = TestApp::spawn().await;
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "WITH p AS (INSERT INTO provider_images (provider, region, provider_image_id, platform, architecture,
                        state, owner_account_number, created_at)
              SELECT 'ec2', 'us-east-1', 'ami-0kb' || lpad(g::text, 14, '0'), 'DEBIAN', 'x86_64', 'ACTIVE',
                     '222222222222', now() FROM generate_series(1, 60) g RETURNING id, provider_image_id)
             INSERT INTO image_records (account_id, provider_image_id, name, label, source)
             SELECT {}, id, 'staging node ' || right(provider_image_id, 2), 'blue', 'own' FROM p",
            app.demo.acme_staging
        )),
        &mut app.db().await,
    )
    .await
    .unwrap();
    let browser = Browser::start().await;
    let b = &browser.client;

    // Sign in with the keyboard.
    b.goto(&app.url("/login")).await.unwrap();
    browser.screenshot("login").await;
    browser.keys("admin@acme.test").await; // the email field has autofocus
    browser.keys(&char::from(Key::Tab).to_string()).await;
    browser.keys("demo-password-1").await;
    browser.keys(&char::from(ENTER).to_string()).await;
    browser.wait_for_text("Machine Images").await;
    browser.wait_for_text("web-frontend-2026.11").await;
    browser.screenshot("images-own").await;

    // Switch to Acme Staging: open the switcher, Tab to the account, Enter.
    browser.tab_to("Current account").await;
    browser.keys(&char::from(ENTER).to_string()).await;
    browser.screenshot("account-switcher").await;
    browser.tab_to("Acme Staging").await;
    browser.keys(&char::from(ENTER).to_string()).await;
    browser.wait_for_text("staging node").await;
    let current = b.find(Locator::Css(".account-switcher summary")).await.unwrap().text().await.unwrap();
    assert!(current.contains("Acme Staging") && current.contains("N. Virginia (us-east-1)"), "{current}");

    // Search (htmx swaps the list and pushes the URL).
    browser.tab_to("q").await;
    browser.keys("node 0").await;
    browser.keys(&char::from(ENTER).to_string()).await;
    browser.wait_for_url("q=node%200").await;
    browser.wait_for_text("staging node 09").await;
    let seen = browser.body_text().await;
    assert!(!seen.contains("staging node 10") && !seen.contains("staging-web-frontend"), "{seen}");
    browser.screenshot("images-search").await;

    // Clear the search, filter by label with the keyboard, then page.
    let search = b.find(Locator::Id("q")).await.unwrap();
    search.clear().await.unwrap();
    search.send_keys(&char::from(ENTER).to_string()).await.unwrap();
    browser.wait_for_text("staging node 48").await;
    browser.tab_to("label").await;
    browser.keys("Blue").await; // typing selects the option; htmx reacts to the change
    browser.wait_for_url("label=blue").await;
    browser.tab_to("Next").await;
    browser.keys(&char::from(ENTER).to_string()).await;
    browser.wait_for_url("after=").await;
    browser.wait_for_text("Previous").await;
    browser.screenshot("images-page-2").await;
    browser.wait_for_text("staging node 60").await;
    let second = browser.body_text().await;
    assert!(!second.contains("staging node 50") && !second.contains("bug-repro-4711"), "{second}");
    browser.tab_to("Previous").await;
    browser.keys(&char::from(ENTER).to_string()).await;
    browser.wait_for_url("before=").await;
    browser.wait_for_text("staging node 01").await;

    // The public catalog tab.
    b.goto(&app.url("/images?scope=public")).await.unwrap();
    browser.wait_for_text("Search for public machine images").await;
    browser.screenshot("images-public-empty").await;
    b.goto(&app.url("/images?scope=public&q=ubuntu")).await.unwrap();
    browser.wait_for_text("ubuntu-xenial").await;
    browser.screenshot("images-public-search").await;
    b.goto(&app.url("/jobs")).await.unwrap();
    browser.wait_for_text("Provider Jobs").await;
    browser.screenshot("jobs").await;
    b.clone().close().await.unwrap();
}

#[actix_web::test]
async fn browser_error_pages_and_empty_states_look_finished() {
    let app = TestApp::spawn().await;
    let browser = Browser::start().await;
    let b = &browser.client;
    b.goto(&app.url("/login")).await.unwrap();
    b.find(Locator::Id("email")).await.unwrap().send_keys("viewer@acme.test").await.unwrap();
    b.find(Locator::Id("password")).await.unwrap().send_keys("wrong").await.unwrap();
    b.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("Wrong email or password.").await;
    browser.screenshot("login-error").await;
    b.find(Locator::Id("password")).await.unwrap().send_keys("demo-password-1").await.unwrap();
    b.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("web-frontend-2026.11").await;
    b.goto(&app.url("/images?scope=shared")).await.unwrap();
    browser.wait_for_text("Nothing has been shared").await;
    browser.screenshot("images-shared-empty").await;
    b.goto(&app.url("/images?scope=bogus")).await.unwrap();
    browser.wait_for_text("use one of").await;
    browser.screenshot("error-400").await;
    b.clone().close().await.unwrap();
}

#[actix_web::test]
async fn browser_rename_in_place_with_the_keyboard() {
    let app = TestApp::spawn().await;
    let browser = Browser::start().await;
    let b = &browser.client;
    b.goto(&app.url("/login")).await.unwrap();
    browser.keys("configurator@acme.test").await;
    browser.keys(&char::from(Key::Tab).to_string()).await;
    browser.keys("demo-password-1").await;
    browser.keys(&char::from(ENTER).to_string()).await;
    browser.wait_for_text("batch-worker").await;

    // Enter on the name opens the inline editor, focused.
    browser.tab_to("batch-worker").await;
    browser.keys(&char::from(ENTER).to_string()).await;
    let input = b.wait().for_element(Locator::Css("form.rename-form input[name=name]")).await.unwrap();
    browser.screenshot("rename-editing").await;
    input.clear().await.unwrap();
    input.send_keys("nightly-batch").await.unwrap();
    input.send_keys(&char::from(ENTER).to_string()).await.unwrap();
    browser.wait_for_text("Renamed to “nightly-batch”").await;
    browser.screenshot("rename-done").await;
    assert!(b.find(Locator::Css("form.rename-form")).await.is_err(), "the editor closed");

    // Focus is back on the renamed name; Escape cancels and keeps the name.
    let focused = b.active_element().await.unwrap().text().await.unwrap();
    assert_eq!(focused, "nightly-batch");
    browser.keys(&char::from(ENTER).to_string()).await;
    let input = b.wait().for_element(Locator::Css("form.rename-form input[name=name]")).await.unwrap();
    input.send_keys("-oops").await.unwrap();
    input.send_keys(&char::from(Key::Escape).to_string()).await.unwrap();
    for _ in 0..50 {
        if b.find(Locator::Css("form.rename-form")).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(b.find(Locator::Css("form.rename-form")).await.is_err(), "Escape closed the editor");
    assert!(!browser.body_text().await.contains("nightly-batch-oops"));

    // A name too long is refused at the field.
    b.find(Locator::LinkText("nightly-batch")).await.unwrap().click().await.unwrap();
    let input = b.wait().for_element(Locator::Css("form.rename-form input[name=name]")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(&"x".repeat(260)).await.unwrap();
    input.send_keys(&char::from(ENTER).to_string()).await.unwrap();
    browser.wait_for_text("A name has at most 255 characters.").await;
    browser.screenshot("rename-error").await;
    // Its message wraps in the name's column: at 1280 px the table still fits, actions and all.
    b.set_window_size(1280, 900).await.unwrap();
    let fits = "const t = document.querySelector('.table-wrap'); return t.scrollWidth <= t.clientWidth";
    assert!(browser.script_bool(fits).await, "the message does not widen the table");
    b.clone().close().await.unwrap();
}

#[actix_web::test]
async fn browser_relabel_from_the_picker_with_the_keyboard() {
    let app = TestApp::spawn().await;
    let browser = Browser::start().await;
    let b = &browser.client;
    b.goto(&app.url("/login")).await.unwrap();
    browser.keys("admin@acme.test").await;
    browser.keys(&char::from(Key::Tab).to_string()).await;
    browser.keys("demo-password-1").await;
    browser.keys(&char::from(ENTER).to_string()).await;
    browser.wait_for_text("batch-worker").await;

    browser.tab_to("Label: Star").await;
    browser.keys(&char::from(ENTER).to_string()).await;
    b.wait().for_element(Locator::Css(".label-choices button[value=red]")).await.unwrap();
    browser.screenshot("label-picker").await;
    browser.tab_to("Red").await;
    browser.keys(&char::from(ENTER).to_string()).await;
    browser.wait_for_text("Label set to Red").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(browser.focused_label().await, "Label: Red. Change the label", "focus stays on the row's label");
    let label = b.find(Locator::Css("tr:has(a[title^='Rename batch-worker']) .label-swatch")).await.unwrap();
    assert_eq!(label.attr("class").await.unwrap().as_deref(), Some("label-swatch label-red"));
    browser.screenshot("label-set").await;
    b.clone().close().await.unwrap();
}

#[actix_web::test]
async fn browser_a_stale_label_choice_shows_the_row_as_it_is_and_the_next_choice_works() {
    let app = TestApp::spawn().await;
    let browser = Browser::start().await;
    let b = &browser.client;
    browser.sign_in(&app, "admin@acme.test").await;
    browser.tab_to("Label: Star").await;
    browser.keys(&char::from(ENTER).to_string()).await;
    b.wait().for_element(Locator::Css(".label-choices button[value=red]")).await.unwrap();

    // Someone else sets the label meanwhile.
    let mut conn = app.db().await;
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(
            "UPDATE image_records SET label = 'blue', version = version + 1 WHERE name = 'batch-worker' \
             AND account_id = (SELECT id FROM accounts WHERE name = 'Acme Production')",
        ),
        &mut conn,
    )
    .await
    .unwrap();
    browser.tab_to("Red").await;
    browser.keys(&char::from(ENTER).to_string()).await;
    browser.wait_for_text("its label is now “Blue”. Choose again.").await;
    let swatch = "tr:has(a[title^='Rename batch-worker']) .label-swatch";
    let label = b.find(Locator::Css(swatch)).await.unwrap();
    assert_eq!(label.attr("class").await.unwrap().as_deref(), Some("label-swatch label-blue"), "the row as it is");
    browser.screenshot("label-stale").await;

    // The picker opens with the current version: the next choice is taken.
    let row = "tr:has(a[title^='Rename batch-worker'])";
    b.find(Locator::Css(&format!("{row} a.label-button[title^='Label: Blue']"))).await.unwrap().click().await.unwrap();
    let green = format!("{row} .label-choices button[value=green]");
    b.wait().for_element(Locator::Css(&green)).await.unwrap().click().await.unwrap();
    browser.wait_for_text("Label set to Green").await;
    let label = b.find(Locator::Css(swatch)).await.unwrap();
    assert_eq!(label.attr("class").await.unwrap().as_deref(), Some("label-swatch label-green"));
    b.clone().close().await.unwrap();
}

impl Browser {
    pub(crate) async fn sign_in(&self, app: &TestApp, email: &str) {
        self.client.goto(&app.url("/login")).await.unwrap();
        self.keys(email).await;
        self.keys(&char::from(Key::Tab).to_string()).await;
        self.keys("demo-password-1").await;
        self.keys(&char::from(ENTER).to_string()).await;
        self.wait_for_text("batch-worker").await;
    }

    pub(crate) async fn script_bool(&self, script: &str) -> bool {
        self.client.execute(script, vec![]).await.unwrap().as_bool().unwrap_or(false)
    }

    /// Waits until no dialog is open.
    pub(crate) async fn wait_dialog_closed(&self) {
        for _ in 0..50 {
            if !self.script_bool("return !!document.querySelector('dialog[open]')").await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the dialog stayed open");
    }

    async fn focused_label(&self) -> String {
        let active = self.client.active_element().await.unwrap();
        // As an accessible name: aria-label, else the text, else the title.
        let label = active.attr("aria-label").await.ok().flatten().unwrap_or_default();
        let text = if label.is_empty() { active.text().await.unwrap_or_default() } else { label };
        if text.trim().is_empty() { active.attr("title").await.ok().flatten().unwrap_or_default() } else { text }
    }

    /// Clicks an item of a row's actions menu.
    pub(crate) async fn row_action(&self, image: &str, action: &str) {
        let row = format!("tr:has(a[title^='Rename {image}'])");
        self.client.find(Locator::Css(&format!("{row} .actions-button"))).await.unwrap().click().await.unwrap();
        let item = format!("{row} [role=menuitem][href$='/{action}']");
        self.client.wait().for_element(Locator::Css(&item)).await.unwrap().click().await.unwrap();
        self.client.wait().for_element(Locator::Css("dialog[open]")).await.unwrap();
    }
}

#[actix_web::test]
async fn browser_deprecate_and_undeprecate_from_the_actions_menu_with_the_keyboard() {
    let app = TestApp::spawn().await;
    let browser = Browser::start().await;
    let b = &browser.client;
    browser.sign_in(&app, "admin@acme.test").await;
    let down = char::from(Key::Down).to_string();
    let enter = char::from(ENTER).to_string();

    // Enter opens the menu, arrows move in it, Enter opens the dialog.
    browser.tab_to("Actions for batch-worker").await;
    browser.open_menu().await;
    browser.keys(&down).await;
    assert_eq!(browser.focused_label().await, "Launch…");
    browser.keys(&down).await;
    assert_eq!(browser.focused_label().await, "Deprecate…");
    browser.screenshot("actions-menu").await;
    browser.keys(&enter).await;
    b.wait().for_element(Locator::Css("dialog[open]")).await.unwrap();
    assert!(browser.body_text().await.contains("Are you sure you want to deprecate batch-worker?"));
    assert_eq!(browser.focused_label().await, "Deprecate", "focus starts on the primary button");
    browser.screenshot("deprecate-dialog").await;

    // Focus stays in the dialog; Escape closes it and focus returns to the menu button.
    for _ in 0..5 {
        browser.keys(&char::from(Key::Tab).to_string()).await;
        assert!(
            browser.script_bool("return !!document.activeElement.closest('dialog')").await,
            "focus left the dialog"
        );
    }
    browser.keys(&char::from(Key::Escape).to_string()).await;
    browser.wait_dialog_closed().await;
    assert_eq!(browser.focused_label().await, "Actions for batch-worker");
    assert!(!browser.script_bool("return !!document.querySelector('del')?.textContent.includes('batch-worker')").await);

    // Again, and confirm.
    browser.open_menu().await;
    browser.keys(&down).await;
    browser.keys(&down).await;
    browser.keys(&enter).await;
    b.wait().for_element(Locator::Css("dialog[open]")).await.unwrap();
    browser.keys(&enter).await;
    browser.wait_for_text("Deprecated “batch-worker”").await;
    browser.wait_dialog_closed().await;
    let struck = b.find(Locator::Css("tr:has(a[title^='Rename batch-worker']) del")).await.unwrap();
    assert_eq!(struck.text().await.unwrap(), "batch-worker");
    browser.screenshot("deprecated").await;

    // Undeprecate posts straight from the menu.
    browser.tab_to("Actions for batch-worker").await;
    browser.open_menu().await;
    browser.keys(&down).await;
    browser.keys(&down).await;
    assert_eq!(browser.focused_label().await, "Undeprecate");
    browser.keys(&enter).await;
    browser.wait_for_text("“batch-worker” is no longer deprecated").await;
    assert!(b.find(Locator::Css("tr:has(a[title^='Rename batch-worker']) del")).await.is_err());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(browser.focused_label().await, "Actions for batch-worker", "focus stays on the row's menu button");
    b.clone().close().await.unwrap();
}

#[actix_web::test]
async fn browser_delete_and_sharing_dialogs_with_the_mouse() {
    let app = TestApp::spawn().await;
    let browser = Browser::start().await;
    let b = &browser.client;
    browser.sign_in(&app, "admin@acme.test").await;

    // A running server keeps its image: the dialog only explains.
    browser.row_action("ubuntu/images", "delete").await;
    assert!(browser.body_text().await.contains("Terminate it first."));
    browser.screenshot("delete-refused").await;
    b.find(Locator::Css("dialog[open] [data-close]")).await.unwrap().click().await.unwrap();
    browser.wait_dialog_closed().await;

    browser.row_action("edge-cache-arm", "delete").await;
    assert!(browser.body_text().await.contains("Are you sure you want to delete edge-cache-arm?"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(browser.focused_label().await, "Cancel", "a stray Enter must not delete");
    browser.screenshot("delete-confirm").await;
    b.find(Locator::Css("dialog[open] button.danger")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("Moved “edge-cache-arm” to the recycle bin").await;
    browser.wait_dialog_closed().await;
    assert!(b.find(Locator::Css("tr:has(a[title^='Rename edge-cache-arm'])")).await.is_err(), "the row is gone");
    browser.screenshot("deleted").await;

    // A second one, so that the bin holds two.
    browser.row_action("postgres-15-primary", "delete").await;
    b.find(Locator::Css("dialog[open] button.danger")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("Moved “postgres-15-primary” to the recycle bin").await;
    browser.wait_dialog_closed().await;

    // They wait in the recycle bin, and come back from there as they were.
    b.goto(&app.url("/images?scope=bin")).await.unwrap();
    let binned = |name: &str| format!("tr:has(span.name[title='{name}'])");
    b.wait().for_element(Locator::Css(&binned("edge-cache-arm"))).await.unwrap();
    assert!(browser.body_text().await.contains("Alex Morgan"), "who deleted it");
    browser.screenshot("recycle-bin").await;
    let restore = async |name: &str| {
        let row = binned(name);
        b.find(Locator::Css(&format!("{row} summary.actions-button"))).await.unwrap().click().await.unwrap();
        b.wait()
            .for_element(Locator::Css(&format!("{row} button[role=menuitem]")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        browser.wait_for_text(&format!("Restored “{name}”")).await;
        assert!(b.find(Locator::Css(&row)).await.is_err(), "{name} left the bin");
    };
    restore("edge-cache-arm").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(browser.focused_label().await, "Actions for postgres-15-primary", "focus on the row that is left");
    // The last one: the bin says it is empty, rather than show an empty table.
    restore("postgres-15-primary").await;
    browser.wait_for_text("The recycle bin of Acme Production is empty").await;
    browser.screenshot("recycle-bin-emptied").await;
    b.goto(&app.url("/images")).await.unwrap();
    b.wait().for_element(Locator::Css("tr:has(a[title^='Rename edge-cache-arm'])")).await.unwrap();

    // Someone else puts the image in the recycle bin while its dialog is
    // open: the refusal shows in the dialog, not behind it.
    browser.row_action("api-server-base", "sharing").await;
    let (id, version) =
        crate::image_actions::record(&mut app.db().await, app.demo.acme_production, "api-server-base").await.unwrap();
    let mut other = app.signed_in("admin@acme.test").await;
    let binned = other.post_htmx(&format!("/images/{id}/delete"), &[("version", &version.to_string())]).await;
    assert_eq!(binned.status, reqwest::StatusCode::OK);
    b.find(Locator::Css("dialog[open] button.primary")).await.unwrap().click().await.unwrap();
    let said = b.wait().for_element(Locator::Css("dialog[open] .dialog-alert [role=alert]")).await.unwrap();
    assert!(said.text().await.unwrap().contains("is in the recycle bin: restore it first"), "in the dialog");
    assert!(browser.script_bool("return document.getElementById('flash').children.length === 0").await);
    browser.screenshot("dialog-refused").await;
    b.set_window_size(1920, 1080).await.unwrap();
    browser.screenshot("dialog-refused-1920").await;
    b.set_window_size(1400, 900).await.unwrap();
    b.find(Locator::Css("dialog[open] [data-close]")).await.unwrap().click().await.unwrap();
    browser.wait_dialog_closed().await;

    browser.row_action("batch-worker", "sharing").await;
    assert!(browser.body_text().await.contains("batch-worker: Sharing"));
    browser.screenshot("sharing-dialog").await;
    b.find(Locator::Css("dialog[open] input[name=account_ids]")).await.unwrap().click().await.unwrap();
    b.find(Locator::Css("dialog[open] button.primary")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("“batch-worker”: shared with Acme Staging").await;
    browser.wait_dialog_closed().await;
    let shared = crate::harness::count(
        &mut app.db().await,
        &format!("SELECT count(*) AS n FROM image_records WHERE account_id = {} AND name = 'batch-worker' AND source = 'shared'", app.demo.acme_staging),
    )
    .await;
    assert_eq!(shared, 1);
    browser.screenshot("shared").await;
    b.clone().close().await.unwrap();
}

/// Job workers of the test's own, so servers make progress while the
/// browser watches.
async fn start_workers(app: &TestApp) {
    let mut conn = app.db().await;
    for kind in ["sync_products", "sync_zones", "sync_firewalls", "sync_key_pairs"] {
        for account in [app.demo.acme_production, app.demo.acme_staging] {
            stratus_console::db::jobs::enqueue_sync(&mut conn, account, kind, 3).await.unwrap();
        }
    }
    let settings = stratus_console::jobs::JobSettings {
        workers: 2,
        poll: Duration::from_millis(100),
        provider_endpoint: Some(crate::cloud::endpoint()),
        call_timeout: crate::harness::BUSY_CALL_TIMEOUT,
        ..stratus_console::jobs::JobSettings::default()
    };
    let pool = stratus_console::db::pool(&app.database_url, 3).unwrap();
    let runner = stratus_console::jobs::Runner::new(pool.clone(), settings);
    while runner.run_next("browser-test").await.unwrap() {}
    runner.start();
}

impl Browser {
    /// Waits until `selector` matches, reloading the page between looks.
    async fn wait_reloading(&self, selector: &str) {
        for _ in 0..60 {
            if self.client.find(Locator::Css(selector)).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            self.client.refresh().await.unwrap();
        }
        panic!("never found {selector}: {}", self.body_text().await);
    }

    async fn fill(&self, selector: &str, value: &str) {
        let field = self.client.find(Locator::Css(selector)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    pub(crate) async fn click(&self, selector: &str) {
        self.client.wait().for_element(Locator::Css(selector)).await.unwrap().click().await.unwrap();
    }

    /// Clicks the launch dialog's tab `slug` and waits for the server's
    /// answer (the tab, or the one left with its problems).
    pub(crate) async fn choose_tab(&self, slug: &str) {
        self.mark_launch_form().await;
        self.click(&format!("#tab-{slug}")).await;
        self.wait_launch_form_answered().await;
    }

    /// Marks the launch form shown, so that its answer can be told apart.
    pub(crate) async fn mark_launch_form(&self) {
        assert!(
            self.script_bool(
                "document.querySelector('dialog[open] form.launch-form').dataset.asked = 'yes'; return true"
            )
            .await
        );
    }

    /// Waits until the marked launch form was answered and focus is in the new one.
    pub(crate) async fn wait_launch_form_answered(&self) {
        let answered = "const form = document.querySelector('dialog[open] form.launch-form'); \
            return !!form && !form.dataset.asked && form.contains(document.activeElement)";
        for _ in 0..100 {
            if self.script_bool(answered).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the launch form was not answered: {}", self.body_text().await);
    }
}

#[actix_web::test]
async fn browser_the_seed_workflow_launch_a_public_image_make_an_image_and_launch_from_it() {
    let app = TestApp::spawn().await;
    start_workers(&app).await;
    let browser = Browser::start().await;
    let b = &browser.client;
    browser.sign_in(&app, "admin@acme.test").await;

    // A provided (public) image: launch it with a new key pair and a RAID 0 volume group.
    b.goto(&app.url("/images?scope=public&q=ubuntu")).await.unwrap();
    b.wait().for_element(Locator::Css(".badge-provided")).await.unwrap();
    browser.screenshot("public-catalog").await;
    browser.click("a.launch-button").await;
    b.wait().for_element(Locator::Css("dialog[open] form.launch-form")).await.unwrap();
    assert!(browser.body_text().await.contains("A provided image."), "the first offered is a provided one");
    browser.fill("#launch-name", "seed-web").await;
    browser.screenshot("launch-general").await;

    browser.choose_tab("key-pair").await;
    browser.click("input[name=key_choice][value=new]").await;
    browser.fill("#launch-new-key", "seed-key").await;
    browser.click("#launch-keys button[hx-post]").await;
    browser.wait_for_text("Key pair seed-key was created and is selected").await;
    browser.screenshot("launch-key-pair").await;

    browser.choose_tab("volumes").await;
    browser.click("input[name=volumes][value=group]").await;
    browser.fill("#launch-volume-count", "2").await;
    b.find(Locator::Css("#launch-raid")).await.unwrap().select_by_value("0").await.unwrap();
    browser.fill("#launch-mount", "/srv/data").await;
    browser.screenshot("launch-volumes").await;

    browser.choose_tab("config").await;
    b.find(Locator::Css("#launch-config-type")).await.unwrap().select_by_value("script").await.unwrap();
    browser.fill("#launch-script", "#!/bin/sh\necho seeded > /etc/motd").await;
    browser.screenshot("launch-config").await;

    browser.click("form.launch-form button[value=launch]").await;
    browser.wait_for_text("Launching 1 server").await;
    browser.wait_dialog_closed().await;

    // The server reaches ready while the page watches.
    b.goto(&app.url("/servers")).await.unwrap();
    for _ in 0..100 {
        let text = browser.body_text().await;
        if text.lines().any(|l| l.contains("seed-web") && l.contains("ready")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let text = browser.body_text().await;
    assert!(text.lines().any(|l| l.contains("seed-web") && l.contains("ready")), "{text}");
    browser.screenshot("servers").await;

    // Make an image of it, then launch from that image.
    let rows = b.find_all(Locator::Css("tbody tr")).await.unwrap();
    let mut opened = false;
    for row in rows {
        if row.text().await.unwrap_or_default().contains("seed-web") {
            row.find(Locator::Css("summary.actions-button")).await.unwrap().click().await.unwrap();
            row.find(Locator::Css("a[href$='/image']")).await.unwrap().click().await.unwrap();
            opened = true;
            break;
        }
    }
    assert!(opened, "seed-web has a Make Image action");
    b.wait().for_element(Locator::Css("dialog[open] #image-name")).await.unwrap();
    browser.fill("#image-name", "seed-web-golden").await;
    browser.screenshot("make-image").await;
    browser.click("dialog[open] button.primary").await;
    browser.wait_for_text("Making image “seed-web-golden”").await;

    b.goto(&app.url("/images")).await.unwrap();
    // Listed while the provider makes it; launchable once it is made.
    browser.wait_reloading("tr:has(a[title^='Rename seed-web-golden']):not(:has(.state-pending))").await;
    browser.row_action("seed-web-golden", "launch").await;
    browser.fill("#launch-name", "from-golden").await;
    browser.click("form.launch-form button[value=launch]").await;
    browser.wait_for_text("Launching 1 server").await;
    b.goto(&app.url("/servers")).await.unwrap();
    browser.wait_for_text("from-golden").await;
    browser.screenshot("servers-after").await;
    b.clone().close().await.unwrap();
}

#[actix_web::test]
async fn browser_launch_dialog_with_the_keyboard_alone() {
    let app = TestApp::spawn().await;
    start_workers(&app).await;
    let browser = Browser::start().await;
    let b = &browser.client;
    browser.sign_in(&app, "admin@acme.test").await;
    let (down, enter) = (char::from(Key::Down).to_string(), char::from(ENTER).to_string());

    browser.tab_to("Actions for batch-worker").await;
    browser.open_menu().await;
    browser.keys(&down).await;
    assert_eq!(browser.focused_label().await, "Launch…");
    browser.keys(&enter).await;
    b.wait().for_element(Locator::Css("dialog[open] form.launch-form")).await.unwrap();
    let focused = b.active_element().await.unwrap();
    assert_eq!(focused.attr("id").await.unwrap().as_deref(), Some("launch-name"), "focus starts in the first field");

    // Arrow keys move the focus along the tabs, Enter shows the tab focused;
    // focus stays in the dialog.
    browser.choose_tab("general").await;
    browser.keys(&char::from(Key::Right).to_string()).await;
    assert_eq!(browser.focused_label().await, "Key Pair");
    assert!(browser.script_bool("return document.getElementById('panel-key-pair').hidden").await, "not shown yet");
    browser.mark_launch_form().await;
    browser.keys(&enter).await;
    browser.wait_launch_form_answered().await;
    assert_eq!(browser.focused_label().await, "Key Pair");
    assert!(browser.script_bool("return !document.getElementById('panel-key-pair').hidden").await);
    browser.keys(&char::from(Key::Right).to_string()).await;
    browser.keys(&char::from(Key::Right).to_string()).await;
    assert_eq!(browser.focused_label().await, "Configuration Management");
    browser.keys(&char::from(Key::Left).to_string()).await;
    assert_eq!(browser.focused_label().await, "Volume Configuration");
    for _ in 0..30 {
        browser.keys(&char::from(Key::Tab).to_string()).await;
        assert!(
            browser.script_bool("return !!document.activeElement.closest('dialog')").await,
            "focus left the dialog"
        );
    }

    // Prev and Next follow the tab; the fields of a choice not taken stay hidden.
    let shown = |selector: &str| format!("return document.querySelector({selector:?}).offsetParent !== null");
    for (tab, prev, next) in [("general", false, true), ("key-pair", true, true), ("config", true, false)] {
        browser.choose_tab(tab).await;
        assert_eq!(browser.script_bool(&shown(".modal-foot [value=prev]")).await, prev, "Prev on {tab}");
        assert_eq!(browser.script_bool(&shown(".modal-foot [value=next]")).await, next, "Next on {tab}");
    }
    // Next and Previous ask the server for the next tab: focus goes to it.
    browser.choose_tab("general").await;
    for (step, tab) in [("next", "Key Pair"), ("next", "Volume Configuration"), ("prev", "Key Pair")] {
        b.find(Locator::Css(&format!(".modal-foot [value={step}]"))).await.unwrap().click().await.unwrap();
        let since = std::time::Instant::now();
        while browser.focused_label().await != tab {
            assert!(since.elapsed() < std::time::Duration::from_secs(10), "{step}: focus on {tab}, not on the page");
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    browser.choose_tab("config").await;
    b.find(Locator::Css("#launch-config-type")).await.unwrap().select_by_value("script").await.unwrap();
    assert!(browser.script_bool(&shown("#launch-script")).await, "the script's field shows");
    assert!(!browser.script_bool(&shown("[data-when*=chef]")).await, "Chef's fields hide for a script");
    b.find(Locator::Css("#launch-config-type")).await.unwrap().select_by_value("none").await.unwrap();
    browser.choose_tab("volumes").await;
    // The panel's choices are applied as it shows; on a loaded machine that
    // can follow the click by a moment.
    let since = std::time::Instant::now();
    while browser.script_bool(&shown("[data-when='volumes=group']")).await {
        assert!(since.elapsed() < std::time::Duration::from_secs(5), "no volume group, no fields");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // A bad count: Launch Server shows the error at the field, on its tab.
    browser.choose_tab("general").await;
    browser.fill("#launch-count", "21").await;
    b.find(Locator::Css("form.launch-form button[value=launch]")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("Launch from 1 to 20 servers at a time.").await;
    assert!(b.find(Locator::Css("#tab-general.invalid")).await.is_ok(), "the tab is marked");
    browser.screenshot("launch-error").await;

    // Escape closes the dialog and gives the focus back to the row.
    browser.keys(&char::from(Key::Escape).to_string()).await;
    browser.wait_dialog_closed().await;
    assert_eq!(browser.focused_label().await, "Actions for batch-worker");
    assert_eq!(
        crate::harness::count(&mut app.db().await, "SELECT count(*) AS n FROM servers WHERE name LIKE 'batch%'").await,
        0
    );
    b.clone().close().await.unwrap();
}

/// The id of a row named by `sql` (a query returning `id`).
pub(crate) async fn id_of(app: &TestApp, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    use diesel_async::RunQueryDsl as _;
    diesel::sql_query(sql).get_result::<Id>(&mut app.db().await).await.unwrap().id
}

impl Browser {
    /// Opens the dialog of a row's action on an administration page.
    async fn admin_action(&self, row: &str, action: &str) {
        self.click(&format!("#{row} summary.actions-button")).await;
        self.click(&format!("#{row} [role=menuitem][href$='/{action}']")).await;
        self.client.wait().for_element(Locator::Css("dialog[open]")).await.unwrap();
    }
}

#[actix_web::test]
async fn browser_admin_dialogs_set_role_deactivate_reset_password_and_replace_a_budget_code() {
    let app = TestApp::spawn().await;
    let browser = Browser::start().await;
    let b = &browser.client;
    browser.sign_in(&app, "admin@acme.test").await;

    // Groups: Support gets CloudManager in this account.
    let support = id_of(&app, "SELECT id FROM groups WHERE name = 'Support'").await;
    let manager_role = id_of(&app, "SELECT r.id FROM roles r JOIN companies c ON c.id = r.company_id WHERE c.name = 'Acme' AND r.name = 'CloudManager'").await;
    b.goto(&app.url("/admin/groups")).await.unwrap();
    browser.admin_action(&format!("group-{support}"), "role").await;
    b.find(Locator::Css("#group-role")).await.unwrap().select_by_value(&manager_role.to_string()).await.unwrap();
    browser.screenshot("admin-groups-role").await;
    browser.click("dialog[open] button.primary").await;
    browser.wait_dialog_closed().await;
    let set = id_of(
        &app,
        &format!(
            "SELECT role_id AS id FROM group_roles WHERE group_id = {support} AND account_id = {}",
            app.demo.acme_production
        ),
    )
    .await;
    assert_eq!(set, manager_role);

    // Users: reset the configurator's password (shown once), deactivate the viewer.
    let configurator = id_of(&app, "SELECT id FROM users WHERE email = 'configurator@acme.test'").await;
    b.goto(&app.url("/admin/users")).await.unwrap();
    browser.admin_action(&format!("user-{configurator}"), "password").await;
    browser.click("dialog[open] button[type=submit]").await;
    b.wait().for_element(Locator::Css("dialog[open] code.secret")).await.unwrap();
    browser.screenshot("admin-users-password").await;
    browser.click("dialog[open] [data-close]").await;
    browser.wait_dialog_closed().await;

    let viewer = id_of(&app, "SELECT id FROM users WHERE email = 'viewer@acme.test'").await;
    browser.admin_action(&format!("user-{viewer}"), "deactivate").await;
    browser.screenshot("admin-users-deactivate").await;
    browser.click("dialog[open] button[type=submit]").await;
    browser.wait_dialog_closed().await;
    let inactive =
        id_of(&app, &format!("SELECT count(*) AS id FROM users WHERE id = {viewer} AND status = 'inactive'")).await;
    assert_eq!(inactive, 1);

    // Budget codes: Operations is replaced by Default.
    let operations = id_of(&app, "SELECT id FROM budget_codes WHERE name = 'Operations'").await;
    let default = id_of(&app, "SELECT b.id FROM budget_codes b JOIN companies c ON c.id = b.company_id WHERE c.name = 'Acme' AND b.name = 'Default'").await;
    b.goto(&app.url("/admin/budget-codes")).await.unwrap();
    browser.admin_action(&format!("budget-code-{operations}"), "deactivate").await;
    b.find(Locator::Css("#replacement-id")).await.unwrap().select_by_value(&default.to_string()).await.unwrap();
    browser.screenshot("admin-budget-deactivate").await;
    browser.click("dialog[open] button.danger").await;
    browser.wait_dialog_closed().await;
    let moved =
        id_of(&app, &format!("SELECT count(*) AS id FROM image_records WHERE budget_code_id = {operations}")).await;
    assert_eq!(moved, 0, "everything billed to Operations moved");
    let status = id_of(
        &app,
        &format!("SELECT count(*) AS id FROM budget_codes WHERE id = {operations} AND status = 'inactive'"),
    )
    .await;
    assert_eq!(status, 1);
    browser.screenshot("admin-budget-codes-after").await;
    b.clone().close().await.unwrap();
}

#[actix_web::test]
async fn browser_onboarding_from_an_empty_console_to_a_first_launch() {
    use stratus_console::cloud::CloudProvider as _;
    let app = TestApp::empty().await;
    let number = crate::cloud::fresh_account();
    // The company's account already holds an image of its own.
    let ec2 =
        stratus_console::cloud::ec2::Ec2Provider::connect(&crate::cloud::connection(&number, crate::cloud::endpoint()))
            .await
            .unwrap();
    let public = ec2.list_public_images().await.unwrap();
    let base =
        public.iter().find(|i| i.public && !i.windows && i.architecture == "x86_64").expect("a public Linux image");
    let builder = ec2.run_instance(&crate::cloud::run(&base.id, "onboarding-builder")).await.unwrap();
    ec2.create_image(&builder.id, "initech-web-1", "our web server").await.unwrap();

    let browser = Browser::start().await;
    let b = &browser.client;
    b.goto(&app.url("/images")).await.unwrap();
    browser.wait_for_url("/setup").await;
    b.goto(app.setup_link.as_deref().expect("a set-up link")).await.unwrap();
    browser.fill("#setup-company", "Initech").await;
    browser.fill("#setup-given-name", "Peter").await;
    browser.fill("#setup-family-name", "Gibbons").await;
    browser.fill("#setup-email", "peter@initech.test").await;
    browser.fill("#setup-password", "tangerine-kettle-49").await;
    browser.screenshot("setup").await;
    browser.click("form.setup-card button[type=submit]").await;
    browser.wait_for_text("Connect your first cloud account").await;
    browser.screenshot("accounts-first").await;

    browser.fill("#account-name", "Production").await;
    browser.click("input[name=regions][value=us-east-1]").await;
    browser.fill("#account-role-arn", &stratus_console::demo::role_arn(&number)).await;
    browser.click("button[name=test_only]").await;
    browser.wait_for_text(&format!("The connection works: provider account {number}")).await;
    browser.screenshot("accounts-tested").await;
    // The form kept what was tested (never a secret): connect it.
    browser.click(".connect-form button.primary").await;
    browser.wait_for_text("Connected Production.").await;
    browser.screenshot("accounts-connected").await;

    // Its images, catalog, sizes and zones arrive; the first launch follows.
    app.run_jobs().await;
    b.goto(&app.url("/images")).await.unwrap();
    browser.wait_for_text("initech-web-1").await;
    browser.screenshot("onboarded-images").await;
    b.goto(&app.url(&format!("/images?scope=public&q={}", base.name))).await.unwrap();
    browser.click("a.launch-button").await;
    b.wait().for_element(Locator::Css("dialog[open] form.launch-form")).await.unwrap();
    browser.fill("#launch-name", "first-web").await;
    browser.click("form.launch-form button[value=launch]").await;
    browser.wait_for_text("Launching 1 server").await;
    app.run_jobs().await;
    b.goto(&app.url("/servers")).await.unwrap();
    browser.wait_for_text("first-web").await;
    browser.screenshot("onboarded-servers").await;
    b.clone().close().await.unwrap();
}

#[actix_web::test]
async fn browser_bulk_selection_the_image_page_and_the_schedule_dialog() {
    let app = TestApp::spawn().await;
    let production = app.demo.acme_production;
    let record =
        |name: &str| format!("SELECT id FROM image_records WHERE name = '{name}' AND account_id = {production}");
    let batch = id_of(&app, &record("batch-worker")).await;
    let edge = id_of(&app, &record("edge-cache-arm")).await;
    let postgres = id_of(&app, &record("postgres-15-primary")).await;
    let browser = Browser::start().await;
    let b = &browser.client;
    browser.sign_in(&app, "admin@acme.test").await;

    // Tick two rows with Space, go back up to the bar and press Protect.
    let space = " ";
    browser.tab_to(&format!("image-{batch}-name")).await;
    browser.keys(space).await;
    browser.tab_to(&format!("image-{edge}-name")).await;
    browser.keys(space).await;
    browser.wait_for_text("With the images ticked (2)").await;
    browser.tab_back_to("Protect").await;
    browser.screenshot("bulk-ticked").await;
    browser.keys(&char::from(ENTER).to_string()).await;
    browser.wait_for_text("Protected 2 images").await;
    browser.screenshot("bulk-done").await;
    assert_eq!(browser.focused_label().await, "Protect", "focus is back on the button pressed");
    let protected = id_of(&app, "SELECT count(*) AS id FROM provider_images WHERE protected").await;
    assert_eq!(protected, 3, "the two, and the demo's rhel-9-sap-base");

    // Choosing a label in the bar keeps the rows ticked (it is not one of the
    // filters, which reload the list); Set label labels them.
    browser.tab_to(&format!("image-{edge}-name")).await;
    browser.keys(space).await;
    b.find(Locator::Css("#bulk-label")).await.unwrap().select_by_value("red").await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let ticked = format!("return document.querySelector('input[name=ids][value=\"{edge}\"]').checked");
    assert!(browser.script_bool(&ticked).await, "still ticked after choosing a label");
    b.find(Locator::Css("#bulk button[value=label]")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("Labelled 1 image “Red”").await;

    // The header's box ticks every row and unticks them again.
    browser.tab_to("Tick every image").await;
    browser.keys(space).await;
    let all = "return [...document.querySelectorAll('input[name=ids]')].every(b => b.checked)";
    assert!(browser.script_bool(all).await, "every row ticked");
    browser.wait_for_text("With the images ticked (10)").await;
    browser.keys(space).await;
    let none = "return [...document.querySelectorAll('input[name=ids]')].every(b => !b.checked)";
    assert!(browser.script_bool(none).await, "none ticked");

    // Delete asks first, in a dialog that names the images; one of them
    // protected, it only says so.
    let binned = "SELECT count(*) AS id FROM provider_images WHERE binned_at IS NOT NULL";
    let in_bin = id_of(&app, binned).await;
    browser.tab_to(&format!("image-{batch}-name")).await;
    browser.keys(space).await;
    b.find(Locator::Css("#bulk button.danger")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("This image cannot be deleted now.").await;
    let dialog = b.find(Locator::Css("#modal dialog[open]")).await.unwrap().text().await.unwrap();
    assert!(dialog.contains("batch-worker") && dialog.contains("protected"), "{dialog}");
    assert!(b.find(Locator::Css("#modal dialog button[type=submit]")).await.is_err(), "nothing to confirm");
    browser.screenshot("bulk-delete-refused").await;
    b.find(Locator::LinkText("Close")).await.unwrap().click().await.unwrap();
    let open = "return document.querySelector('#modal dialog[open]') !== null";
    for _ in 0..50 {
        if !browser.script_bool(open).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!browser.script_bool(open).await, "Close closes it");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(browser.focused_label().await, "Delete…", "focus is back on the button that opened it");
    assert_eq!(id_of(&app, binned).await, in_bin, "nothing deleted");

    // Untick it, tick an unprotected one: asked, then deleted to the bin.
    browser.tab_to(&format!("image-{batch}-name")).await;
    browser.keys(space).await;
    browser.tab_to(&format!("image-{postgres}-name")).await;
    browser.keys(space).await;
    b.find(Locator::Css("#bulk button.danger")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("Are you sure you want to delete this image?").await;
    browser.screenshot("bulk-delete-dialog").await;
    b.find(Locator::Css("#modal dialog button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("Deleted 1 image; it waits in the recycle bin").await;
    assert!(!browser.script_bool(open).await, "the dialog closed");
    assert_eq!(id_of(&app, binned).await, in_bin + 1, "postgres-15-primary");

    // The row's Schedule dialog: a problem comes back into it, with focus on its field.
    browser.row_action("batch-worker", "schedule").await;
    b.wait().for_element(Locator::Css("#modal dialog input[name=retire_on]")).await.unwrap();
    let today = chrono::Utc::now().date_naive();
    let bad = format!(
        "document.querySelector('dialog input[name=deprecate_on]').value = '{}'; \
         document.querySelector('dialog input[name=retire_on]').value = '{}'; return true",
        today + chrono::Duration::days(20),
        today + chrono::Duration::days(5)
    );
    browser.script_bool(&bad).await;
    b.find(Locator::Css("#modal dialog button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("Retire it on or after the day it is deprecated.").await;
    assert!(browser.script_bool("return document.activeElement.id === 'retire-on'").await, "focus on the problem");
    b.find(Locator::Css("#modal dialog a[data-close]")).await.unwrap().click().await.unwrap();

    // The image page, from the row's ID.
    b.find(Locator::Css(&format!("a[href='/images/{batch}']"))).await.unwrap().click().await.unwrap();
    browser.wait_for_text("Lineage").await;
    let page = browser.body_text().await;
    for part in ["At the provider", "In Acme Production", "Use", "Servers launched from it", "History"] {
        assert!(page.contains(part), "{part}: {page}");
    }
    assert!(page.contains("protected"), "{page}");
    browser.screenshot("image-page").await;

    // Its Schedule dialog (a page of its own here): a problem at its field, then saved.
    b.find(Locator::LinkText("Schedule…")).await.unwrap().click().await.unwrap();
    b.wait().for_element(Locator::Css("dialog input[name=retire_on]")).await.unwrap();
    let today = chrono::Utc::now().date_naive();
    let (early, late) = (today + chrono::Duration::days(10), today + chrono::Duration::days(40));
    let set = |name: &str, day: chrono::NaiveDate| {
        format!("document.querySelector('dialog input[name={name}]').value = '{day}'; return true")
    };
    browser.script_bool(&set("deprecate_on", late)).await;
    browser.script_bool(&set("retire_on", early)).await;
    b.find(Locator::Css("dialog button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("Retire it on or after the day it is deprecated.").await;
    browser.screenshot("schedule-error").await;
    assert!(browser.script_bool("return document.activeElement.id === 'retire-on'").await, "focus on the problem");
    browser.script_bool(&set("deprecate_on", early)).await;
    browser.script_bool(&set("retire_on", late)).await;
    b.find(Locator::Css("dialog button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.wait_for_text(&format!("“batch-worker” will be deprecated on {early} and retired on {late}")).await;
    // Back on the image page it was opened from, which shows the schedule.
    browser.wait_for_text(&format!("deprecate on {early}, retire on {late}")).await;
    assert!(b.current_url().await.unwrap().path().ends_with(&format!("/images/{batch}")));
    b.clone().close().await.unwrap();
}

/// A server's row that refreshes itself every 2 s keeps its actions menu open
/// while the user is in it, and refreshes again once the menu closes.
#[actix_web::test]
async fn browser_a_changing_servers_row_keeps_its_menu_open_until_it_is_closed() {
    use diesel::{ExpressionMethods as _, QueryDsl as _};
    use diesel_async::RunQueryDsl as _;
    use stratus_console::db::schema::servers;

    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let id: i64 = servers::table
        .filter(servers::account_id.eq(app.demo.acme_production))
        .filter(servers::state.eq("RUNNING"))
        .select(servers::id)
        .first(&mut conn)
        .await
        .unwrap();
    // Running but not yet ready: its row asks for itself, and offers actions.
    diesel::update(servers::table.find(id))
        .set(servers::ready_at.eq(None::<chrono::DateTime<chrono::Utc>>))
        .execute(&mut conn)
        .await
        .unwrap();
    let browser = Browser::start().await;
    let b = &browser.client;
    browser.sign_in(&app, "admin@acme.test").await;
    b.goto(&app.url("/servers")).await.unwrap();
    let row = format!("#server-{id}");
    b.find(Locator::Css(&format!("{row} summary.actions-button"))).await.unwrap().click().await.unwrap();
    b.wait().for_element(Locator::Css(&format!("{row} details.menu[open] [role=menuitem]"))).await.unwrap();
    // Marked, so that a row swapped in (its menu closed) would show.
    b.execute(&format!("document.querySelector('{row}').dataset.first = 'yes'"), vec![]).await.unwrap();

    tokio::time::sleep(Duration::from_secs(5)).await;
    let kept = format!("return !!document.querySelector('{row}[data-first] details.menu[open]')");
    assert!(browser.script_bool(&kept).await, "the menu stayed open through two refreshes");
    browser.screenshot("servers-menu-kept-open").await;

    // Closed, the row refreshes at the next tick and shows what changed.
    diesel::update(servers::table.find(id))
        .set(servers::ready_at.eq(diesel::dsl::now))
        .execute(&mut conn)
        .await
        .unwrap();
    browser.keys(&char::from(Key::Escape).to_string()).await;
    let ready = format!(
        "const r = document.querySelector('{row}'); return !!r && !r.dataset.first && r.innerText.includes('ready')"
    );
    for _ in 0..50 {
        if browser.script_bool(&ready).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the row did not refresh once its menu closed: {}", browser.body_text().await);
}
