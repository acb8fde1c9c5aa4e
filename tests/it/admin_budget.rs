//! The Budget Codes page: the list with its figures, add and edit with the
//! messages at the fields, deactivation with a replacement that takes over
//! everything billed to the code in one transaction, and who may do what.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use reqwest::StatusCode;
use stratus_console::db::schema::{audit_events, budget_codes, companies, provider_images, servers};

use crate::harness::{Client, TestApp, count, text};

const PAGE: &str = "/admin/budget-codes";

async fn code_id(conn: &mut AsyncPgConnection, company: &str, name: &str) -> i64 {
    budget_codes::table
        .inner_join(companies::table.on(companies::id.eq(budget_codes::company_id)))
        .filter(companies::name.eq(company))
        .filter(budget_codes::name.eq(name))
        .select(budget_codes::id)
        .first(conn)
        .await
        .expect("a demo budget code")
}

/// `(name, finance code, soft, hard, status, version)` of a code.
async fn code_row(conn: &mut AsyncPgConnection, id: i64) -> (String, String, String, String, String, i32) {
    let (name, finance, soft, hard, status, version): (
        String,
        String,
        bigdecimal::BigDecimal,
        bigdecimal::BigDecimal,
        String,
        i32,
    ) = budget_codes::table
        .filter(budget_codes::id.eq(id))
        .select((
            budget_codes::name,
            budget_codes::finance_code,
            budget_codes::soft_quota,
            budget_codes::hard_quota,
            budget_codes::status,
            budget_codes::version,
        ))
        .first(conn)
        .await
        .unwrap();
    (name, finance, soft.to_string(), hard.to_string(), status, version)
}

fn form<'a>(name: &'a str, soft: &'a str, hard: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("finance_code", "CC-3000"),
        ("description", "Lab work"),
        ("soft_quota", soft),
        ("hard_quota", hard),
    ]
}

async fn events(conn: &mut AsyncPgConnection, action: &str, id: i64) -> Vec<serde_json::Value> {
    audit_events::table
        .filter(audit_events::resource.eq("BUDGET"))
        .filter(audit_events::action.eq(action))
        .filter(audit_events::resource_id.eq(id.to_string()))
        .select(audit_events::changes)
        .load(conn)
        .await
        .unwrap()
}

async fn admin(app: &TestApp) -> Client {
    let mut client = app.signed_in("admin@acme.test").await;
    let page = client.get(PAGE).await;
    assert_eq!(page.status, StatusCode::OK);
    client
}

#[actix_web::test]
async fn the_list_shows_every_code_of_the_company_with_money_figures_and_state_in_words() {
    let app = TestApp::spawn().await;
    let mut client = admin(&app).await;
    let page = client.get(PAGE).await;
    assert_eq!(page.status, StatusCode::OK);
    let body = text(&page.body);
    for heading in
        ["ID", "Name", "Finance Code", "Soft Quota", "Hard Quota", "Run Rate", "Current Usage", "Projected Usage"]
    {
        assert!(body.contains(heading), "{heading} in {body}");
    }
    assert!(body.contains("Default CC-1000") || body.contains("CC-1000"), "{body}");
    assert!(body.contains("$5,000.00") && body.contains("$10,000.00"), "money formatted: {body}");
    assert!(body.contains("HARD_ALARM"), "the Exhausted code is over its quota: {body}");
    assert!(body.contains("NORMAL"), "{body}");
    assert!(page.body.contains("class=\"num\">$5,000.00"), "money is right-aligned");
    assert!(!body.contains("GX-100"), "Globex's code is not shown: {body}");
    assert!(page.body.contains("href=\"/admin/budget-codes\" aria-current=\"page\""), "the nav marks the page");
}

#[actix_web::test]
async fn adding_a_code_stores_it_with_its_audit_event_and_answers_htmx_with_the_list() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut client = admin(&app).await;

    let plain = client.post(PAGE, &form("Research", "1,000", "2000.5")).await;
    assert_eq!(plain.status, StatusCode::SEE_OTHER);
    assert_eq!(plain.location(), Some(PAGE));
    let id = code_id(&mut conn, "Acme", "Research").await;
    assert_eq!(
        code_row(&mut conn, id).await,
        ("Research".into(), "CC-3000".into(), "1000.00".into(), "2000.50".into(), "active".into(), 1)
    );
    let created = events(&mut conn, "create", id).await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["soft_quota"], "1000.00");
    let page = client.get(PAGE).await;
    assert!(text(&page.body).contains("Added budget code “Research”"), "the flash after the redirect");

    let htmx = client.post_htmx(PAGE, &form("Lab", "0", "0")).await;
    assert_eq!(htmx.status, StatusCode::OK);
    assert!(htmx.body.contains("id=\"budget-code-list\" class=\"list\" hx-swap-oob=\"true\""), "{}", htmx.body);
    assert!(text(&htmx.body).contains("Added budget code “Lab”"));
}

