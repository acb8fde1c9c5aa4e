//! Sign-in, sessions, CSRF, throttling and the account switcher.

use reqwest::StatusCode;

use crate::harness::{TestApp, count, text};

#[actix_web::test]
async fn signing_in_renews_the_session_and_stores_it_server_side() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    client.get("/login").await;
    let before = count(&mut app.db().await, "SELECT count(*) AS n FROM sessions").await;
    assert_eq!(before, 1, "the login page keeps its CSRF token in a session");

    let response = client.login("admin@acme.test", "demo-password-1").await;

    assert_eq!(response.status, StatusCode::SEE_OTHER);
    assert_eq!(response.location(), Some("/images"));
    let cookie = response.header("set-cookie").expect("a session cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let mut db = app.db().await;
    assert_eq!(
        count(&mut db, "SELECT count(*) AS n FROM sessions").await,
        1,
        "the pre-login session is replaced, not kept beside the new one"
    );
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) AS n FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = 'admin@acme.test'"
        )
        .await,
        1
    );
    let page = client.get("/images").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(text(&page.body).contains("Alex Morgan"));
}

#[actix_web::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_message() {
    let app = TestApp::spawn().await;
    let wrong_password = app.client().login("admin@acme.test", "nope").await;
    let unknown_email = app.client().login("nobody@acme.test", "demo-password-1").await;

    for response in [&wrong_password, &unknown_email] {
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
        assert!(text(&response.body).contains("Wrong email or password."));
    }
    assert!(wrong_password.body.contains("value=\"admin@acme.test\""), "the email is kept in the form");
}

#[actix_web::test]
async fn email_is_matched_without_regard_to_case() {
    let app = TestApp::spawn().await;
    let response = app.client().login("  Admin@ACME.test ", "demo-password-1").await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn an_inactive_user_cannot_sign_in() {
    let app = TestApp::spawn().await;
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("UPDATE users SET status = 'inactive' WHERE email = 'viewer@acme.test'"),
        &mut app.db().await,
    )
    .await
    .unwrap();

    let response = app.client().login("viewer@acme.test", "demo-password-1").await;

    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert!(text(&response.body).contains("This user is inactive"));
}

