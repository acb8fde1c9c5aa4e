//! Accessibility, judged by an independent checker: axe-core (pinned in
//! `package.json`, injected here through WebDriver, never served by the
//! console) runs on every page and every dialog, in a real Chromium, and
//! must find nothing against WCAG 2.0/2.1 A and AA.

use std::fmt::Write as _;

use fantoccini::Locator;

use crate::browser::{Browser, id_of};
use crate::harness::TestApp;

/// The rules that count: WCAG 2.0 and 2.1, levels A and AA.
const TAGS: [&str; 4] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/// axe-core's own build, as npm installed it.
fn axe_source() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (`make test` installs it)", path.display()))
}

/// What axe found wrong, one line per rule and element.
struct Audit {
    axe: String,
    found: String,
    states: usize,
}

impl Audit {
    fn new() -> Self {
        Self { axe: axe_source(), found: String::new(), states: 0 }
    }

    /// Runs axe on the page as it is now, naming it `what` in the report.
    async fn check(&mut self, browser: &Browser, what: &str) {
        let b = &browser.client;
        // A page just loaded by htmx may still be settling: let it finish.
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        b.execute(&format!("{}\n;return true;", self.axe), vec![]).await.expect("axe-core loads");
        let result = b
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { runOnly: { type: 'tag', values: arguments[0] }, resultTypes: ['violations'] })
                   .then(r => done(r.violations.map(v => ({
                       id: v.id, help: v.help,
                       nodes: v.nodes.map(n => n.target.join(' ') + ' — ' + (n.failureSummary || '').replace(/\\s+/g, ' '))
                   }))))
                   .catch(e => done([{ id: 'axe-error', help: String(e), nodes: [] }]));",
                vec![serde_json::json!(TAGS)],
            )
            .await
            .expect("axe runs");
        self.states += 1;
        for violation in result.as_array().expect("a list of violations") {
            let _ = writeln!(self.found, "{what}: {} ({})", violation["id"], violation["help"]);
            for node in violation["nodes"].as_array().into_iter().flatten().take(3) {
                let _ = writeln!(self.found, "    {}", node.as_str().unwrap_or_default());
            }
        }
    }

    /// Opens `path` as a page of its own and checks it.
    async fn page(&mut self, browser: &Browser, app: &TestApp, path: &str) {
        browser.client.goto(&app.url(path)).await.unwrap();
        browser.client.wait().for_element(Locator::Css("main, body")).await.unwrap();
        self.check(browser, path).await;
    }
}

/// A ready firewall of Acme Production with a rule in place, one being
/// added and one the provider refused: its id.
pub(crate) async fn a_firewall_with_rules(app: &TestApp) -> i64 {
    let firewall = id_of(
        app,
        &format!(
            "INSERT INTO firewalls (account_id, provider_id, name, description, active, state)
             VALUES ({}, 'sg-0a11ee5500000000a', 'web', 'HTTPS from anywhere', true, 'ACTIVE') RETURNING id",
            app.demo.acme_production
        ),
    )
    .await;
    for (protocol, port, source, state, error) in [
        ("tcp", "443", "0.0.0.0/0", "ACTIVE", "NULL"),
        ("tcp", "22", "10.0.0.0/8", "PENDING", "NULL"),
        ("-1", "NULL", "sg-0123456789abcdef0", "ERROR", "'Adding the rule failed: no such group'"),
    ] {
        id_of(
            app,
            &format!(
                "INSERT INTO firewall_rules (firewall_id, protocol, from_port, to_port, source, state, last_error)
                 VALUES ({firewall}, '{protocol}', {port}, {port}, '{source}', '{state}', {error}) RETURNING id"
            ),
        )
        .await;
    }
    firewall
}

