//! A company starts from an empty console: `/setup` (and `create-admin`),
//! then Cloud Accounts connects its own accounts at the local EC2 endpoint
//! through the credential path AWS takes (assume a role; an IAM user's
//! access key).

use reqwest::StatusCode;
use stratus_console::cloud::CloudProvider as _;
use stratus_console::cloud::ec2::Ec2Provider;
use stratus_console::demo;

use crate::cloud::{access_key_in, connection, endpoint, fresh_account};
use crate::harness::{Client, TestApp, count, text};

const PASSWORD: &str = "tangerine-kettle-49";

/// The set-up form's fields, with `changes` over the good ones.
fn setup_form<'a>(token: &'a str, changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("token", token),
        ("company", "Initech"),
        ("given_name", "Peter"),
        ("family_name", "Gibbons"),
        ("email", "peter@initech.test"),
        ("password", PASSWORD),
    ];
    for (field, value) in changes {
        form.retain(|(f, _)| f != field);
        form.push((field, value));
    }
    form
}

fn token_of(app: &TestApp<()>) -> String {
    let link = app.setup_link.as_deref().expect("an empty console prints its set-up link");
    assert!(link.starts_with(&format!("{}/setup?token=", app.address)), "{link}");
    link.split_once("token=").unwrap().1.to_owned()
}

/// Sets the console up through `/setup`; the signed-in client.
async fn set_up(app: &TestApp<()>) -> Client {
    let token = token_of(app);
    let mut client = app.client();
    client.get(&format!("/setup?token={token}")).await;
    let done = client.post("/setup", &setup_form(&token, &[])).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", text(&done.body));
    assert_eq!(done.location(), Some("/admin/accounts?first=1"));
    let page = client.get("/admin/accounts?first=1").await;
    assert_eq!(page.status, StatusCode::OK, "{}", text(&page.body));
    client
}

#[actix_web::test]
async fn an_empty_console_serves_only_its_setup_and_then_never_again() {
    let app = TestApp::empty().await;
    let token = token_of(&app);
    let mut client = app.client();
    for path in ["/", "/images", "/login", "/admin/accounts", "/nowhere"] {
        let answer = client.get(path).await;
        assert_eq!((path, answer.status, answer.location()), (path, StatusCode::SEE_OTHER, Some("/setup")));
    }
    assert_eq!(client.get("/healthz").await.status, StatusCode::OK);

    // Without the link's token the form asks for it; a wrong one writes nothing.
    let form = client.get("/setup").await;
    assert!(text(&form.body).contains("Set-up token"), "{}", text(&form.body));
    let wrong = client.post("/setup", &setup_form("not-the-token", &[])).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert!(text(&wrong.body).contains("not the set-up token"), "{}", text(&wrong.body));

    // Each field's rule, at its field, and nothing written.
    for (field, value, message) in [
        ("password", "short", "at least 12 characters"),
        ("password", "peter-was-here-2026", "email address's name"),
        ("password", "1qaz2wsx3edc", "most common"),
        ("email", "peter", "looks like"),
        ("company", "", "Enter the company's name"),
        ("company", "Ini\u{0}tech", "control characters"),
    ] {
        let refused = client.post("/setup", &setup_form(&token, &[(field, value)])).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}={value:?}");
        assert!(text(&refused.body).contains(message), "{field}={value:?}: {}", text(&refused.body));
        assert!(!refused.body.contains(PASSWORD), "a password is never sent back");
    }
    let mut conn = app.db().await;
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM companies").await, 0);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM users").await, 0);

    let page = client.get(&format!("/setup?token={token}")).await;
    assert!(!text(&page.body).contains("Set-up token"), "the link's token is sent along");
    let done = client.post("/setup", &setup_form(&token, &[])).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", text(&done.body));
    assert_eq!(done.location(), Some("/admin/accounts?first=1"));

    // One company with everything a company starts with.
    for (sql, wanted) in [
        ("SELECT count(*) AS n FROM companies WHERE name = 'Initech'", 1),
        ("SELECT count(*) AS n FROM roles WHERE is_default", 4),
        (
            "SELECT count(*) AS n FROM groups g JOIN roles r ON r.id = g.role_in_new_accounts \
             WHERE g.name = 'Admin' AND r.name = 'Admin'",
            1,
        ),
        ("SELECT count(*) AS n FROM budget_codes WHERE name = 'Default' AND status = 'active'", 1),
        (
            "SELECT count(*) AS n FROM users u JOIN group_members m ON m.user_id = u.id \
             JOIN user_budget_codes c ON c.user_id = u.id \
             WHERE u.email = 'peter@initech.test' AND u.password_hash LIKE '$argon2id$%'",
            1,
        ),
        ("SELECT count(*) AS n FROM audit_events WHERE action = 'setup' AND changes->>'password' = '********'", 1),
    ] {
        assert_eq!(count(&mut conn, sql).await, wanted, "{sql}");
    }

    // Signed in, without an account yet: led to connect the first one.
    let welcome = client.get("/admin/accounts?first=1").await;
    assert_eq!(welcome.status, StatusCode::OK);
    assert!(text(&welcome.body).contains("Connect your first cloud account"), "{}", text(&welcome.body));
    let images = client.get("/images").await;
    assert_eq!((images.status, images.location()), (StatusCode::SEE_OTHER, Some("/admin/accounts?first=1")));

    // Set up once: the page and its token are gone.
    assert_eq!(client.get(&format!("/setup?token={token}")).await.status, StatusCode::NOT_FOUND);
    let again = client.post("/setup", &setup_form(&token, &[("company", "Initrode")])).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM companies").await, 1);
    // The password chosen signs in.
    let mut other = app.client();
    assert_eq!(other.login("peter@initech.test", PASSWORD).await.status, StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn create_admin_sets_up_an_empty_console_from_a_script_once() {
    use std::io::Write as _;
    let app = TestApp::empty().await;
    let run = |company: &str, password: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stratus-console"))
            .args(["create-admin", "--company", company, "--email", "ops@initech.test"])
            .env("DATABASE_URL", &app.database_url)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run create-admin");
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let weak = run("Initech", "password");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 12 characters"));

    let made = run("Initech", PASSWORD);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let again = run("Initrode", PASSWORD);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already set up"));

    let mut conn = app.db().await;
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM companies").await, 1);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM roles").await, 4);
    // The running console notices: its set-up is gone, and the admin signs in.
    let mut client = app.client();
    assert_eq!(client.get("/setup").await.status, StatusCode::NOT_FOUND);
    let signed_in = client.login("ops@initech.test", PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{}", text(&signed_in.body));
}