#[actix_web::test]
async fn a_post_without_the_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    client.get("/login").await;
    let login =
        client.post_without_csrf("/login", &[("email", "admin@acme.test"), ("password", "demo-password-1")]).await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);
    assert!(text(&login.body).contains("This form has expired or did not come from this console"));

    let mut signed_in = app.signed_in("admin@acme.test").await;
    let staging = app.demo.acme_staging.to_string();
    let forged = signed_in.post_without_csrf("/account", &[("account_id", &staging), ("csrf_token", "forged")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn a_client_cannot_choose_its_address_with_forwarded_headers() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    client.get("/login").await;
    let token = client.csrf.clone().unwrap();
    for (header, value) in [("X-Forwarded-For", "203.0.113.9"), ("Forwarded", "for=198.51.100.7")] {
        let response = client
            .http
            .post(app.url("/login"))
            .header(header, value)
            .form(&[("email", "manager@acme.test"), ("password", "guess"), ("csrf_token", &token)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // No proxy is trusted (TRUSTED_PROXIES is empty): the address is the peer's.
    let recorded = count(&mut app.db().await, "SELECT count(*) AS n FROM login_attempts WHERE ip = '127.0.0.1'").await;
    assert_eq!(recorded, 2, "both failures count against the real address");
}

/// Guesses sent all at once, each hashing its password while the others
/// run: no more of them are checked than of guesses sent one by one.
#[actix_web::test]
async fn guesses_sent_at_once_get_no_more_tries_than_guesses_sent_in_turn() {
    let app = TestApp::spawn().await;
    let mut clients = Vec::new();
    for _ in 0..12 {
        let mut client = app.client();
        client.get("/login").await;
        clients.push(client);
    }
    let guesses: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            actix_web::rt::spawn(async move {
                client.post("/login", &[("email", "manager@acme.test"), ("password", "guess")]).await.status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for guess in guesses {
        statuses.push(guess.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let throttled = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert!(checked <= 5 && checked + throttled == 12, "{statuses:?}");
    let failures = "SELECT count(*) AS n FROM login_attempts WHERE email = 'manager@acme.test' AND NOT succeeded";
    assert_eq!(
        count(&mut app.db().await, failures).await,
        i64::try_from(checked).unwrap(),
        "refused tries count for nothing"
    );
}

#[actix_web::test]
async fn the_sixth_failure_within_15_minutes_is_throttled() {
    let app = TestApp::spawn().await;
    for _ in 0..5 {
        let response = app.client().login("manager@acme.test", "guess").await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    }

    let throttled = app.client().login("manager@acme.test", "demo-password-1").await;

    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    let message = text(&throttled.body);
    assert!(message.contains("Too many failed sign-ins. Try again after"), "{message}");
    assert!(message.contains("UTC"), "{message}");
    let retry: i64 = throttled.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=15 * 60).contains(&retry), "seconds until the window lets one in: {retry}");
    let other_user = app.client().login("admin@acme.test", "demo-password-1").await;
    assert_eq!(other_user.status, StatusCode::SEE_OTHER, "other emails are not locked out");
}

/// Ends every session as time does.
async fn expire_sessions(app: &TestApp) {
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("UPDATE sessions SET expires_at = now() - interval '1 minute'"),
        &mut app.db().await,
    )
    .await
    .unwrap();
}

#[actix_web::test]
async fn an_expired_session_asks_to_sign_in_again() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    expire_sessions(&app).await;

    let response = client.get("/images").await;

    assert_eq!(response.status, StatusCode::SEE_OTHER);
    assert_eq!(response.location(), Some("/login?ended=1"));
    let login = client.get("/login?ended=1").await;
    assert!(text(&login.body).contains("Your session has ended. Please sign in again."));
}

#[actix_web::test]
async fn a_form_sent_after_the_session_ended_asks_to_sign_in_again() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    expire_sessions(&app).await;
    let staging = app.demo.acme_staging.to_string();

    // The page's token is gone with the session: not a forged form, a
    // signed-out user.
    let plain = client.post("/account", &[("account_id", &staging)]).await;
    assert_eq!(plain.status, StatusCode::SEE_OTHER, "{}", plain.body);
    assert_eq!(plain.location(), Some("/login?ended=1"));
    let htmx = client.post_htmx("/account", &[("account_id", &staging)]).await;
    assert_eq!(htmx.status, StatusCode::UNAUTHORIZED);
    assert_eq!(htmx.headers.get("HX-Redirect").and_then(|v| v.to_str().ok()), Some("/login?ended=1"));

    let anonymous = app.client().post_without_csrf("/account", &[("account_id", &staging)]).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.location(), Some("/login"));
}

#[actix_web::test]
async fn signing_out_ends_the_session() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;

    let response = client.post("/logout", &[]).await;

    assert_eq!(response.status, StatusCode::SEE_OTHER);
    assert_eq!(count(&mut app.db().await, "SELECT count(*) AS n FROM sessions WHERE user_id IS NOT NULL").await, 0);
    let after = client.get("/images").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert!(after.location().is_some_and(|l| l.starts_with("/login")));
}

#[actix_web::test]
async fn anonymous_visitors_are_sent_to_sign_in_and_htmx_gets_a_redirect_header() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let page = client.get("/images").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/login"));

    let partial = client.get_htmx("/images", "image-list").await;
    assert_eq!(partial.status, StatusCode::UNAUTHORIZED);
    assert_eq!(partial.header("hx-redirect"), Some("/login"));
}

#[actix_web::test]
async fn switching_to_a_member_account_shows_its_images() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let staging = app.demo.acme_staging.to_string();

    let response = client.post("/account", &[("account_id", &staging)]).await;

    assert_eq!(response.status, StatusCode::SEE_OTHER);
    let page = text(&client.get("/images").await.body);
    assert!(page.contains("Acme Staging · N. Virginia (us-east-1)"), "{page}");
    assert!(page.contains("staging-web-frontend"));
    assert!(!page.contains("postgres-15-primary"), "production images are not shown in staging");
}