#[actix_web::test]
async fn bad_quotas_and_taken_names_come_back_at_the_field_with_422() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut client = admin(&app).await;
    let before = count(&mut conn, "SELECT count(*) AS n FROM budget_codes").await;

    for (soft, hard, field, message) in [
        ("-1", "10", "new-soft-quota-error", "cannot be negative"),
        ("abc", "10", "new-soft-quota-error", "must be an amount of money"),
        ("1", "1e400", "new-hard-quota-error", "must be an amount of money"),
        ("100.01", "100", "new-soft-quota-error", "cannot be above the hard quota ($100.00)"),
    ] {
        let answer = client.post_htmx(PAGE, &form("Research", soft, hard)).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{soft}/{hard}");
        assert!(answer.body.contains(&format!("id=\"{field}\"")), "{soft}/{hard}: {}", answer.body);
        assert!(text(&answer.body).contains(message), "{soft}/{hard}: {}", text(&answer.body));
        assert!(answer.body.contains("value=\"Research\""), "the form keeps what was typed");
    }
    assert_eq!(client.post(PAGE, &form("Ops  Budget", "1", "2")).await.status, StatusCode::SEE_OTHER);
    let before = before + 1;
    for name in ["Default", "default", "Ops Budget", "ops   budget"] {
        let taken = client.post(PAGE, &form(name, "1", "2")).await;
        assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(text(&taken.body).contains("already has a budget code named"), "{}", text(&taken.body));
        assert!(taken.body.contains("id=\"new-name-error\""));
    }
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM budget_codes").await, before, "nothing stored");

    let equal = client.post_htmx(PAGE, &form("Research", "100", "100.00")).await;
    assert_eq!(equal.status, StatusCode::OK, "soft = hard is allowed: {}", text(&equal.body));
}

#[actix_web::test]
async fn editing_saves_the_changes_once_and_a_stale_version_is_a_conflict() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut client = admin(&app).await;
    let id = code_id(&mut conn, "Acme", "Operations").await;
    let url = format!("{PAGE}/{id}");

    let dialog = client.get_htmx(&format!("{url}/edit"), "modal").await;
    assert_eq!(dialog.status, StatusCode::OK);
    assert!(text(&dialog.body).contains("Operations: Edit"));
    assert!(dialog.body.contains("value=\"1000.00\"") && dialog.body.contains("name=\"version\" value=\"1\""));

    let mut fields = form("Ops", "1500", "2500");
    fields.push(("version", "1"));
    let saved = client.post_htmx(&url, &fields).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert_eq!(saved.header("HX-Trigger"), Some("close-dialog"));
    assert!(text(&saved.body).contains("Saved budget code “Ops”"));
    assert!(saved.body.contains("$1,500.00"));
    assert_eq!(
        code_row(&mut conn, id).await,
        ("Ops".into(), "CC-3000".into(), "1500.00".into(), "2500.00".into(), "active".into(), 2)
    );
    let updated = events(&mut conn, "update", id).await;
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0]["name"], serde_json::json!({ "from": "Operations", "to": "Ops" }));
    assert_eq!(updated[0]["soft_quota"], serde_json::json!({ "from": "1000.00", "to": "1500.00" }));

    let stale = client.post_htmx(&url, &fields).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(text(&stale.body).contains("Someone else changed this budget code"));
    assert!(stale.body.contains("name=\"version\" value=\"2\""), "the form shows the current version");

    let mut bad = form("Ops", "3000", "2500");
    bad.push(("version", "2"));
    let refused = client.post_htmx(&url, &bad).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.header("HX-Retarget"), Some("#modal"), "the message goes back into the dialog");
    assert!(refused.body.contains("id=\"edit-soft-quota-error\""));
    let mut taken = form("default", "1", "2");
    taken.push(("version", "2"));
    assert_eq!(client.post_htmx(&url, &taken).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(code_row(&mut conn, id).await.5, 2, "nothing more saved");
}

