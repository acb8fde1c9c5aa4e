//! Budget figures from the servers rows of the demo world: which codes a user
//! may bill, which servers a month reads, and the states they lead to.

use bigdecimal::BigDecimal;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use stratus_console::db::budget::{BudgetCode, codes_of_company, codes_of_user, figures_for, usage};
use stratus_console::db::schema::{budget_codes, companies, provider_images, servers, users};
use stratus_console::domain::budget::{BudgetFigures, BudgetState, cents, month_start, next_month_start};

use crate::harness::TestApp;

fn money(s: &str) -> BigDecimal {
    s.parse().expect("a decimal")
}

/// Hours as money arithmetic sees them: exact seconds / 3,600.
fn hours(span: TimeDelta) -> BigDecimal {
    BigDecimal::from(span.num_seconds()) / BigDecimal::from(3600)
}

/// Now, to the second, so rows written to PostgreSQL (microseconds) and the
/// expected figures agree exactly.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

async fn user_id(conn: &mut AsyncPgConnection, email: &str) -> i64 {
    users::table.filter(users::email.eq(email)).select(users::id).first(conn).await.expect("a demo user")
}

async fn acme_code(conn: &mut AsyncPgConnection, name: &str) -> BudgetCode {
    let acme: i64 =
        companies::table.filter(companies::name.eq("Acme")).select(companies::id).first(conn).await.unwrap();
    let codes = codes_of_company(conn, acme).await.unwrap();
    codes.into_iter().find(|code| code.name == name).expect("a demo budget code")
}

/// A server row billed to `code`, as a launch and the state sync write it.
struct Billed<'a> {
    rate: &'a str,
    state: &'a str,
    launched_at: DateTime<Utc>,
    terminated_at: Option<DateTime<Utc>>,
}

async fn bill(conn: &mut AsyncPgConnection, app: &TestApp, code: i64, server: Billed<'_>) {
    let image: i64 = provider_images::table.select(provider_images::id).first(conn).await.unwrap();
    diesel::insert_into(servers::table)
        .values((
            servers::account_id.eq(app.demo.acme_production),
            servers::provider_image_id.eq(image),
            servers::name.eq(format!("billed-{}", server.state.to_lowercase())),
            servers::product_id.eq("m5.xlarge"),
            servers::budget_code_id.eq(code),
            servers::hourly_rate.eq(money(server.rate)),
            servers::state.eq(server.state),
            servers::launched_at.eq(server.launched_at),
            servers::terminated_at.eq(server.terminated_at),
        ))
        .execute(conn)
        .await
        .expect("insert a server");
}

fn figures_of<'a>(figures: &'a [(BudgetCode, BudgetFigures)], name: &str) -> &'a BudgetFigures {
    figures.iter().find(|(code, _)| code.name == name).map(|(_, f)| f).expect("figures of the code")
}

#[actix_web::test]
async fn users_are_offered_the_active_codes_they_hold_by_name() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let admin = user_id(&mut conn, "admin@acme.test").await;
    let viewer = user_id(&mut conn, "viewer@acme.test").await;

    let names = |codes: Vec<BudgetCode>| codes.into_iter().map(|c| c.name).collect::<Vec<_>>();
    assert_eq!(names(codes_of_user(&mut conn, admin).await.unwrap()), ["Default", "Exhausted", "Operations"]);
    assert_eq!(names(codes_of_user(&mut conn, viewer).await.unwrap()), ["Default"]);

    let operations = acme_code(&mut conn, "Operations").await;
    diesel::update(budget_codes::table.find(operations.id))
        .set(budget_codes::status.eq("inactive"))
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(names(codes_of_user(&mut conn, admin).await.unwrap()), ["Default", "Exhausted"]);
    let company = codes_of_company(&mut conn, operations.company_id).await.unwrap();
    assert_eq!(names(company.clone()), ["Default", "Exhausted", "Operations"], "administrators see every code");
    assert!(!company[2].is_active());
}