#[actix_web::test]
async fn switching_to_an_account_the_user_is_not_in_is_not_found() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let globex = app.demo.globex_main.to_string();

    let response = client.post("/account", &[("account_id", &globex)]).await;

    assert_eq!(response.status, StatusCode::NOT_FOUND, "another company's account is not revealed");
    let page = text(&client.get("/images").await.body);
    assert!(page.contains("Acme Production"), "the current account is unchanged");
}

#[actix_web::test]
async fn the_switcher_lists_only_the_users_accounts() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@globex.test").await;
    let page = client.get("/images").await.body;
    assert!(page.contains("Globex Main"));
    assert!(!page.contains("Acme Production") && !page.contains("Acme Staging"));
}

/// The configurator's group keeps its role in Acme Staging only; they stay
/// a member of Acme Production, the first account by name.
#[actix_web::test]
async fn an_account_whose_role_does_not_open_the_console_locks_no_one_out_of_the_others() {
    let app = TestApp::spawn().await;
    let (production, staging) = (app.demo.acme_production, app.demo.acme_staging);
    let mut working = app.signed_in("configurator@acme.test").await;
    assert!(text(&working.get("/images").await.body).contains("Acme Production ·"));
    let no_role_in = |account: i64| {
        format!(
            "DELETE FROM group_roles WHERE account_id = {account} \
             AND group_id = (SELECT id FROM groups WHERE name = 'Config')"
        )
    };
    run(&app, &no_role_in(production)).await;

    // Signed in before: the next page is Staging's, and so is a new sign-in.
    let mut fresh = app.signed_in("configurator@acme.test").await;
    for client in [&mut working, &mut fresh] {
        let page = client.get("/images").await;
        assert_eq!(page.status, StatusCode::OK, "{}", text(&page.body));
        let page = text(&page.body);
        assert!(page.contains("Acme Staging · N. Virginia (us-east-1)"), "{page}");
        assert!(page.contains("staging-web-frontend"));
        // The switcher does not offer Production, and switching there is refused.
        assert!(!page.contains("Acme Production"), "{page}");
        let switched = client.post("/account", &[("account_id", &production.to_string())]).await;
        assert_eq!(switched.status, StatusCode::NOT_FOUND);
    }

    // Without a role that opens the console anywhere: said, for every account.
    run(&app, &no_role_in(staging)).await;
    let refused = working.get("/images").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        text(&refused.body).contains("Your groups have no role that allows using the console in any of your accounts."),
        "{}",
        text(&refused.body)
    );
}

async fn run(app: &TestApp, sql: &str) {
    diesel_async::RunQueryDsl::execute(diesel::sql_query(sql), &mut app.db().await).await.unwrap();
}

/// What a signed-in user may do is read once and kept by the process while
/// their company's access version stands, so a page view costs one round
/// trip before its own queries; anything that decides the rights counts as
/// a change, and the next request sees it.
#[actix_web::test]
async fn rights_are_kept_between_requests_until_anything_that_decides_them_changes() {
    let app = TestApp::spawn().await;
    let production = app.demo.acme_production;
    let mut viewer = app.signed_in("viewer@acme.test").await;
    assert!(text(&viewer.get("/images").await.body).contains("Acme Production"));

    // Changed with the counting switched off: the kept context still
    // answers, so no second statement was sent.
    run(&app, "ALTER TABLE accounts DISABLE TRIGGER accounts_access_update").await;
    run(&app, &format!("UPDATE accounts SET name = 'Acme Unseen' WHERE id = {production}")).await;
    run(&app, "ALTER TABLE accounts ENABLE TRIGGER accounts_access_update").await;
    let page = text(&viewer.get("/images").await.body);
    assert!(page.contains("Acme Production") && !page.contains("Acme Unseen"), "kept: {page}");

    // Counted, as every change is: the next request reads it afresh.
    run(&app, &format!("UPDATE accounts SET name = 'Acme Main' WHERE id = {production}")).await;
    assert!(text(&viewer.get("/images").await.body).contains("Acme Main"));

    // A right given to the viewer's role, and taken back.
    assert!(!text(&viewer.get("/keypairs").await.body).contains("New key pair"));
    run(
        &app,
        "INSERT INTO access_rights (role_id, resource, action, qualifier)
         SELECT r.id, 'KEYPAIR', 'Configure', 'ANY' FROM roles r JOIN group_roles gr ON gr.role_id = r.id
         JOIN group_members gm ON gm.group_id = gr.group_id JOIN users u ON u.id = gm.user_id
         WHERE u.email = 'viewer@acme.test' AND gr.account_id = (SELECT id FROM accounts WHERE name = 'Acme Main')",
    )
    .await;
    assert!(text(&viewer.get("/keypairs").await.body).contains("New key pair"), "given");
    run(&app, "DELETE FROM access_rights WHERE resource = 'KEYPAIR' AND action = 'Configure' AND qualifier = 'ANY'")
        .await;
    assert!(!text(&viewer.get("/keypairs").await.body).contains("New key pair"), "taken back");

    // Out of the group: no role in the account, so no console.
    run(&app, "DELETE FROM group_members WHERE user_id = (SELECT id FROM users WHERE email = 'viewer@acme.test')")
        .await;
    assert_eq!(viewer.get("/images").await.status, StatusCode::FORBIDDEN);

    // Deactivated: signed out on the next request.
    let mut manager = app.signed_in("manager@acme.test").await;
    assert_eq!(manager.get("/images").await.status, StatusCode::OK);
    run(&app, "UPDATE users SET status = 'inactive' WHERE email = 'manager@acme.test'").await;
    let after = manager.get("/images").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert!(after.location().is_some_and(|l| l.starts_with("/login")));
}