/// Every page, and every dialog as the page it also is without JavaScript,
/// that an administrator of the demo's Acme Production can open.
pub(crate) async fn every_page(app: &TestApp) -> Vec<String> {
    let firewall = a_firewall_with_rules(app).await;
    let image = id_of(app, "SELECT id FROM image_records WHERE name = 'batch-worker' LIMIT 1").await;
    let shared = id_of(app, "SELECT id FROM image_records WHERE source = 'public_launched' LIMIT 1").await;
    let server = id_of(app, "SELECT id FROM servers ORDER BY id LIMIT 1").await;
    let user = id_of(app, "SELECT id FROM users WHERE email = 'configurator@acme.test'").await;
    let group = id_of(app, "SELECT id FROM groups WHERE name = 'Support'").await;
    let role = id_of(app, "SELECT id FROM roles WHERE name = 'CloudManager' LIMIT 1").await;
    // The default Admin role's rights dialog only shows its rights, and says why.
    let admin_role = id_of(
        app,
        "SELECT r.id FROM roles r JOIN companies c ON c.id = r.company_id WHERE r.name = 'Admin' AND c.name = 'Acme'",
    )
    .await;
    let code = id_of(app, "SELECT id FROM budget_codes ORDER BY id LIMIT 1").await;
    // An API token of the administrator's, for its Revoke dialog (the demo has none).
    let token = id_of(
        app,
        &format!(
            "INSERT INTO api_tokens (user_id, account_id, name, token_hash, access, expires_at)
             SELECT id, {}, 'image pipeline', sha256('walk'), 'write', now() + interval '30 days'
               FROM users WHERE email = 'admin@acme.test' RETURNING id",
            app.demo.acme_production
        ),
    )
    .await;
    vec![
        "/images".to_owned(),
        "/images?scope=public&q=ubuntu".to_owned(),
        "/images?scope=shared".to_owned(),
        "/images?scope=bogus".to_owned(),
        "/images?scope=bin".to_owned(),
        format!("/images/{image}"),
        format!("/images/{shared}"),
        "/no-such-page".to_owned(),
        "/servers".to_owned(),
        format!("/servers/{server}"),
        "/keypairs".to_owned(),
        "/firewalls".to_owned(),
        format!("/firewalls/{firewall}"),
        "/jobs".to_owned(),
        "/audit".to_owned(),
        "/admin/users".to_owned(),
        "/admin/groups".to_owned(),
        "/admin/roles".to_owned(),
        "/admin/budget-codes".to_owned(),
        "/admin/accounts".to_owned(),
        format!("/admin/accounts/{}", app.demo.acme_production),
        "/settings/tokens".to_owned(),
        "/api/docs".to_owned(),
        // Every dialog, as the page it also is without JavaScript.
        format!("/images/{image}/deprecate"),
        format!("/images/{image}/schedule"),
        format!("/images/{image}/delete"),
        format!("/images/{image}/delete?from=image"),
        format!("/images/{image}/sharing"),
        format!("/images/{image}/launch"),
        format!("/servers/{server}/image"),
        format!("/servers/{server}/terminate"),
        format!("/admin/users/{user}/edit"),
        format!("/admin/users/{user}/password"),
        format!("/admin/users/{user}/deactivate"),
        format!("/admin/groups/{group}/edit"),
        format!("/admin/groups/{group}/role"),
        format!("/admin/groups/{group}/delete"),
        format!("/admin/roles/{role}/edit"),
        format!("/admin/roles/{role}/rights"),
        format!("/admin/roles/{admin_role}/rights"),
        format!("/admin/roles/{role}/delete"),
        format!("/admin/budget-codes/{code}/edit"),
        format!("/admin/budget-codes/{code}/deactivate"),
        format!("/settings/tokens/{token}/revoke"),
    ]
}