/// The Connect account form for assuming `role_arn`.
fn by_role<'a>(name: &'a str, role_arn: &'a str, regions: &[&'a str]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![("name", name), ("auth", "assume_role"), ("role_arn", role_arn)];
    form.extend(regions.iter().map(|r| ("regions", *r)));
    form
}

#[actix_web::test]
async fn the_first_account_is_tested_then_connected_and_its_images_arrive() {
    let app = TestApp::empty().await;
    let mut client = set_up(&app).await;
    let mut conn = app.db().await;
    let number = fresh_account();
    let role = demo::role_arn(&number);

    // An image of the account, made at the provider before it is connected.
    let ec2 = Ec2Provider::connect(&connection(&number, endpoint())).await.unwrap();
    let public = ec2.list_public_images().await.unwrap();
    let base =
        public.iter().find(|i| i.public && !i.windows && i.architecture == "x86_64").expect("a public Linux image");
    let builder = ec2.run_instance(&crate::cloud::run(&base.id, "builder")).await.unwrap();
    ec2.create_image(&builder.id, "initech-web-1", "our web server").await.unwrap();

    let tested = client
        .post("/admin/accounts", &[by_role("Production", &role, &["us-east-1"]), vec![("test_only", "1")]].concat())
        .await;
    assert_eq!(tested.status, StatusCode::OK, "{}", text(&tested.body));
    assert!(text(&tested.body).contains(&format!("The connection works: provider account {number}")));
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM accounts").await, 0, "a test saves nothing");

    let connected = client.post("/admin/accounts", &by_role("Production", &role, &["us-east-1"])).await;
    assert_eq!((connected.status, connected.location()), (StatusCode::SEE_OTHER, Some("/admin/accounts")));
    let listed = client.get("/admin/accounts").await;
    assert!(text(&listed.body).contains("Connected Production."), "{}", text(&listed.body));
    // The role by its name; its whole ARN (its account is in the row) on hover.
    let role_name = role.rsplit('/').next().unwrap();
    assert!(listed.body.contains(&format!("<td class=\"auth-cell\" title=\"{role}\">Assumes role {role_name}</td>")));
    for (sql, wanted) in [
        (format!("SELECT count(*) AS n FROM accounts WHERE name = 'Production' AND provider_account_number = '{number}' AND auth = 'assume_role'"), 1),
        ("SELECT count(*) AS n FROM account_memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'peter@initech.test'".into(), 1),
        ("SELECT count(*) AS n FROM group_roles gr JOIN groups g ON g.id = gr.group_id WHERE g.name = 'Admin'".into(), 1),
        ("SELECT count(*) AS n FROM audit_events WHERE action = 'connect' AND resource = 'ACCOUNT'".into(), 1),
        ("SELECT count(*) AS n FROM jobs WHERE state = 'QUEUED' AND kind LIKE 'sync_%'".into(), 7),
    ] {
        assert_eq!(count(&mut conn, &sql).await, wanted, "{sql}");
    }

    // The account is in the switcher, and its images arrive by themselves.
    app.run_jobs().await;
    let images = client.get("/images").await;
    assert_eq!(images.status, StatusCode::OK);
    assert!(text(&images.body).contains("Production"));
    assert!(text(&images.body).contains("initech-web-1"), "{}", text(&images.body));
    let catalog = count(&mut conn, "SELECT count(*) AS n FROM public_images").await;
    assert!(catalog > 200, "the public catalog arrived: {catalog}");
    let accounts = client.get("/admin/accounts").await;
    assert!(text(&accounts.body).contains("connected"), "{}", text(&accounts.body));
}

#[actix_web::test]
async fn several_regions_make_one_account_each_and_a_connected_one_is_refused() {
    let app = TestApp::empty().await;
    let mut client = set_up(&app).await;
    let mut conn = app.db().await;
    let number = fresh_account();
    let role = demo::role_arn(&number);

    let connected = client.post("/admin/accounts", &by_role("Prod", &role, &["eu-west-1", "us-east-1"])).await;
    assert_eq!(connected.status, StatusCode::SEE_OTHER, "{}", text(&connected.body));
    let names = count(
        &mut conn,
        "SELECT count(*) AS n FROM accounts WHERE name IN ('Prod · us-east-1', 'Prod · eu-west-1') AND region IN ('us-east-1', 'eu-west-1')",
    )
    .await;
    assert_eq!(names, 2);

    let again = client.post("/admin/accounts", &by_role("Prod again", &role, &["us-east-1"])).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&again.body).contains("is already connected as “Prod · us-east-1”"), "{}", text(&again.body));
    // The console's own endpoint written out is the same place.
    let own_endpoint = crate::cloud::endpoint();
    let spelled_out =
        [by_role("Prod again", &role, &["us-east-1"]), vec![("endpoint", own_endpoint.as_str())]].concat();
    let again = client.post("/admin/accounts", &spelled_out).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", text(&again.body));
    assert!(text(&again.body).contains("is already connected as “Prod · us-east-1”"), "{}", text(&again.body));
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM accounts").await, 2);
}