/// What the job worker records of an account's provider (when it last
/// synced, since when it has not answered, why) changes with every sync and
/// decides nobody's rights: it leaves the company's access version, and so
/// every user's kept rights, alone, while every page shows it as it is now.
#[actix_web::test]
async fn a_sync_leaves_the_kept_rights_alone_and_pages_show_the_provider_as_it_is_now() {
    let app = TestApp::spawn().await;
    let production = app.demo.acme_production;
    let version = async || {
        let sql = format!(
            "SELECT coalesce((SELECT v.version FROM access_versions v JOIN accounts a ON a.company_id = v.company_id
                              WHERE a.id = {production}), 0) AS n"
        );
        count(&mut app.db().await, &sql).await
    };
    let mut viewer = app.signed_in("viewer@acme.test").await;
    assert_eq!(viewer.get("/images").await.status, StatusCode::OK);
    let before = version().await;

    // Synced, as the job worker writes it.
    run(
        &app,
        &format!("UPDATE accounts SET synced_at = '2031-02-03 04:05:00+00', failure = NULL WHERE id = {production}"),
    )
    .await;
    let page = text(&viewer.get("/images").await.body);
    assert!(page.contains("Last synced 2031-02-03 04:05 UTC"), "{page}");

    // Unreachable, and back.
    run(
        &app,
        &format!(
            "UPDATE accounts SET unreachable_since = '2031-02-03 05:06:00+00', failure = 'the provider is unreachable'
             WHERE id = {production}"
        ),
    )
    .await;
    let page = text(&viewer.get("/keypairs").await.body);
    assert!(page.contains("Cloud provider unreachable since 05:06"), "{page}");
    run(&app, &format!("UPDATE accounts SET unreachable_since = NULL, failure = NULL WHERE id = {production}")).await;
    assert!(!text(&viewer.get("/images").await.body).contains("Cloud provider unreachable"));
    assert_eq!(version().await, before, "no user reads their rights again");

    // Anything else about the account still counts.
    run(&app, &format!("UPDATE accounts SET name = 'Acme Main' WHERE id = {production}")).await;
    assert_eq!(version().await, before + 1);
    assert!(text(&viewer.get("/images").await.body).contains("Acme Main"));
}