#[actix_web::test]
async fn axe_finds_nothing_against_wcag_21_aa_on_any_page_or_dialog() {
    let app = TestApp::spawn().await;
    let browser = Browser::start().await;
    let b = &browser.client;
    let mut audit = Audit::new();

    // Signed out: the sign-in page, and with its error.
    audit.page(&browser, &app, "/login").await;
    b.find(Locator::Id("email")).await.unwrap().send_keys("viewer@acme.test").await.unwrap();
    b.find(Locator::Id("password")).await.unwrap().send_keys("wrong").await.unwrap();
    b.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("Wrong email or password.").await;
    audit.check(&browser, "/login with an error").await;

    // A viewer meets the 403 page.
    browser.sign_in(&app, "viewer@acme.test").await;
    audit.page(&browser, &app, "/admin/users").await;
    b.delete_all_cookies().await.unwrap();

    browser.sign_in(&app, "admin@acme.test").await;
    let pages = every_page(&app).await;
    for path in &pages {
        audit.page(&browser, &app, path).await;
    }

    // Cloud Accounts with a connect refused above its form: the group Admin's
    // role for new accounts would not let the administrator configure one.
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(
            "UPDATE groups SET role_in_new_accounts = \
               (SELECT id FROM roles r WHERE r.name = 'CSR' AND r.company_id = groups.company_id) \
             WHERE name = 'Admin'",
        ),
        &mut app.db().await,
    )
    .await
    .unwrap();
    b.goto(&app.url("/admin/accounts")).await.unwrap();
    b.execute(
        "document.getElementById('account-name').value = 'Lab';
         document.getElementById('account-role-arn').value = 'arn:aws:iam::123456789012:role/StratusConsole';
         document.querySelector('input[name=regions][value=\"us-east-1\"]').checked = true;
         document.querySelector('.connect-form form').submit();",
        vec![],
    )
    .await
    .unwrap();
    browser.wait_for_text("You would not be able to administer").await;
    audit.check(&browser, "/admin/accounts with a connect refused").await;

    // The Servers page with a refusal in its flash (a Start of a running
    // server, refused as one past the budget's hard quota is).
    let server = id_of(&app, "SELECT id FROM servers WHERE state = 'RUNNING' ORDER BY id LIMIT 1").await;
    let version = id_of(&app, &format!("SELECT version::bigint AS id FROM servers WHERE id = {server}")).await;
    b.goto(&app.url("/servers")).await.unwrap();
    b.wait().for_element(Locator::Css("main table")).await.unwrap();
    let start = format!("/servers/{server}/start");
    b.execute(
        &format!("htmx.ajax('POST', '{start}', {{source: document.body, values: {{version: '{version}'}}}})"),
        vec![],
    )
    .await
    .unwrap();
    b.wait().for_element(Locator::Css("#flash .flash-error")).await.unwrap();
    audit.check(&browser, "/servers with a refusal").await;

    // Dialogs as htmx opens them over the list: the modal, the label picker
    // open, and the launch dialog on each of its tabs.
    b.goto(&app.url("/images")).await.unwrap();
    browser.wait_for_text("batch-worker").await;
    browser.row_action("batch-worker", "deprecate").await;
    audit.check(&browser, "deprecate dialog over the list").await;
    b.find(Locator::Css("dialog[open] [data-close]")).await.unwrap().click().await.unwrap();
    browser.wait_dialog_closed().await;

    b.find(Locator::Css("tr:has(a[title^='Rename batch-worker']) .label-button")).await.unwrap().click().await.unwrap();
    b.wait().for_element(Locator::Css(".label-choices button[value=red]")).await.unwrap();
    audit.check(&browser, "label picker open").await;
    b.goto(&app.url("/images")).await.unwrap();
    browser.wait_for_text("batch-worker").await;

    browser.row_action("batch-worker", "launch").await;
    b.wait().for_element(Locator::Css("dialog[open] form.launch-form")).await.unwrap();
    let tabs = b.find_all(Locator::Css("dialog[open] [role=tab]")).await.unwrap();
    assert_eq!(tabs.len(), 4, "the launch dialog has its tabs");
    // Each tab as the server answers it (the answer replaces the form).
    for slug in ["general", "key-pair", "volumes", "config"] {
        browser.choose_tab(slug).await;
        audit.check(&browser, &format!("launch dialog, tab {slug}")).await;
    }

    // The bulk bar with a problem in it, its Delete dialog, and the bin's Delete now dialog in
    // Staging (the demo leaves an image in its bin).
    b.goto(&app.url("/images")).await.unwrap();
    browser.wait_for_text("batch-worker").await;
    b.find(Locator::Css("input[name=ids]")).await.unwrap().click().await.unwrap();
    b.find(Locator::Css("#bulk button[value=label]")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("Choose the label to set.").await;
    audit.check(&browser, "bulk bar with a problem").await;
    b.find(Locator::Css("#bulk button.danger")).await.unwrap().click().await.unwrap();
    b.wait().for_element(Locator::Css("dialog[open] ul.doomed")).await.unwrap();
    audit.check(&browser, "bulk delete dialog").await;
    b.find(Locator::Css("dialog[open] [data-close]")).await.unwrap().click().await.unwrap();
    browser.wait_dialog_closed().await;
    let staging = app.demo.acme_staging;
    b.find(Locator::Css("details.account-switcher summary")).await.unwrap().click().await.unwrap();
    let switch = format!("button[name=account_id][value='{staging}']");
    b.wait().for_element(Locator::Css(&switch)).await.unwrap().click().await.unwrap();
    browser.wait_for_text("Acme Staging").await;
    let binned = id_of(&app, "SELECT id FROM image_records WHERE name = 'load-test-runner'").await;
    audit.page(&browser, &app, &format!("/images/{binned}/purge")).await;

    b.clone().close().await.unwrap();
    assert!(audit.found.is_empty(), "axe-core found violations in {} states checked:\n{}", audit.states, audit.found);
    assert!(audit.states >= pages.len() + 10, "every page and dialog was checked");
}