#[actix_web::test]
async fn each_connect_field_has_its_rule_and_a_failed_test_saves_nothing() {
    let app = TestApp::empty().await;
    let mut client = set_up(&app).await;
    let mut conn = app.db().await;
    let role = demo::role_arn(&fresh_account());
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let closed = format!("http://{closed}");
    // Something that answers HTTP, but is no EC2 API.
    let not_ec2 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let not_ec2_url = format!("http://{}", not_ec2.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in not_ec2.incoming().flatten() {
            let mut request = [0u8; 65536];
            let _ = std::io::Read::read(&mut stream, &mut request);
            let answer = b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found";
            let _ = std::io::Write::write_all(&mut stream, answer);
        }
    });

    // Whole alone, too long once a region follows it.
    let long_name = "n".repeat(100);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (by_role("", &role, &["us-east-1"]), "Enter the account's name"),
        (
            [by_role("P", &role, &["us-east-1"]), vec![("provider", "gce")]].concat(),
            "Stratus Console connects accounts of Amazon EC2",
        ),
        (by_role("P", &role, &[]), "Choose at least one region"),
        (by_role("P", &role, &["mars-north-1"]), "is not an EC2 region"),
        (by_role(&long_name, &role, &["ap-south-1", "sa-east-1"]), "with ap-south-1, keep the name to 87."),
        (
            [by_role("P", &role, &["us-east-1"]), vec![("endpoint", "http://127.0.0.1:4566/?x=1")]].concat(),
            "An endpoint is an address like",
        ),
        (by_role("P", "arn:aws:iam::12:role/X", &["us-east-1"]), "A role's ARN looks like"),
        (
            [by_role("P", &role, &["us-east-1"]), vec![("endpoint", "file:///etc/passwd")]].concat(),
            "An endpoint is an address like",
        ),
        (
            vec![
                ("name", "P"),
                ("regions", "us-east-1"),
                ("auth", "access_key"),
                ("access_key_id", "AKIA123"),
                ("secret_access_key", "x"),
            ],
            "An access key ID has 20",
        ),
        (vec![("name", "P"), ("regions", "us-east-1"), ("auth", "telepathy")], "Choose how the console signs in"),
        ([by_role("P", &role, &["us-east-1"]), vec![("endpoint", closed.as_str())]].concat(), "did not answer"),
        (
            [by_role("P", &role, &["us-east-1"]), vec![("endpoint", not_ec2_url.as_str())]].concat(),
            "answered (HTTP 404), but not as an EC2 API does",
        ),
    ];
    for (form, message) in cases {
        let refused = client.post("/admin/accounts", &form).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{message}: {}", text(&refused.body));
        assert!(text(&refused.body).contains(message), "{message}: {}", text(&refused.body));
    }
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM accounts").await, 0);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM audit_events WHERE action = 'connect'").await, 0);
}

#[actix_web::test]
async fn an_access_key_connects_and_its_secret_is_never_shown_stored_or_logged_in_clear() {
    let logs = crate::harness::capture_logs();
    let app = TestApp::empty().await;
    let mut client = set_up(&app).await;
    let number = fresh_account();
    let (access_key_id, secret) = access_key_in(&number);
    let form = [
        ("name", "Keyed"),
        ("regions", "us-east-1"),
        ("auth", "access_key"),
        ("access_key_id", access_key_id.as_str()),
        ("secret_access_key", secret.expose()),
    ];
    let wrong_secret = client
        .post(
            "/admin/accounts",
            &[
                ("name", "Keyed"),
                ("regions", "us-east-1"),
                ("auth", "access_key"),
                ("access_key_id", access_key_id.as_str()),
                ("secret_access_key", ""),
            ],
        )
        .await;
    assert_eq!(wrong_secret.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&wrong_secret.body).contains("Enter the secret access key"));

    let connected = client.post("/admin/accounts", &form).await;
    assert_eq!(connected.status, StatusCode::SEE_OTHER, "{}", text(&connected.body));
    let mut conn = app.db().await;
    let sql = format!(
        "SELECT count(*) AS n FROM accounts WHERE provider_account_number = '{number}' AND auth = 'access_key' \
         AND access_key_id = '{access_key_id}' AND secret_sealed IS NOT NULL"
    );
    assert_eq!(count(&mut conn, &sql).await, 1);
    let audited = count(&mut conn, "SELECT count(*) AS n FROM audit_events WHERE action = 'connect' AND changes->>'secret_access_key' = '********'").await;
    assert_eq!(audited, 1);

    // The jobs open the secret to reach the account.
    app.run_jobs().await;
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM accounts WHERE synced_at IS NOT NULL").await, 1);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE state <> 'COMPLETE'").await, 0);

    // Nowhere in clear: not in the pages, not in the database, not in a log line.
    for path in ["/admin/accounts", "/images", "/jobs", "/audit"] {
        assert!(!client.get(path).await.body.contains(secret.expose()), "{path} shows the secret");
    }
    let dump =
        std::process::Command::new("pg_dump").arg("--data-only").arg(&app.database_url).output().expect("pg_dump");
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.contains(&access_key_id), "the dump holds the accounts");
    assert!(!dump.contains(secret.expose()), "the database holds the secret in clear");
    let logged = logs.text();
    assert!(logged.contains("job complete"), "the logs were captured");
    assert!(!logged.contains(secret.expose()), "a log line holds the secret");
}