/// A user whose rights open some pages but not Machine Images lands on the
/// first page of their menu, after signing in and after switching, not on
/// a 403.
#[actix_web::test]
async fn a_user_lands_on_the_first_page_their_rights_open() {
    use crate::admin_roles::{give, make_role};
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let people = make_role(&mut conn, "People", &[("CONSOLE", "Access"), ("USER", "ANY")]).await;
    let support = crate::admin_users::group_id(&mut conn, "Acme", "Support").await;
    give(&mut conn, support, people).await;

    let mut viewer = app.client();
    let signed_in = viewer.login("viewer@acme.test", "demo-password-1").await;
    assert_eq!(signed_in.location(), Some("/admin/users"));
    assert_eq!(viewer.get("/admin/users").await.status, StatusCode::OK);
    assert_eq!(viewer.get("/").await.location(), Some("/admin/users"), "the console's address leads there too");
    let refused = viewer.get("/images").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains(r#"<a href="/">Back to the console</a>"#), "not to a page that refuses them");
    let switched = viewer.post("/account", &[("account_id", &app.demo.acme_production.to_string())]).await;
    assert_eq!(switched.location(), Some("/admin/users"));

    let mut admin = app.client();
    assert_eq!(admin.login("admin@acme.test", "demo-password-1").await.location(), Some("/images"));
    assert_eq!(admin.get("/").await.location(), Some("/images"));
    assert_eq!(app.client().get("/").await.location(), Some("/images"), "and signs a visitor in from there");
}

/// A request that loaded its session before a password reset (or a
/// sign-out, or a deactivation) ended it, and writes the session as it
/// finishes: the store starts a new session, signed out, rather than sign
/// the user in again under a new key.
#[actix_web::test]
async fn a_session_ended_while_a_request_ran_is_not_brought_back_signed_in() {
    use actix_session::storage::SessionStore;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use stratus_console::auth::session_store::{PgSessionStore, USER_ID};
    use stratus_console::db::{self, schema::users};

    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let manager: i64 =
        users::table.filter(users::email.eq("manager@acme.test")).select(users::id).first(&mut conn).await.unwrap();
    let store = PgSessionStore::new(db::pool(&app.database_url, 2).unwrap());
    let ttl = actix_web::cookie::time::Duration::hours(1);
    let state = std::collections::HashMap::from([
        (USER_ID.to_owned(), manager.to_string()),
        ("csrf_token".to_owned(), "t".to_owned()),
    ]);
    let key = store.save(state.clone(), &ttl).await.unwrap();

    db::admin::end_sessions(&mut conn, manager).await.unwrap();
    let after = store.update(key, state, &ttl).await.unwrap();

    let kept = SessionStore::load(&store, &after).await.unwrap().expect("a new session");
    assert!(!kept.contains_key(USER_ID), "signed out: {kept:?}");
    let signed_in = format!("SELECT count(*) AS n FROM sessions WHERE user_id = {manager}");
    assert_eq!(count(&mut conn, &signed_in).await, 0);
}

/// Switching accounts keeps the page of the menu the user is on, when
/// their rights in the other account open it, and the page says which
/// account they are in now. Anything else leads where they land there.
#[actix_web::test]
async fn switching_accounts_keeps_the_page_and_says_so() {
    let app = TestApp::spawn().await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let staging = app.demo.acme_staging.to_string();
    let servers = admin.get("/servers").await;
    assert!(servers.body.contains(r#"<input type="hidden" name="next" value="/servers">"#), "the switcher says where");

    let switched = admin.post("/account", &[("account_id", &staging), ("next", "/servers")]).await;
    assert_eq!(switched.location(), Some("/servers"));
    let page = text(&admin.get("/servers").await.body);
    assert!(page.contains("Switched to Acme Staging · N. Virginia (us-east-1)"), "{page}");
    let htmx = admin.post_htmx("/account", &[("account_id", &staging), ("next", "/keypairs")]).await;
    assert_eq!(htmx.header("HX-Redirect"), Some("/keypairs"));

    // Not a page of the menu (another site, a record of the old account): home.
    for next in ["https://example.com/", "//example.com/servers", "/images/1", ""] {
        let switched = admin.post("/account", &[("account_id", &staging), ("next", next)]).await;
        assert_eq!(switched.location(), Some("/images"), "next={next:?}");
    }
    // A page their rights in the other account do not open: home there.
    let mut viewer = app.signed_in("viewer@acme.test").await;
    let production = app.demo.acme_production.to_string();
    let switched = viewer.post("/account", &[("account_id", &production), ("next", "/admin/users")]).await;
    assert_eq!(switched.location(), Some("/images"));
}