#[actix_web::test]
async fn deactivating_moves_servers_images_and_holders_to_the_replacement_in_one_transaction() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut client = admin(&app).await;
    let ops = code_id(&mut conn, "Acme", "Operations").await;
    let default = code_id(&mut conn, "Acme", "Default").await;
    // A server and an image billed to Operations (the demo may have some too).
    let image: i64 = provider_images::table.select(provider_images::id).first(&mut conn).await.unwrap();
    diesel::insert_into(servers::table)
        .values((
            servers::account_id.eq(app.demo.acme_production),
            servers::provider_image_id.eq(image),
            servers::name.eq("ops-box"),
            servers::product_id.eq("m5.large"),
            servers::budget_code_id.eq(ops),
            servers::state.eq("RUNNING"),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::sql_query(format!(
        "UPDATE image_records SET budget_code_id = {ops} WHERE id = (SELECT min(id) FROM image_records WHERE account_id = {})",
        app.demo.acme_production
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let billed = |table: &str, code: i64| format!("SELECT count(*) AS n FROM {table} WHERE budget_code_id = {code}");
    let servers_before =
        count(&mut conn, &billed("servers", ops)).await + count(&mut conn, &billed("servers", default)).await;
    let images_before = count(&mut conn, &billed("image_records", ops)).await
        + count(&mut conn, &billed("image_records", default)).await;
    let holders = "SELECT count(DISTINCT user_id) AS n FROM user_budget_codes WHERE budget_code_id IN";
    let holders_before = count(&mut conn, &format!("{holders} ({ops}, {default})")).await;
    assert!(count(&mut conn, &billed("servers", ops)).await >= 1);
    let url = format!("{PAGE}/{ops}/deactivate");

    let dialog = client.get_htmx(&url, "modal").await;
    assert_eq!(dialog.status, StatusCode::OK);
    assert!(text(&dialog.body).contains("Operations: Deactivate"));
    assert!(dialog.body.contains(&format!("<option value=\"{default}\">Default (CC-1000)")), "{}", dialog.body);
    assert!(!dialog.body.contains(&format!("<option value=\"{ops}\"")), "itself is not offered");

    for (replacement, message) in [
        ("", "Choose the budget code that takes over"),
        (&*ops.to_string(), "cannot replace itself"),
        (&*code_id(&mut conn, "Globex", "Default").await.to_string(), "active budget code of this company"),
    ] {
        let refused = client.post_htmx(&url, &[("replacement_id", replacement)]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{replacement}");
        assert!(refused.body.contains("id=\"replacement-id-error\""), "{replacement}");
        assert!(text(&refused.body).contains(message), "{replacement}: {}", text(&refused.body));
        assert_eq!(code_row(&mut conn, ops).await.4, "active");
    }

    let done = client.post_htmx(&url, &[("replacement_id", &default.to_string())]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(text(&done.body).contains("Deactivated “Operations”"), "{}", text(&done.body));
    assert!(text(&done.body).contains("moved to “Default”"));
    assert_eq!(code_row(&mut conn, ops).await.4, "inactive");
    for table in ["servers", "image_records", "user_budget_codes"] {
        assert_eq!(count(&mut conn, &billed(table, ops)).await, 0, "nothing of {table} is left on the old code");
    }
    assert_eq!(count(&mut conn, &billed("servers", default)).await, servers_before);
    assert_eq!(count(&mut conn, &billed("image_records", default)).await, images_before);
    assert_eq!(
        count(&mut conn, &format!("SELECT count(*) AS n FROM user_budget_codes WHERE budget_code_id = {default}"))
            .await,
        holders_before,
        "holders of both codes hold the replacement once"
    );
    let deactivated = events(&mut conn, "deactivate", ops).await;
    assert_eq!(deactivated.len(), 1);
    assert_eq!(deactivated[0]["replacement"]["name"], "Default");
    assert!(deactivated[0]["moved"]["servers"].as_i64().unwrap() >= 1);

    let again = client.post_htmx(&url, &[("replacement_id", &default.to_string())]).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "inactive already");
    let list = client.get(PAGE).await;
    assert!(list.body.contains(&format!("/admin/budget-codes/{ops}/reactivate")), "Reactivate is offered");

    let back = client.post(&format!("{PAGE}/{ops}/reactivate"), &[]).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    assert_eq!(code_row(&mut conn, ops).await.4, "active");
    assert_eq!(events(&mut conn, "reactivate", ops).await.len(), 1);
}

#[actix_web::test]
async fn deactivation_rolls_back_whole_when_the_replacement_is_inactive() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut client = admin(&app).await;
    let ops = code_id(&mut conn, "Acme", "Operations").await;
    let default = code_id(&mut conn, "Acme", "Default").await;
    diesel::update(budget_codes::table.filter(budget_codes::id.eq(default)))
        .set(budget_codes::status.eq("inactive"))
        .execute(&mut conn)
        .await
        .unwrap();
    let holders = format!("SELECT count(*) AS n FROM user_budget_codes WHERE budget_code_id = {ops}");
    let before = count(&mut conn, &holders).await;

    let refused =
        client.post_htmx(&format!("{PAGE}/{ops}/deactivate"), &[("replacement_id", &default.to_string())]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(code_row(&mut conn, ops).await.4, "active");
    assert_eq!(count(&mut conn, &holders).await, before);
    assert!(events(&mut conn, "deactivate", ops).await.is_empty());
}

#[actix_web::test]
async fn viewers_see_configurators_are_refused_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let ops = code_id(&mut conn, "Acme", "Operations").await;
    let default = code_id(&mut conn, "Acme", "Default").await;
    let posts = [
        (PAGE.to_owned(), form("Research", "1", "2")),
        (
            format!("{PAGE}/{ops}"),
            vec![("name", "X"), ("finance_code", "X"), ("soft_quota", "1"), ("hard_quota", "2"), ("version", "1")],
        ),
        (format!("{PAGE}/{ops}/deactivate"), vec![("replacement_id", "0")]),
        (format!("{PAGE}/{ops}/reactivate"), vec![]),
    ];

    let mut viewer = app.signed_in("viewer@acme.test").await;
    let page = viewer.get(PAGE).await;
    assert_eq!(page.status, StatusCode::OK, "CSR has BUDGET Access");
    assert!(!page.body.contains("New budget code") && !page.body.contains("actions-button"), "nothing to change");
    assert_eq!(viewer.get(&format!("{PAGE}/{ops}/edit")).await.status, StatusCode::FORBIDDEN);
    let mut configurator = app.signed_in("configurator@acme.test").await;
    assert_eq!(configurator.get(PAGE).await.status, StatusCode::FORBIDDEN);
    assert!(!configurator.get("/images").await.body.contains("/admin/budget-codes"), "no nav entry");
    for client in [&mut viewer, &mut configurator] {
        for (path, fields) in &posts {
            let mut fields = fields.clone();
            let replacement = default.to_string();
            if path.ends_with("deactivate") {
                fields = vec![("replacement_id", &replacement)];
            }
            assert_eq!(client.post(path, &fields).await.status, StatusCode::FORBIDDEN, "{path}");
        }
    }
    assert_eq!(
        code_row(&mut conn, ops).await,
        ("Operations".into(), "CC-2000".into(), "1000.00".into(), "2000.00".into(), "active".into(), 1)
    );
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM audit_events WHERE resource = 'BUDGET'").await, 0);

    let mut globex = app.signed_in("admin@globex.test").await;
    assert_eq!(globex.get(&format!("{PAGE}/{ops}/edit")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(globex.get(&format!("{PAGE}/{ops}/deactivate")).await.status, StatusCode::NOT_FOUND);
    for (path, fields) in &posts[1..] {
        assert_eq!(globex.post(path, fields).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let own = globex.get(PAGE).await;
    assert!(text(&own.body).contains("GX-100") && !text(&own.body).contains("CC-2000"), "Globex sees its own codes");
    assert_eq!(code_row(&mut conn, ops).await.5, 1);
}

#[actix_web::test]
async fn browser_budget_code_edit_then_audit_log() {
    use fantoccini::Locator;

    use crate::browser::Browser;

    let app = TestApp::spawn().await;
    let browser = Browser::start().await;
    let b = &browser.client;
    b.goto(&app.url("/login")).await.unwrap();
    b.find(Locator::Css("input[name=email]")).await.unwrap().send_keys("admin@acme.test").await.unwrap();
    b.find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(stratus_console::demo::PASSWORD)
        .await
        .unwrap();
    b.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("batch-worker").await;

    b.find(Locator::LinkText("Budget Codes")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("CC-2000").await;
    let ops = b.find(Locator::XPath("//tr[.//span[@class='name' and text()='Operations']]")).await.unwrap();
    ops.find(Locator::Css("summary.actions-button")).await.unwrap().click().await.unwrap();
    ops.find(Locator::Css("[role=menuitem][href$='/edit']")).await.unwrap().click().await.unwrap();
    b.wait().for_element(Locator::Css("dialog[open] input[name=soft_quota]")).await.unwrap();
    let soft = b.find(Locator::Css("dialog[open] input[name=soft_quota]")).await.unwrap();
    soft.clear().await.unwrap();
    soft.send_keys("5000").await.unwrap();
    b.find(Locator::Css("dialog[open] button.primary")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("cannot be above the hard quota").await;
    browser.screenshot("admin-budget-codes-error").await;
    let soft = b.find(Locator::Css("dialog[open] input[name=soft_quota]")).await.unwrap();
    soft.clear().await.unwrap();
    soft.send_keys("1,500").await.unwrap();
    b.find(Locator::Css("dialog[open] button.primary")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("Saved budget code “Operations”").await;
    browser.wait_for_text("$1,500.00").await;
    browser.screenshot("admin-budget-codes").await;

    b.find(Locator::LinkText("Audit Log")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("1000.00 → 1500.00").await;
    assert!(browser.body_text().await.contains("Alex Morgan"));
    browser.screenshot("audit-log").await;
    b.clone().close().await.unwrap();
}