/// What the accounts and their members hold: to tell that a refusal changed nothing.
async fn accounts_state(conn: &mut diesel_async::AsyncPgConnection) -> String {
    #[derive(diesel::QueryableByName)]
    struct State {
        #[diesel(sql_type = diesel::sql_types::Text)]
        state: String,
    }
    let row: State = diesel_async::RunQueryDsl::get_result(
        diesel::sql_query(
            "SELECT coalesce(string_agg(a::text, ';' ORDER BY a.id), '') || '|' ||
                    (SELECT coalesce(string_agg(m::text, ';' ORDER BY m.account_id, m.user_id), '') FROM account_memberships m) || '|' ||
                    (SELECT count(*) FROM audit_events)::text AS state
             FROM accounts a",
        ),
        conn,
    )
    .await
    .unwrap();
    row.state
}

#[actix_web::test]
async fn only_account_configure_opens_cloud_accounts_and_other_companies_ids_are_not_found() {
    let app = TestApp::spawn().await;
    let own = app.demo.acme_staging;
    let other = app.demo.globex_main;
    let mut conn = app.db().await;
    for (email, allowed) in [
        ("admin@acme.test", true),
        ("manager@acme.test", false),
        ("configurator@acme.test", false),
        ("viewer@acme.test", false),
    ] {
        let mut client = app.signed_in(email).await;
        let before = accounts_state(&mut conn).await;
        let list = client.get("/admin/accounts").await;
        let connect = client.post("/admin/accounts", &[("name", ""), ("auth", "assume_role")]).await;
        let own_edit = client.get(&format!("/admin/accounts/{own}")).await;
        let own_save = client
            .post(&format!("/admin/accounts/{own}"), &[("name", "Acme Staging"), ("auth", "keep"), ("version", "0")])
            .await;
        let other_edit = client.get(&format!("/admin/accounts/{other}")).await;
        let other_save = client
            .post(&format!("/admin/accounts/{other}"), &[("name", "Mine now"), ("auth", "keep"), ("version", "1")])
            .await;
        let other_disable = client.post(&format!("/admin/accounts/{other}/disable"), &[("version", "1")]).await;
        let other_enable = client.post(&format!("/admin/accounts/{other}/enable"), &[("version", "1")]).await;
        let other_delete = client.post(&format!("/admin/accounts/{other}/delete"), &[("version", "1")]).await;
        let statuses = [
            list.status,
            connect.status,
            own_edit.status,
            own_save.status,
            other_edit.status,
            other_save.status,
            other_disable.status,
            other_enable.status,
            other_delete.status,
        ];
        let wanted = if allowed {
            use StatusCode as S;
            [
                S::OK,
                S::UNPROCESSABLE_ENTITY,
                S::OK,
                S::CONFLICT,
                S::NOT_FOUND,
                S::NOT_FOUND,
                S::NOT_FOUND,
                S::NOT_FOUND,
                S::NOT_FOUND,
            ]
        } else {
            [StatusCode::FORBIDDEN; 9]
        };
        assert_eq!(statuses, wanted, "{email}");
        assert_eq!(accounts_state(&mut conn).await, before, "{email}: a refusal changes nothing");
        // The navigation offers the page only to those it opens for.
        let images = client.get("/images").await;
        assert_eq!(text(&images.body).contains("Cloud Accounts"), allowed, "{email}");
    }
    // Another company's administrator meets Acme's accounts as not found.
    let mut globex = app.signed_in("admin@globex.test").await;
    assert_eq!(globex.get(&format!("/admin/accounts/{own}")).await.status, StatusCode::NOT_FOUND);
    let listed = globex.get("/admin/accounts").await;
    assert!(!text(&listed.body).contains("Acme Staging"));
}