#[actix_web::test]
async fn a_month_counts_the_run_time_of_the_servers_billed_to_the_code_this_month() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let operations = acme_code(&mut conn, "Operations").await;
    let now = now();
    let start = month_start(now);
    assert!(usage(&mut conn, &[operations.id], start).await.unwrap().is_empty(), "the demo bills nothing to it");
    let default = acme_code(&mut conn, "Default").await;
    let default_before = figures_for(&mut conn, vec![default], now).await.unwrap();

    let elapsed = now - start;
    let halfway = start + TimeDelta::seconds(elapsed.num_seconds() / 2);
    let long_ago = start - TimeDelta::days(40);
    for server in [
        Billed { rate: "0.1000", state: "RUNNING", launched_at: long_ago, terminated_at: None },
        Billed { rate: "0.2000", state: "TERMINATED", launched_at: long_ago, terminated_at: Some(halfway) },
        Billed { rate: "0.3000", state: "PAUSED", launched_at: start, terminated_at: None },
        Billed { rate: "100.0000", state: "ERROR", launched_at: start, terminated_at: None },
        Billed { rate: "500.0000", state: "TERMINATED", launched_at: long_ago, terminated_at: Some(start) },
        Billed {
            rate: "500.0000",
            state: "TERMINATED",
            launched_at: long_ago,
            terminated_at: Some(start - TimeDelta::seconds(1)),
        },
    ] {
        bill(&mut conn, &app, operations.id, server).await;
    }

    let loaded = usage(&mut conn, &[operations.id], start).await.unwrap();
    assert_eq!(loaded.len(), 5, "the server terminated before the month is not read: {loaded:?}");
    assert!(loaded.iter().all(|(code, _)| *code == operations.id));

    let figures = figures_for(&mut conn, vec![operations.clone()], now).await.unwrap();
    let (code, figures) = &figures[0];
    assert_eq!(code, &operations);
    assert_eq!(figures.run_rate(), &money("0.1"), "only the running server bills now");
    let spent = money("0.1") * hours(elapsed) + money("0.2") * hours(halfway - start) + money("0.3") * hours(elapsed);
    assert_eq!(cents(figures.current_usage()), cents(&spent));
    let projected = &spent + money("0.1") * hours(next_month_start(now) - now);
    assert_eq!(cents(figures.projected_usage()), cents(&projected));
    // At most 0.4 × 744 + 0.2 × 372 = 372 in a 31-day month: far below the soft quota of 1,000.
    assert_eq!(figures.state(), BudgetState::Normal);

    let default = acme_code(&mut conn, "Default").await;
    let default_after = figures_for(&mut conn, vec![default], now).await.unwrap();
    assert_eq!(default_after, default_before, "another code's servers are not mixed in");
}

#[actix_web::test]
async fn the_demo_bills_its_running_servers_and_exhausted_is_past_its_hard_quota() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let manager = user_id(&mut conn, "manager@acme.test").await;
    let now = now();

    let codes = codes_of_user(&mut conn, manager).await.unwrap();
    let figures = figures_for(&mut conn, codes, now).await.unwrap();
    // Production keeps the t3.small its first image was built on running,
    // billed to Default; Staging keeps an m5.xlarge running since last
    // month, billed to Exhausted (PRODUCT 6: its hard quota is exceeded).
    let default = figures_of(&figures, "Default");
    assert_eq!(default.run_rate(), &money("0.0208"));
    assert_eq!(default.state(), BudgetState::Normal);
    let exhausted = figures_of(&figures, "Exhausted");
    assert_eq!(exhausted.run_rate(), &money("0.192"));
    assert_eq!(exhausted.state(), BudgetState::HardAlarm);
    assert!(!exhausted.offered_at_launch());
}

#[actix_web::test]
async fn a_code_with_a_large_server_running_since_last_month_is_past_its_hard_quota() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let manager = user_id(&mut conn, "manager@acme.test").await;
    let exhausted = acme_code(&mut conn, "Exhausted").await;
    assert_eq!(exhausted.hard_quota, money("100"));
    // Without the demo's own server billed to it, then with one of ours.
    diesel::delete(servers::table.filter(servers::budget_code_id.eq(exhausted.id))).execute(&mut conn).await.unwrap();
    let now = now();
    // An m5.xlarge left running since last month.
    // Its projection is a whole month, at least 28 × 24 × 0.192 = 129.02.
    let launched_at = month_start(now) - TimeDelta::days(10);
    bill(&mut conn, &app, exhausted.id, Billed { rate: "0.1920", state: "RUNNING", launched_at, terminated_at: None })
        .await;

    let codes = codes_of_user(&mut conn, manager).await.unwrap();
    let figures = figures_for(&mut conn, codes, now).await.unwrap();
    let exhausted = figures_of(&figures, "Exhausted");
    assert_eq!(exhausted.run_rate(), &money("0.192"));
    assert_eq!(cents(exhausted.current_usage()), cents(&(money("0.192") * hours(now - month_start(now)))));
    let month = hours(next_month_start(now) - month_start(now));
    assert_eq!(cents(exhausted.projected_usage()), cents(&(money("0.192") * month)));
    assert_eq!(exhausted.state(), BudgetState::HardAlarm);
    assert!(!exhausted.offered_at_launch(), "never offered at launch");
    assert!(exhausted.check_launch(&money("0")).is_err());

    let default = figures_of(&figures, "Default");
    assert!(default.offered_at_launch());
    let after = default.check_launch(&money("0.0208")).expect("Default has room for a t3.small");
    // The demo's t3.small in Production, and one more.
    assert_eq!(after.run_rate(), &money("0.0416"));
}