/// An administrator of one account of the company: the Config group holds
/// Admin in Acme Staging and stays Configurator in Acme Production.
#[actix_web::test]
async fn an_administrator_of_one_account_neither_changes_nor_deletes_another() {
    let app = TestApp::spawn().await;
    let (production, staging) = (app.demo.acme_production, app.demo.acme_staging);
    let mut conn = app.db().await;
    let promote = format!(
        "UPDATE group_roles SET role_id = (SELECT id FROM roles WHERE name = 'Admin' AND company_id = \
           (SELECT company_id FROM accounts WHERE id = {staging})) \
         WHERE account_id = {staging} AND group_id = (SELECT id FROM groups WHERE name = 'Config')"
    );
    diesel_async::RunQueryDsl::execute(diesel::sql_query(promote), &mut conn).await.unwrap();
    let mut sam = app.signed_in("configurator@acme.test").await;
    let switched = sam.post("/account", &[("account_id", &staging.to_string())]).await;
    assert_eq!(switched.status, StatusCode::SEE_OTHER);

    // The list offers Edit and Disable for Staging only.
    let list = sam.get("/admin/accounts").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains(&format!(r#"href="/admin/accounts/{staging}""#)));
    assert!(!list.body.contains(&format!(r#"href="/admin/accounts/{production}""#)), "no Edit for Production");
    assert!(!list.body.contains(&format!(r#"action="/admin/accounts/{production}/disable""#)));
    // The row says why it has no buttons.
    let row = text(&list.body);
    assert!(row.contains("Acme Production") && row.contains("Not administered by you"), "{row}");
    let own = sam.get(&format!("/admin/accounts/{staging}")).await;
    assert_eq!(own.status, StatusCode::OK);
    assert!(text(&own.body).contains("Delete Acme Staging"));

    // Production's page and every change of it are refused, and nothing changes.
    let before = accounts_state(&mut conn).await;
    let refusal = "Your role in “Acme Production” does not allow changing cloud accounts.";
    let edit = sam.get(&format!("/admin/accounts/{production}")).await;
    assert_eq!(edit.status, StatusCode::FORBIDDEN);
    assert!(text(&edit.body).contains(refusal), "{}", text(&edit.body));
    let path = format!("/admin/accounts/{production}");
    let answers = [
        sam.post(&path, &[("name", "Mine now"), ("auth", "keep"), ("version", "1")]).await,
        sam.post(&format!("{path}/disable"), &[("version", "1")]).await,
        sam.post(&format!("{path}/delete"), &[("version", "1"), ("confirm_name", "Acme Production")]).await,
    ];
    for (answer, action) in answers.iter().zip(["changing", "changing", "deleting"]) {
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{action}: {}", text(&answer.body));
        let said = format!("Your role in “Acme Production” does not allow {action} cloud accounts.");
        assert!(text(&answer.body).contains(&said), "{}", text(&answer.body));
    }
    assert_eq!(accounts_state(&mut conn).await, before, "a refusal changes nothing");

    // The recycle bin's retention rules Production's bin too: read, not changed.
    assert!(!list.body.contains(r#"action="/admin/accounts/retention""#), "no retention form");
    let said = "Deleted images wait 7 days in the recycle bin. This applies to every account of the company";
    assert!(row.contains(said), "{row}");
    let retention = sam.post("/admin/accounts/retention", &[("bin_retention_days", "0")]).await;
    assert_eq!(retention.status, StatusCode::FORBIDDEN, "{}", text(&retention.body));
    assert!(text(&retention.body).contains("Your role in “Acme Production” does not allow changing cloud accounts."));
    let days = "SELECT image_retention_days::bigint AS n FROM companies WHERE name = 'Acme'";
    assert_eq!(count(&mut conn, days).await, 7, "still a week in every bin");
}

/// Runs `sql` (an UPDATE or INSERT) on the test's database.
async fn execute(conn: &mut diesel_async::AsyncPgConnection, sql: &str) {
    diesel_async::RunQueryDsl::execute(diesel::sql_query(sql), conn).await.unwrap();
}

#[actix_web::test]
async fn whoever_connects_an_account_may_administer_it_or_it_is_not_connected() {
    let app = TestApp::spawn().await;
    let staging = app.demo.acme_staging;
    let mut conn = app.db().await;
    // Sam's group Config gets no role in new accounts; Sam administers Staging only.
    execute(
        &mut conn,
        &format!(
            "UPDATE group_roles SET role_id = (SELECT id FROM roles WHERE name = 'Admin' AND company_id = \
               (SELECT company_id FROM accounts WHERE id = {staging})) \
             WHERE account_id = {staging} AND group_id = (SELECT id FROM groups WHERE name = 'Config')"
        ),
    )
    .await;
    let mut sam = app.signed_in("configurator@acme.test").await;
    let switched = sam.post("/account", &[("account_id", &staging.to_string())]).await;
    assert_eq!(switched.status, StatusCode::SEE_OTHER);

    // Connected from Staging, the new account gives Config the role it has in Staging.
    let connected =
        sam.post("/admin/accounts", &by_role("Lab", &demo::role_arn(&fresh_account()), &["us-east-1"])).await;
    assert_eq!(connected.status, StatusCode::SEE_OTHER, "{}", text(&connected.body));
    let lab = count(&mut conn, "SELECT id AS n FROM accounts WHERE name = 'Lab'").await;
    let config_in_lab = format!(
        "SELECT count(*) AS n FROM group_roles gr JOIN groups g ON g.id = gr.group_id JOIN roles r ON r.id = gr.role_id \
         WHERE gr.account_id = {lab} AND g.name = 'Config' AND r.name = 'Admin'"
    );
    assert_eq!(count(&mut conn, &config_in_lab).await, 1);
    let edit = sam.get(&format!("/admin/accounts/{lab}")).await;
    assert_eq!(edit.status, StatusCode::OK, "Sam administers what he connected: {}", text(&edit.body));
    let audited = "SELECT count(*) AS n FROM audit_events WHERE action = 'connect' \
                   AND changes->>'roles_kept_from' = 'Acme Staging'";
    assert_eq!(count(&mut conn, audited).await, 1);

    // A role for new accounts that withholds the right refuses the connect, above the form as typed.
    execute(
        &mut conn,
        "UPDATE groups SET role_in_new_accounts = (SELECT id FROM roles r WHERE r.name = 'CSR' AND r.company_id = groups.company_id) \
         WHERE name = 'Config'",
    )
    .await;
    let refused =
        sam.post("/admin/accounts", &by_role("Lab 2", &demo::role_arn(&fresh_account()), &["us-east-1"])).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", text(&refused.body));
    let said = "You would not be able to administer “Lab 2”: the role your groups get in new accounts does not allow \
                configuring cloud accounts.";
    assert!(text(&refused.body).contains(said), "{}", text(&refused.body));
    assert!(refused.body.contains(r#"value="Lab 2""#), "the form keeps what was typed");
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM accounts WHERE name = 'Lab 2'").await, 0);
}

#[actix_web::test]
async fn an_account_is_renamed_given_members_rotated_and_disabled_then_enabled() {
    let app = TestApp::empty().await;
    let mut client = set_up(&app).await;
    let mut conn = app.db().await;
    let number = fresh_account();
    let connected =
        client.post("/admin/accounts", &by_role("Production", &demo::role_arn(&number), &["us-east-1"])).await;
    assert_eq!(connected.status, StatusCode::SEE_OTHER, "{}", text(&connected.body));
    let id = count(&mut conn, "SELECT id AS n FROM accounts").await.to_string();
    let path = format!("/admin/accounts/{id}");

    // A colleague, made a member through the edit page.
    let users = client.get("/admin/users").await;
    assert_eq!(users.status, StatusCode::OK);
    let admin_group = count(&mut conn, "SELECT id AS n FROM groups WHERE name = 'Admin'").await.to_string();
    let made = client
        .post(
            "/admin/users",
            &[
                ("given_name", "Samir"),
                ("family_name", "Nagheenanajar"),
                ("email", "samir@initech.test"),
                ("group_ids", admin_group.as_str()),
            ],
        )
        .await;
    assert!(made.status.is_success() || made.status.is_redirection(), "{}", text(&made.body));
    let samir = count(&mut conn, "SELECT id AS n FROM users WHERE email = 'samir@initech.test'").await.to_string();
    let peter = count(&mut conn, "SELECT id AS n FROM users WHERE email = 'peter@initech.test'").await.to_string();

    // Rotation to an access key of another provider account is refused at the field.
    let (stranger_key, stranger_secret) = access_key_in(&fresh_account());
    let form = |name: &'static str, version: &'static str| vec![("name", name), ("version", version)];
    let elsewhere = client
        .post(
            &path,
            &[
                form("Production", "1"),
                vec![
                    ("auth", "access_key"),
                    ("access_key_id", &stranger_key),
                    ("secret_access_key", stranger_secret.expose()),
                ],
            ]
            .concat(),
        )
        .await;
    assert_eq!(elsewhere.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", text(&elsewhere.body));
    assert!(text(&elsewhere.body).contains(&format!("not to {number}")), "{}", text(&elsewhere.body));

    // Rename, members and a key of the same account, at once.
    let (key, secret) = access_key_in(&number);
    let saved = client
        .post(
            &path,
            &[
                form("Production (ops)", "1"),
                vec![
                    ("auth", "access_key"),
                    ("access_key_id", &key),
                    ("secret_access_key", secret.expose()),
                    ("member_ids", &peter),
                    ("member_ids", &samir),
                ],
            ]
            .concat(),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", text(&saved.body));
    let sql = format!(
        "SELECT count(*) AS n FROM accounts WHERE name = 'Production (ops)' AND auth = 'access_key' AND role_arn IS NULL \
         AND access_key_id = '{key}' AND credentials_version = 2 AND version = 2"
    );
    assert_eq!(count(&mut conn, &sql).await, 1);
    assert_eq!(
        count(&mut conn, &format!("SELECT count(*) AS n FROM account_memberships WHERE account_id = {id}")).await,
        2
    );
    let audited = count(&mut conn, "SELECT count(*) AS n FROM audit_events WHERE action = 'update' AND resource = 'ACCOUNT' AND changes->'credentials'->>'secret_access_key' = '********'").await;
    assert_eq!(audited, 1);
    // A stale form is refused with what the account holds now.
    let stale = client.post(&path, &[form("Production (old)", "1"), vec![("auth", "keep")]].concat()).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(stale.body.contains("Production (ops)"), "{}", text(&stale.body));

    // Disabled: out of the switcher, its jobs wait; enabled: back, with fresh syncs.
    let disabled = client.post(&format!("{path}/disable"), &[("version", "2")]).await;
    assert_eq!(disabled.status, StatusCode::SEE_OTHER);
    let images = client.get("/images").await;
    assert_eq!((images.status, images.location()), (StatusCode::SEE_OTHER, Some("/admin/accounts?first=1")));
    let queued = count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE state = 'QUEUED'").await;
    assert!(queued > 0);
    app.run_jobs().await;
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE state = 'QUEUED'").await,
        queued,
        "a disabled account's jobs wait"
    );
    let enabled = client.post(&format!("{path}/enable"), &[("version", "3")]).await;
    assert_eq!(enabled.status, StatusCode::SEE_OTHER);
    assert_eq!(client.get("/images").await.status, StatusCode::OK);
    app.run_jobs().await;
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE state <> 'COMPLETE'").await,
        0,
        "the new key reaches the account"
    );
    let events = count(
        &mut conn,
        "SELECT count(*) AS n FROM audit_events WHERE resource = 'ACCOUNT' AND action IN ('disable', 'enable')",
    )
    .await;
    assert_eq!(events, 2);
}

#[actix_web::test]
async fn an_account_with_live_servers_is_not_deleted_and_one_without_is_removed_whole() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let busy = count(
        &mut conn,
        "SELECT account_id AS n FROM servers WHERE state NOT IN ('TERMINATED', 'ERROR') ORDER BY id LIMIT 1",
    )
    .await;
    let mut acme = app.signed_in("admin@acme.test").await;
    let before = accounts_state(&mut conn).await;
    let busy_name: String = {
        use diesel::QueryDsl as _;
        use diesel_async::RunQueryDsl as _;
        use stratus_console::db::schema::accounts;
        accounts::table.find(busy).select(accounts::name).first(&mut conn).await.unwrap()
    };
    let refused =
        acme.post(&format!("/admin/accounts/{busy}/delete"), &[("version", "1"), ("confirm_name", &busy_name)]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(text(&refused.body).contains("not terminated: terminate"), "{}", text(&refused.body));
    assert_eq!(accounts_state(&mut conn).await, before);

    // Globex's servers have been terminated (as a sync would record it).
    let globex = app.demo.globex_main;
    let terminated = format!("UPDATE servers SET state = 'TERMINATED' WHERE account_id = {globex}");
    diesel_async::RunQueryDsl::execute(diesel::sql_query(terminated), &mut conn).await.unwrap();
    let mut hank = app.signed_in("admin@globex.test").await;
    // The name must be typed again; anything else deletes nothing.
    for typed in ["", "globex main", "Acme Production"] {
        let asked =
            hank.post(&format!("/admin/accounts/{globex}/delete"), &[("version", "1"), ("confirm_name", typed)]).await;
        assert_eq!(asked.status, StatusCode::UNPROCESSABLE_ENTITY, "{typed:?}");
        assert!(text(&asked.body).contains("Type the account's name, “Globex Main”, to delete it."));
        assert!(asked.body.contains(r#"id="confirm-name" name="confirm_name" type="text" value="" maxlength="100" autocomplete="off" required aria-invalid="true""#));
    }
    assert_eq!(count(&mut conn, &format!("SELECT count(*) AS n FROM accounts WHERE id = {globex}")).await, 1);
    // A change the provider has not been told about yet (a share revoked)
    // would be dropped: refused until it is done. Its syncs do not count.
    let pending = format!(
        "INSERT INTO jobs (account_id, kind, payload, state, max_attempts, idempotency_key, subject) \
         VALUES ({globex}, 'launch_permission', '{{}}', 'QUEUED', 5, 'revoke-pending', 'image')"
    );
    diesel_async::RunQueryDsl::execute(diesel::sql_query(pending), &mut conn).await.unwrap();
    let refused = hank
        .post(&format!("/admin/accounts/{globex}/delete"), &[("version", "1"), ("confirm_name", "Globex Main")])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    let said = "Globex Main still has 1 change on its way to the provider (Provider Jobs lists it): deleting the \
                account now would drop it. Delete it once it is done.";
    assert!(text(&refused.body).contains(said), "{}", text(&refused.body));
    assert_eq!(count(&mut conn, &format!("SELECT count(*) AS n FROM accounts WHERE id = {globex}")).await, 1);
    let done = "UPDATE jobs SET state = 'COMPLETE', finished_at = now() WHERE idempotency_key = 'revoke-pending'";
    diesel_async::RunQueryDsl::execute(diesel::sql_query(done), &mut conn).await.unwrap();
    let deleted = hank
        .post(&format!("/admin/accounts/{globex}/delete"), &[("version", "1"), ("confirm_name", " Globex Main ")])
        .await;
    assert_eq!((deleted.status, deleted.location()), (StatusCode::SEE_OTHER, Some("/admin/accounts")));
    for table in [
        "accounts WHERE id",
        "image_records WHERE account_id",
        "servers WHERE account_id",
        "jobs WHERE account_id",
        "account_memberships WHERE account_id",
    ] {
        assert_eq!(count(&mut conn, &format!("SELECT count(*) AS n FROM {table} = {globex}")).await, 0, "{table}");
    }
    let audited = count(&mut conn, "SELECT count(*) AS n FROM audit_events WHERE action = 'delete' AND resource = 'ACCOUNT' AND account_id IS NULL AND changes->>'name' = 'Globex Main'").await;
    assert_eq!(audited, 1);
    // Acme's accounts are untouched, and Hank, without an account now, is led to connect one.
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM accounts").await, 2);
    let images = hank.get("/images").await;
    assert_eq!(images.location(), Some("/admin/accounts?first=1"));
}

#[actix_web::test]
async fn adding_and_editing_a_user_chooses_the_accounts_they_may_enter() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let (production, staging) = (app.demo.acme_production.to_string(), app.demo.acme_staging.to_string());
    let mut admin = app.signed_in("admin@acme.test").await;
    let person =
        [("given_name", "Joanna"), ("family_name", "Bell"), ("email", "joanna@acme.test"), ("accounts_shown", "1")];

    let none = admin.post("/admin/users", &person).await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&none.body).contains("Choose at least one account"), "{}", text(&none.body));
    let made = admin.post("/admin/users", &[&person[..], &[("account_ids", staging.as_str())]].concat()).await;
    assert!(made.status.is_success() || made.status.is_redirection(), "{}", text(&made.body));
    let joanna = count(&mut conn, "SELECT id AS n FROM users WHERE email = 'joanna@acme.test'").await;
    let memberships = |conn| async move {
        let mut conn = conn;
        count(
            &mut conn,
            &format!(
                "SELECT coalesce(sum(account_id), 0)::bigint AS n FROM account_memberships WHERE user_id = {joanna}"
            ),
        )
        .await
    };
    assert_eq!(memberships(app.db().await).await, app.demo.acme_staging);

    let edit = admin.get(&format!("/admin/users/{joanna}/edit")).await;
    assert_eq!(edit.status, StatusCode::OK);
    let version =
        count(&mut conn, &format!("SELECT version::bigint AS n FROM users WHERE id = {joanna}")).await.to_string();
    let both = [
        ("given_name", "Joanna"),
        ("family_name", "Bell"),
        ("email", "joanna@acme.test"),
        ("accounts_shown", "1"),
        ("account_ids", production.as_str()),
        ("account_ids", staging.as_str()),
        ("version", version.as_str()),
    ];
    let saved = admin.post(&format!("/admin/users/{joanna}"), &both).await;
    assert!(saved.status.is_success() || saved.status.is_redirection(), "{}", text(&saved.body));
    assert_eq!(memberships(app.db().await).await, app.demo.acme_production + app.demo.acme_staging);
    let audited = count(&mut conn, &format!("SELECT count(*) AS n FROM audit_events WHERE resource = 'USER' AND resource_id = '{joanna}' AND changes ? 'accounts'")).await;
    assert_eq!(audited, 2, "the create and the edit record the accounts");
}

/// A local EC2 endpoint that checks access keys, signatures and IAM policies
/// as AWS does, after the first `free` calls (which make its users).
struct CheckingEndpoint {
    server: std::process::Child,
    url: String,
}

impl Drop for CheckingEndpoint {
    fn drop(&mut self) {
        let _ = self.server.kill();
    }
}

/// Starts it and makes, in its default account 123456789012, the IAM users
/// `nopower` (no policy) and `ec2reader` (may describe EC2, may use STS);
/// their `(id, secret)` keys.
async fn checking_endpoint() -> (CheckingEndpoint, (String, String), (String, String)) {
    let moto = std::env::var("TEST_MOTO_SERVER").expect("TEST_MOTO_SERVER is set by `make test`");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = std::process::Command::new(&moto)
        .args(["-p", &port.to_string()])
        // The five calls below make the users; every later one is checked.
        .env("INITIAL_NO_AUTH_ACTION_COUNT", "5")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start a checking local endpoint");
    let endpoint = CheckingEndpoint { server, url: format!("http://127.0.0.1:{port}") };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let python = std::path::Path::new(&moto).with_file_name("python");
    let script = r#"
import sys, json, boto3
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1")
keys = []
for user in ["nopower", "ec2reader"]:
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    keys += [key["AccessKeyId"], key["SecretAccessKey"]]
iam.put_user_policy(UserName="ec2reader", PolicyName="read", PolicyDocument=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["ec2:Describe*", "sts:*"], "Resource": "*"}]}))
print(" ".join(keys))
"#;
    let out = std::process::Command::new(python).args(["-c", script, &endpoint.url]).output().expect("run python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = String::from_utf8(out.stdout).unwrap();
    let keys: Vec<String> = out.split_whitespace().map(str::to_owned).collect();
    let [nopower_id, nopower_secret, reader_id, reader_secret] = <[String; 4]>::try_from(keys).expect("two keys");
    (endpoint, (nopower_id, nopower_secret), (reader_id, reader_secret))
}

/// A form, where its error shows, and what the error says.
type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);

/// The Connect account form for an access key at `url`.
fn by_key<'a>(url: &'a str, id: &'a str, secret: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", "Checked"),
        ("regions", "us-east-1"),
        ("endpoint", url),
        ("auth", "access_key"),
        ("access_key_id", id),
        ("secret_access_key", secret),
    ]
}

#[actix_web::test]
async fn an_endpoint_that_checks_credentials_refuses_each_bad_one_with_its_own_message() {
    let (endpoint, (nopower_id, nopower_secret), (reader_id, reader_secret)) = checking_endpoint().await;
    // The console's own credentials are `nopower`'s: it may not assume roles.
    // SAFETY: set before the app starts any thread that reads the environment.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", &nopower_id);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", &nopower_secret);
    }
    let app = TestApp::empty().await;
    let mut client = set_up(&app).await;
    let endpoint_url = endpoint.url.clone();
    let url = endpoint_url.as_str();
    let wrong = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let role = [("name", "Checked"), ("regions", "us-east-1"), ("endpoint", url), ("auth", "assume_role")];
    let cases: Vec<Case<'_>> = vec![
        (by_key(url, "AKIAUNKNOWNKEY000000", wrong), "account-access-key-id-error", "The access key is not known"),
        (by_key(url, &reader_id, wrong), "account-secret-error", "secret access key does not match"),
        (by_key(url, &nopower_id, &nopower_secret), "account-access-key-id-error", "may not call EC2"),
        (
            [&role[..], &[("role_arn", "arn:aws:iam::123456789012:role/StratusConsole")]].concat(),
            "account-role-arn-error",
            "The role could not be assumed",
        ),
    ];
    for (form, at, message) in cases {
        let refused = client.post("/admin/accounts", &form).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{message}: {}", text(&refused.body));
        let shown = refused.body.split(&format!("id=\"{at}\"")).nth(1).unwrap_or_default();
        let errors: Vec<&str> =
            refused.body.split("role=\"alert\">").skip(1).map(|e| e.split('<').next().unwrap_or_default()).collect();
        assert!(shown.split("</p>").next().unwrap_or_default().contains(message), "{message} at {at}: {errors:?}");
    }
    let mut conn = app.db().await;
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM accounts").await, 0, "no failed test saves anything");

    let works = client
        .post("/admin/accounts", &[by_key(url, &reader_id, &reader_secret), vec![("test_only", "1")]].concat())
        .await;
    assert_eq!(works.status, StatusCode::OK, "{}", text(&works.body));
    assert!(text(&works.body).contains("provider account 123456789012"), "{}", text(&works.body));

    // Connected, then the endpoint goes away: a new key's test fails, said at the way to sign in.
    let connected = client.post("/admin/accounts", &by_key(url, &reader_id, &reader_secret)).await;
    assert_eq!(connected.status, StatusCode::SEE_OTHER, "{}", text(&connected.body));
    let id = count(&mut conn, "SELECT id AS n FROM accounts").await;
    let me = count(&mut conn, "SELECT id AS n FROM users").await.to_string();
    let gone = format!("The endpoint {url} did not answer.");
    drop(endpoint);
    let rotated = client
        .post(
            &format!("/admin/accounts/{id}"),
            &[
                ("version", "1"),
                ("name", "Checked"),
                ("member_ids", &me),
                ("auth", "access_key"),
                ("access_key_id", &reader_id),
                ("secret_access_key", &reader_secret),
            ],
        )
        .await;
    assert_eq!(rotated.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", text(&rotated.body));
    let shown = rotated.body.split("id=\"auth-error\"").nth(1).unwrap_or_default();
    assert!(shown.split("</p>").next().unwrap_or_default().contains(&gone), "{}", text(&rotated.body));
}

#[actix_web::test]
async fn the_consoles_own_credentials_connect_the_account_they_belong_to() {
    let app = TestApp::empty().await;
    let mut client = set_up(&app).await;
    // At the local endpoint the console's own key (AWS's example key) acts
    // in the endpoint's default account.
    let form = [("name", "Own"), ("regions", "us-east-1"), ("auth", "ambient")];
    let connected = client.post("/admin/accounts", &form).await;
    assert_eq!(connected.status, StatusCode::SEE_OTHER, "{}", text(&connected.body));
    let mut conn = app.db().await;
    let sql = "SELECT count(*) AS n FROM accounts WHERE auth = 'ambient' AND provider_account_number = '123456789012' \
               AND role_arn IS NULL AND access_key_id IS NULL";
    assert_eq!(count(&mut conn, sql).await, 1);
    let listed = client.get("/admin/accounts").await;
    assert!(text(&listed.body).contains("The console's own credentials"), "{}", text(&listed.body));
}
