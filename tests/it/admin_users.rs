//! The Users page: the list, adding a user with a password shown once,
//! editing, resetting a password, deactivating (which ends live sessions)
//! and reactivating; bad input at the field; no escalation; the last
//! administrator; and another company's ids. The same rules for the
//! members chosen on Cloud Accounts' edit page.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use reqwest::StatusCode;
use stratus_console::db::{self, schema::*};

use crate::admin_roles::new_group;
use crate::harness::{Client, TestApp, count, text};

pub(crate) async fn user_id(conn: &mut AsyncPgConnection, email: &str) -> i64 {
    users::table.filter(users::email.eq(email)).select(users::id).first(conn).await.unwrap()
}

pub(crate) async fn group_id(conn: &mut AsyncPgConnection, company_of: &str, name: &str) -> i64 {
    groups::table
        .inner_join(companies::table.on(companies::id.eq(groups::company_id)))
        .filter(companies::name.eq(company_of))
        .filter(groups::name.eq(name))
        .select(groups::id)
        .first(conn)
        .await
        .unwrap()
}

/// Puts `user` into `group`.
pub(crate) async fn join(conn: &mut AsyncPgConnection, group: i64, user: i64) {
    diesel::insert_into(group_members::table)
        .values((group_members::group_id.eq(group), group_members::user_id.eq(user)))
        .execute(conn)
        .await
        .unwrap();
}

/// A new group of Acme with the role Admin in `account` only.
async fn admins_of(conn: &mut AsyncPgConnection, name: &str, account: i64) -> i64 {
    let acme: i64 =
        companies::table.filter(companies::name.eq("Acme")).select(companies::id).first(conn).await.unwrap();
    let admin_role: i64 = roles::table
        .filter(roles::company_id.eq(acme))
        .filter(roles::name.eq("Admin"))
        .select(roles::id)
        .first(conn)
        .await
        .unwrap();
    let group: i64 = diesel::insert_into(groups::table)
        .values((groups::company_id.eq(acme), groups::name.eq(name)))
        .returning(groups::id)
        .get_result(conn)
        .await
        .unwrap();
    diesel::insert_into(group_roles::table)
        .values((
            group_roles::group_id.eq(group),
            group_roles::account_id.eq(account),
            group_roles::role_id.eq(admin_role),
        ))
        .execute(conn)
        .await
        .unwrap();
    group
}

async fn code_id(conn: &mut AsyncPgConnection, name: &str) -> i64 {
    budget_codes::table
        .inner_join(companies::table.on(companies::id.eq(budget_codes::company_id)))
        .filter(companies::name.eq("Acme"))
        .filter(budget_codes::name.eq(name))
        .select(budget_codes::id)
        .first(conn)
        .await
        .unwrap()
}

/// Everything the administration pages could change, as text.
pub(crate) async fn fingerprint(conn: &mut AsyncPgConnection) -> String {
    let people: Vec<(i64, String, String, String, String, String, i32)> = users::table
        .order(users::id)
        .select((
            users::id,
            users::email,
            users::given_name,
            users::family_name,
            users::status,
            users::password_hash,
            users::version,
        ))
        .load(conn)
        .await
        .unwrap();
    let members: Vec<(i64, i64)> =
        group_members::table.order((group_members::group_id, group_members::user_id)).load(conn).await.unwrap();
    let codes: Vec<(i64, i64)> = user_budget_codes::table
        .order((user_budget_codes::user_id, user_budget_codes::budget_code_id))
        .load(conn)
        .await
        .unwrap();
    let accounts: Vec<(i64, i64)> = account_memberships::table
        .order((account_memberships::account_id, account_memberships::user_id))
        .load(conn)
        .await
        .unwrap();
    let group_rows: Vec<(i64, i64, String, String, i32, Option<i64>)> =
        groups::table.order(groups::id).load(conn).await.unwrap();
    let role_rows: Vec<(i64, i64, String, String, bool, i32)> = roles::table.order(roles::id).load(conn).await.unwrap();
    let rights: Vec<(i64, i64, String, String, String)> =
        access_rights::table.order(access_rights::id).load(conn).await.unwrap();
    let given: Vec<(i64, i64, i64)> =
        group_roles::table.order((group_roles::group_id, group_roles::account_id)).load(conn).await.unwrap();
    let sessions = count(conn, "SELECT count(*) AS n FROM sessions").await;
    let events = count(conn, "SELECT count(*) AS n FROM audit_events").await;
    format!(
        "{people:?}\n{members:?}\n{codes:?}\n{accounts:?}\n{group_rows:?}\n{role_rows:?}\n{rights:?}\n{given:?}\n\
         sessions {sessions} events {events}"
    )
}

/// The generated password in an answer.
fn password_in(body: &str) -> String {
    let marker = "data-secret>";
    let start = body.find(marker).expect("a password is shown") + marker.len();
    body[start..].split('<').next().unwrap().to_owned()
}

pub(crate) async fn last_event(conn: &mut AsyncPgConnection) -> (String, String, Option<String>, serde_json::Value) {
    audit_events::table
        .filter(audit_events::resource.eq_any(["USER", "GROUP", "ROLE"]))
        .filter(audit_events::action.ne("sign_in"))
        .order(audit_events::id.desc())
        .select((audit_events::action, audit_events::resource, audit_events::resource_id, audit_events::changes))
        .first(conn)
        .await
        .unwrap()
}

#[actix_web::test]
async fn the_list_shows_the_companys_users_with_groups_codes_and_status() {
    let app = TestApp::spawn().await;
    let mut admin = app.signed_in("admin@acme.test").await;

    let page = admin.get("/admin/users").await;

    assert_eq!(page.status, StatusCode::OK);
    let seen = text(&page.body);
    assert!(seen.contains("Users Users"), "the navigation has the Users section: {seen}");
    assert!(seen.contains("Chen Riley viewer@acme.test Support Default Active"), "{seen}");
    assert!(!seen.contains("globex"), "another company's users are not listed: {seen}");
}

#[actix_web::test]
async fn adding_a_user_shows_the_password_once_and_stores_only_its_hash() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let support = group_id(&mut conn, "Acme", "Support").await.to_string();
    let default = code_id(&mut conn, "Default").await.to_string();

    let answer = admin
        .post_htmx(
            "/admin/users",
            &[
                ("given_name", " Dana "),
                ("family_name", "Scully"),
                ("email", "dana@acme.test"),
                ("group_ids", &support),
                ("budget_code_ids", &default),
            ],
        )
        .await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let password = password_in(&answer.body);
    assert_eq!(password.len(), 20);
    assert!(text(&answer.body).contains("Scully Dana dana@acme.test Support Default Active"));
    let (hash, status): (String, String) = users::table
        .filter(users::email.eq("dana@acme.test"))
        .select((users::password_hash, users::status))
        .first(&mut conn)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains(&password));
    assert_eq!(status, "active");
    let id = user_id(&mut conn, "dana@acme.test").await;
    assert_eq!(
        count(&mut conn, &format!("SELECT count(*) AS n FROM account_memberships WHERE user_id = {id}")).await,
        1
    );
    let (action, resource, resource_id, changes) = last_event(&mut conn).await;
    assert_eq!((action.as_str(), resource.as_str()), ("create", "USER"));
    assert_eq!(resource_id, Some(id.to_string()));
    assert_eq!(changes["password"], "********");
    assert_eq!(changes["groups"], serde_json::json!(["Support"]));
    assert!(!changes.to_string().contains(&password));

    // The password works, and the list shown later does not carry it.
    let mut dana = app.client();
    assert_eq!(dana.login("dana@acme.test", &password).await.status, StatusCode::SEE_OTHER);
    assert!(!admin.get("/admin/users").await.body.contains(&password));
}

#[actix_web::test]
async fn bad_input_comes_back_at_the_field_and_adds_nobody() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let before = fingerprint(&mut conn).await;

    let empty = admin.post_htmx("/admin/users", &[("given_name", " "), ("family_name", ""), ("email", "x")]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    let seen = text(&empty.body);
    assert!(seen.contains("Enter the first name.") && seen.contains("Enter the last name."), "{seen}");
    assert!(seen.contains("An email address looks like name@example.com."), "{seen}");
    assert!(empty.body.contains("id=\"user-email\" name=\"email\" type=\"email\" value=\"x\""));

    let taken =
        admin.post("/admin/users", &[("given_name", "R"), ("family_name", "C"), ("email", "VIEWER@acme.test")]).await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&taken.body).contains("A user of your company has this email already"), "{}", taken.body);

    let elsewhere =
        admin.post("/admin/users", &[("given_name", "H"), ("family_name", "S"), ("email", "Admin@Globex.test")]).await;
    assert_eq!(elsewhere.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&elsewhere.body).contains("This email is already in use."));
    assert_eq!(before, fingerprint(&mut conn).await);
}

/// Two companies' administrators add the same email at the same moment:
/// each check sees it free, and the second write meets the unique index. It
/// is refused at the field as any taken email is, not answered with a 500.
#[actix_web::test]
async fn an_email_another_company_takes_at_the_same_moment_is_refused_at_the_field() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let globex: i64 =
        companies::table.filter(companies::name.eq("Globex")).select(companies::id).first(&mut conn).await.unwrap();
    let globex_admin = crate::harness::hold_open(&app, async move |c| {
        let new = db::users::NewUser::active(globex, "sam@both.test", ("Sam", "Globex"), "x");
        db::users::insert(c, &new).await.unwrap();
    })
    .await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let added = actix_web::rt::spawn(async move {
        admin
            .post_htmx("/admin/users", &[("given_name", "Sam"), ("family_name", "Acme"), ("email", "sam@both.test")])
            .await
    });
    crate::harness::until_one_waits(&mut conn, "the second insert").await;
    globex_admin.commit().await;
    let refused = added.await.unwrap();
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(text(&refused.body).contains("This email is already in use."), "{}", refused.body);
    let users = count(&mut conn, "SELECT count(*) AS n FROM users WHERE email = 'sam@both.test'").await;
    assert_eq!(users, 1, "Globex's only");
}

#[actix_web::test]
async fn editing_changes_names_groups_and_codes_and_records_what_changed() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let viewer = user_id(&mut conn, "viewer@acme.test").await;
    let config = group_id(&mut conn, "Acme", "Config").await.to_string();

    let dialog = admin.get_htmx(&format!("/admin/users/{viewer}/edit"), "modal").await;
    assert_eq!(dialog.status, StatusCode::OK);
    assert!(text(&dialog.body).contains("Riley Chen: Edit"));
    assert!(dialog.body.contains("value=\"viewer@acme.test\""));

    let saved = admin
        .post_htmx(
            &format!("/admin/users/{viewer}"),
            &[
                ("given_name", "Rylee"),
                ("family_name", "Chen"),
                ("email", "rylee@acme.test"),
                ("group_ids", &config),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert_eq!(saved.header("HX-Trigger"), Some("close-dialog"));
    assert!(text(&saved.body).contains("Chen Rylee rylee@acme.test Config none Active"), "{}", text(&saved.body));
    let (action, _, _, changes) = last_event(&mut conn).await;
    assert_eq!(action, "update");
    assert_eq!(changes["email"], serde_json::json!({ "from": "viewer@acme.test", "to": "rylee@acme.test" }));
    assert_eq!(changes["groups"], serde_json::json!({ "from": ["Support"], "to": ["Config"] }));
    assert!(changes.get("family_name").is_none(), "unchanged fields are not recorded: {changes}");

    let duplicate = admin
        .post_htmx(
            &format!("/admin/users/{viewer}"),
            &[("given_name", "R"), ("family_name", "C"), ("email", "Manager@acme.test"), ("version", "2")],
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&duplicate.body).contains("This email is already in use."));
}

#[actix_web::test]
async fn deactivating_ends_a_live_session_and_reactivating_lets_them_back() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut viewer = app.signed_in("viewer@acme.test").await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let id = user_id(&mut conn, "viewer@acme.test").await;

    let asked = admin.get_htmx(&format!("/admin/users/{id}/deactivate"), "modal").await;
    assert!(text(&asked.body).contains("Deactivate Riley Chen?"));
    let done = admin.post_htmx(&format!("/admin/users/{id}/deactivate"), &[]).await;

    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(text(&done.body).contains("Deactivated Riley Chen; their sessions have ended"));
    assert!(text(&done.body).contains("viewer@acme.test Support Default Inactive"));
    assert_eq!(count(&mut conn, &format!("SELECT count(*) AS n FROM sessions WHERE user_id = {id}")).await, 0);
    let next = viewer.get("/images").await;
    assert_eq!(next.status, StatusCode::SEE_OTHER);
    assert!(next.location().is_some_and(|l| l.starts_with("/login")), "{:?}", next.location());
    assert_eq!(
        app.client().login("viewer@acme.test", stratus_console::demo::PASSWORD).await.status,
        StatusCode::FORBIDDEN
    );
    let (action, _, _, changes) = last_event(&mut conn).await;
    assert_eq!(action, "deactivate");
    assert_eq!(changes["sessions_ended"], 1);

    let back = admin.post(&format!("/admin/users/{id}/reactivate"), &[]).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    assert_eq!(back.location(), Some("/admin/users"));
    app.signed_in("viewer@acme.test").await;
}

#[actix_web::test]
async fn resetting_a_password_shows_the_new_one_once_and_the_old_one_stops_working() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let id = user_id(&mut conn, "manager@acme.test").await;

    let done = admin.post_htmx(&format!("/admin/users/{id}/password"), &[]).await;

    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.header("hx-retarget"), Some("#modal"));
    assert_eq!(done.header("cache-control"), Some("no-store"));
    let password = password_in(&done.body);
    let old = app.client().login("manager@acme.test", stratus_console::demo::PASSWORD).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED, "the old password no longer signs in");
    assert_eq!(app.client().login("manager@acme.test", &password).await.status, StatusCode::SEE_OTHER);
    let (action, _, _, changes) = last_event(&mut conn).await;
    assert_eq!((action.as_str(), changes["password"].as_str()), ("reset_password", Some("********")));
}

#[actix_web::test]
async fn the_last_administrator_cannot_be_deactivated_or_taken_out_of_admin() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let me = user_id(&mut conn, "admin@acme.test").await;
    let support = group_id(&mut conn, "Acme", "Support").await.to_string();
    let before = fingerprint(&mut conn).await;

    let myself = admin.post_htmx(&format!("/admin/users/{me}/deactivate"), &[]).await;
    assert_eq!(myself.status, StatusCode::CONFLICT);
    assert!(text(&myself.body).contains("You cannot deactivate yourself."));

    let demoted = admin
        .post_htmx(
            &format!("/admin/users/{me}"),
            &[
                ("given_name", "Alex"),
                ("family_name", "Admin"),
                ("email", "admin@acme.test"),
                ("group_ids", &support),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(demoted.status, StatusCode::CONFLICT, "{}", demoted.body);
    assert!(text(&demoted.body).contains("without an active user holding Admin"), "{}", demoted.body);
    assert_eq!(before, fingerprint(&mut conn).await);

    // With a second administrator, the first may step down.
    let manager = user_id(&mut conn, "manager@acme.test").await;
    let admins = group_id(&mut conn, "Acme", "Admin").await;
    let ops = group_id(&mut conn, "Acme", "Ops").await;
    let (admins, ops) = (admins.to_string(), ops.to_string());
    let promoted = admin
        .post_htmx(
            &format!("/admin/users/{manager}"),
            &[
                ("given_name", "Morgan"),
                ("family_name", "Manager"),
                ("email", "manager@acme.test"),
                ("group_ids", &ops),
                ("group_ids", &admins),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.body);
    let mut manager_client = app.signed_in("manager@acme.test").await;
    assert_eq!(manager_client.post(&format!("/admin/users/{me}/deactivate"), &[]).await.status, StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn the_last_administrator_of_one_account_is_kept_and_an_administrator_of_another_cannot_reach_them() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    // The manager administers Production (a group with Admin there only);
    // Staging has the demo administrator alone.
    let prod_admins = admins_of(&mut conn, "Production admins", app.demo.acme_production).await;
    let manager = user_id(&mut conn, "manager@acme.test").await;
    join(&mut conn, prod_admins, manager).await;
    let me = user_id(&mut conn, "admin@acme.test").await;
    let support = group_id(&mut conn, "Acme", "Support").await.to_string();
    let mut admin = app.signed_in("admin@acme.test").await;
    let mut boss = app.signed_in("manager@acme.test").await;
    let before = fingerprint(&mut conn).await;

    let demoted = admin
        .post_htmx(
            &format!("/admin/users/{me}"),
            &[
                ("given_name", "Alex"),
                ("family_name", "Morgan"),
                ("email", "admin@acme.test"),
                ("group_ids", &support),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(demoted.status, StatusCode::CONFLICT, "{}", demoted.body);
    assert!(
        text(&demoted.body).contains("This would leave Acme Staging without an administrator"),
        "{}",
        text(&demoted.body)
    );

    // An administrator of Production alone cannot reach Staging's: deactivating
    // them is refused before the last-administrator rule is asked.
    let deactivated = boss.post_htmx(&format!("/admin/users/{me}/deactivate"), &[]).await;
    assert_eq!(deactivated.status, StatusCode::FORBIDDEN, "{}", deactivated.body);
    assert!(
        text(&deactivated.body).contains("You cannot change Alex Morgan: they hold ANY ANY ANY in Acme Staging"),
        "{}",
        deactivated.body
    );
    assert_eq!(before, fingerprint(&mut conn).await, "nothing written, the sessions kept");
}

/// The version an edit dialog carries.
pub(crate) fn version_in(body: &str) -> String {
    let marker = "name=\"version\" value=\"";
    let start = body.find(marker).expect("the dialog carries a version") + marker.len();
    body[start..].split('"').next().unwrap().to_owned()
}

#[actix_web::test]
async fn two_administrators_editing_one_user_the_second_gets_409_with_the_current_values() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let admins = group_id(&mut conn, "Acme", "Admin").await;
    let manager = user_id(&mut conn, "manager@acme.test").await;
    join(&mut conn, admins, manager).await;
    let viewer = user_id(&mut conn, "viewer@acme.test").await;
    let support = group_id(&mut conn, "Acme", "Support").await.to_string();
    let config = group_id(&mut conn, "Acme", "Config").await.to_string();
    let mut first = app.signed_in("admin@acme.test").await;
    let mut second = app.signed_in("manager@acme.test").await;
    let url = format!("/admin/users/{viewer}");
    let edit = format!("{url}/edit");

    // Both open the dialog before either saves.
    let read_first = first.get_htmx(&edit, "modal").await;
    let read_second = second.get_htmx(&edit, "modal").await;
    assert_eq!((version_in(&read_first.body), version_in(&read_second.body)), ("1".to_owned(), "1".to_owned()));
    let saved = first
        .post_htmx(
            &url,
            &[
                ("given_name", "Rylee"),
                ("family_name", "Chen"),
                ("email", "viewer@acme.test"),
                ("group_ids", &support),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    let before = fingerprint(&mut conn).await;

    let theirs = |version: &'static str| {
        [
            ("given_name", "Riley"),
            ("family_name", "Chan"),
            ("email", "riley@acme.test"),
            ("group_ids", config.as_str()),
            ("version", version),
        ]
    };
    let stale = second.post_htmx(&url, &theirs("1")).await;

    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    assert_eq!(stale.header("hx-retarget"), Some("#modal"), "the answer is the dialog again");
    assert!(
        text(&stale.body)
            .contains("Someone else changed this user meanwhile: here is what it holds now; save again to replace it."),
        "{}",
        text(&stale.body)
    );
    assert!(stale.body.contains("value=\"Rylee\"") && stale.body.contains("value=\"viewer@acme.test\""));
    assert!(stale.body.contains(&format!("value=\"{support}\" checked")), "the current groups are checked");
    assert!(!stale.body.contains(&format!("value=\"{config}\" checked")));
    assert_eq!(version_in(&stale.body), "2", "the dialog carries the current version");
    assert_eq!(before, fingerprint(&mut conn).await, "nothing overwritten, no event");

    let again = second.post_htmx(&url, &theirs("2")).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    let row: (String, String, String, i32) = users::table
        .find(viewer)
        .select((users::given_name, users::family_name, users::email, users::version))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(row, ("Riley".to_owned(), "Chan".to_owned(), "riley@acme.test".to_owned(), 3));
    let (action, _, _, changes) = last_event(&mut conn).await;
    assert_eq!(action, "update");
    assert_eq!(changes["given_name"], serde_json::json!({ "from": "Rylee", "to": "Riley" }));

    // Every write of the user moves the version on: a dialog read before a
    // password reset is stale too.
    assert_eq!(version_in(&second.get_htmx(&edit, "modal").await.body), "3");
    assert_eq!(first.post_htmx(&format!("{url}/password"), &[]).await.status, StatusCode::OK);
    assert_eq!(second.post_htmx(&url, &theirs("3")).await.status, StatusCode::CONFLICT);

    // A form without a version was not made by the page: 400, nothing written.
    let before = fingerprint(&mut conn).await;
    let bare = second.post_htmx(&url, &[("given_name", "X"), ("family_name", "Y"), ("email", "x@acme.test")]).await;
    assert_eq!(bare.status, StatusCode::BAD_REQUEST);
    assert_eq!(before, fingerprint(&mut conn).await);
}

/// Every POST of the Users page, with its form.
async fn user_posts(conn: &mut AsyncPgConnection) -> Vec<(String, Vec<(&'static str, String)>)> {
    let viewer = user_id(conn, "viewer@acme.test").await;
    let admins = group_id(conn, "Acme", "Admin").await.to_string();
    let person = |email: &str| {
        vec![
            ("given_name", "Eve".to_owned()),
            ("family_name", "Mallory".to_owned()),
            ("email", email.to_owned()),
            ("group_ids", admins.clone()),
        ]
    };
    vec![
        ("/admin/users".to_owned(), person("eve@acme.test")),
        (format!("/admin/users/{viewer}"), person("viewer@acme.test")),
        (format!("/admin/users/{viewer}/password"), vec![]),
        (format!("/admin/users/{viewer}/deactivate"), vec![]),
        (format!("/admin/users/{viewer}/reactivate"), vec![]),
        (format!("/admin/users/{viewer}/membership"), vec![]),
    ]
}

async fn post_form(client: &mut Client, path: &str, form: &[(&'static str, String)]) -> crate::harness::Response {
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    client.post(path, &form).await
}

#[actix_web::test]
async fn escalation_every_users_post_by_each_non_admin_role_is_forbidden_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let posts = user_posts(&mut conn).await;
    for email in ["manager@acme.test", "configurator@acme.test", "viewer@acme.test"] {
        let mut client = app.signed_in(email).await;
        assert_eq!(client.get("/admin/users").await.status, StatusCode::FORBIDDEN, "{email} sees the page");
        assert!(!text(&client.get("/images").await.body).contains("Users Users"), "{email}: no Users section");
        let before = fingerprint(&mut conn).await;
        for (path, form) in &posts {
            let response = post_form(&mut client, path, form).await;
            assert_eq!(response.status, StatusCode::FORBIDDEN, "{email} POST {path}: {}", response.body);
        }
        assert_eq!(before, fingerprint(&mut conn).await, "{email}: nothing changed");
    }
}

/// Gives Support (the viewer's group) a role that administers users and
/// nothing else; the group's id.
async fn support_administers_users(conn: &mut AsyncPgConnection) -> i64 {
    let acme: i64 =
        companies::table.filter(companies::name.eq("Acme")).select(companies::id).first(conn).await.unwrap();
    let role: i64 = diesel::insert_into(roles::table)
        .values((roles::company_id.eq(acme), roles::name.eq("UserAdmin")))
        .returning(roles::id)
        .get_result(conn)
        .await
        .unwrap();
    for (resource, action) in [("CONSOLE", "Access"), ("IMAGE", "Access"), ("USER", "ANY")] {
        diesel::insert_into(access_rights::table)
            .values((
                access_rights::role_id.eq(role),
                access_rights::resource.eq(resource),
                access_rights::action.eq(action),
                access_rights::qualifier.eq("ANY"),
            ))
            .execute(conn)
            .await
            .unwrap();
    }
    let support = group_id(conn, "Acme", "Support").await;
    diesel::update(group_roles::table.filter(group_roles::group_id.eq(support)))
        .set(group_roles::role_id.eq(role))
        .execute(conn)
        .await
        .unwrap();
    support
}

#[actix_web::test]
async fn a_user_administrator_cannot_put_people_into_groups_with_more_rights_than_their_own() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let support = support_administers_users(&mut conn).await;
    let mut viewer = app.signed_in("viewer@acme.test").await;
    assert_eq!(viewer.get("/admin/users").await.status, StatusCode::OK);
    let before = fingerprint(&mut conn).await;

    for group in ["Admin", "Config"] {
        let id = group_id(&mut conn, "Acme", group).await.to_string();
        let form = [("given_name", "Eve"), ("family_name", "M"), ("email", "eve@acme.test"), ("group_ids", &id)];
        let refused = viewer.post("/admin/users", &form).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "into {group}: {}", refused.body);
        assert!(text(&refused.body).contains("You cannot grant"), "{}", refused.body);
    }
    assert_eq!(before, fingerprint(&mut conn).await);

    let same = support.to_string();
    let allowed = viewer
        .post(
            "/admin/users",
            &[("given_name", "Eve"), ("family_name", "M"), ("email", "eve@acme.test"), ("group_ids", &same)],
        )
        .await;
    assert_eq!(allowed.status, StatusCode::OK, "rights they hold themselves may be given: {}", allowed.body);
}

#[actix_web::test]
async fn a_user_administrator_cannot_reset_edit_or_deactivate_someone_who_holds_more_than_they_do() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let support = support_administers_users(&mut conn).await.to_string();
    let mut viewer = app.signed_in("viewer@acme.test").await;
    let admin = user_id(&mut conn, "admin@acme.test").await;
    let version: i32 = users::table.find(admin).select(users::version).first(&mut conn).await.unwrap();
    let version = version.to_string();
    let before = fingerprint(&mut conn).await;

    let edit = [
        ("given_name", "Avery"),
        ("family_name", "Admin"),
        ("email", "admin@acme.test"),
        ("group_ids", &support),
        ("version", &version),
    ];
    for (path, form) in [
        (format!("/admin/users/{admin}/password"), &[][..]),
        (format!("/admin/users/{admin}/deactivate"), &[][..]),
        (format!("/admin/users/{admin}"), &edit[..]),
    ] {
        let refused = viewer.post(&path, form).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "POST {path}: {}", refused.body);
        assert!(text(&refused.body).contains("You cannot change"), "POST {path}: {}", refused.body);
        assert!(text(&refused.body).contains("ANY ANY ANY"), "it names the right: {}", refused.body);
    }
    assert_eq!(before, fingerprint(&mut conn).await, "the administrator's password, groups and status are kept");
    let mut admin_client = app.signed_in("admin@acme.test").await;
    assert_eq!(admin_client.get("/admin/users").await.status, StatusCode::OK, "and they can still sign in");

    // Someone who holds no more than the user administrator stays in reach.
    let form = [("given_name", "Eve"), ("family_name", "M"), ("email", "eve@acme.test"), ("group_ids", &support)];
    assert_eq!(viewer.post("/admin/users", &form).await.status, StatusCode::OK);
    let eve = user_id(&mut conn, "eve@acme.test").await;
    let reset = viewer.post(&format!("/admin/users/{eve}/password"), &[]).await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    assert!(text(&reset.body).contains("New password of eve@acme.test"), "{}", reset.body);
    // And an Admin keeps reaching everyone: the administrator resets the user administrator's password.
    let viewer_id = user_id(&mut conn, "viewer@acme.test").await;
    let reset = admin_client.post(&format!("/admin/users/{viewer_id}/password"), &[]).await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
}

#[actix_web::test]
async fn another_companys_administrator_gets_404_for_acme_users() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut hank = app.signed_in("admin@globex.test").await;
    let viewer = user_id(&mut conn, "viewer@acme.test").await;
    let before = fingerprint(&mut conn).await;

    assert!(!text(&hank.get("/admin/users").await.body).contains("viewer@acme.test"));
    assert_eq!(hank.get(&format!("/admin/users/{viewer}/edit")).await.status, StatusCode::NOT_FOUND);
    for action in ["deactivate", "password", "membership"] {
        let response = hank.post(&format!("/admin/users/{viewer}/{action}"), &[]).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{action}");
    }
    let edit = hank
        .post(&format!("/admin/users/{viewer}"), &[("given_name", "X"), ("family_name", "Y"), ("email", "x@y.test")])
        .await;
    assert_eq!(edit.status, StatusCode::NOT_FOUND);
    assert_eq!(before, fingerprint(&mut conn).await);
}

#[actix_web::test]
async fn browser_admin_adds_a_user_and_edits_a_roles_access_rights() {
    use fantoccini::Locator;

    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let browser = crate::browser::Browser::start().await;
    let b = &browser.client;
    b.goto(&app.url("/login")).await.unwrap();
    b.find(Locator::Id("email")).await.unwrap().send_keys("admin@acme.test").await.unwrap();
    b.find(Locator::Id("password")).await.unwrap().send_keys(stratus_console::demo::PASSWORD).await.unwrap();
    b.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("Machine Images").await;

    // Users: the navigation leads there; add a user in Support holding Default.
    b.find(Locator::LinkText("Users")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("New user").await;
    browser.screenshot("admin-users").await;
    b.find(Locator::Id("user-given-name")).await.unwrap().send_keys("Dana").await.unwrap();
    b.find(Locator::Id("user-family-name")).await.unwrap().send_keys("Scully").await.unwrap();
    b.find(Locator::Id("user-email")).await.unwrap().send_keys("dana@acme.test").await.unwrap();
    let support = group_id(&mut conn, "Acme", "Support").await;
    let default = code_id(&mut conn, "Default").await;
    b.find(Locator::Css(&format!("#user-form input[name=group_ids][value='{support}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.find(Locator::Css(&format!("#user-form input[name=budget_code_ids][value='{default}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.find(Locator::Css("#user-form button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("Password of dana@acme.test").await;
    browser.wait_for_text("Scully Dana dana@acme.test Support Default Active").await;
    browser.screenshot("admin-users-added").await;
    let shown = b.find(Locator::Css("code.secret")).await.unwrap().text().await.unwrap();
    assert_eq!(shown.len(), 20);
    let id = user_id(&mut conn, "dana@acme.test").await;

    // Edit her in the dialog.
    b.find(Locator::Css(&format!("#user-{id} summary.actions-button"))).await.unwrap().click().await.unwrap();
    b.wait()
        .for_element(Locator::Css(&format!("#user-{id} [role=menuitem][href$='/edit']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait().for_element(Locator::Css("dialog[open]")).await.unwrap();
    browser.wait_for_text("Dana Scully: Edit").await;
    browser.screenshot("admin-users-edit").await;
    b.find(Locator::Css("dialog[open] [data-close]")).await.unwrap().click().await.unwrap();

    // Roles: open CSR's Access Rights, add IMAGE Configure MINE, then delete it.
    b.goto(&app.url("/admin/roles")).await.unwrap();
    browser.wait_for_text("New role").await;
    browser.screenshot("admin-roles").await;
    let csr: i64 = roles::table
        .inner_join(companies::table.on(companies::id.eq(roles::company_id)))
        .filter(companies::name.eq("Acme"))
        .filter(roles::name.eq("CSR"))
        .select(roles::id)
        .first(&mut conn)
        .await
        .unwrap();
    b.find(Locator::Css(&format!("#role-{csr} summary.actions-button"))).await.unwrap().click().await.unwrap();
    b.wait()
        .for_element(Locator::Css(&format!("#role-{csr} [role=menuitem][href$='/rights']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait().for_element(Locator::Css("dialog[open]")).await.unwrap();
    browser.wait_for_text("CSR: Access Rights").await;
    b.find(Locator::Css("dialog[open] select[name=resource]")).await.unwrap().select_by_value("IMAGE").await.unwrap();
    b.find(Locator::Css("dialog[open] select[name=action]")).await.unwrap().select_by_value("Configure").await.unwrap();
    b.find(Locator::Css("dialog[open] select[name=qualifier]")).await.unwrap().select_by_value("MINE").await.unwrap();
    b.find(Locator::Css("dialog[open] button[form=add-right]")).await.unwrap().click().await.unwrap();
    browser.wait_for_text("CSR has IMAGE Configure MINE now").await;
    b.wait().for_element(Locator::Css("dialog[open]")).await.unwrap();
    browser.screenshot("admin-roles-rights").await;
    let added = count(
        &mut conn,
        &format!(
            "SELECT count(*) AS n FROM access_rights WHERE role_id = {csr} AND resource = 'IMAGE' AND action = 'Configure' AND qualifier = 'MINE'"
        ),
    )
    .await;
    assert_eq!(added, 1);
    b.find(Locator::Css("dialog[open] button[aria-label='Delete IMAGE Configure MINE']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.wait_for_text("CSR no longer has IMAGE Configure MINE").await;
    let left = count(
        &mut conn,
        &format!("SELECT count(*) AS n FROM access_rights WHERE role_id = {csr} AND qualifier = 'MINE'"),
    )
    .await;
    assert_eq!(left, 0);
}

/// The members of `account`, by user id.
async fn members_of(conn: &mut AsyncPgConnection, account: i64) -> Vec<i64> {
    stratus_console::db::accounts::members(conn, account).await.unwrap()
}

/// Posts Cloud Accounts' edit form of `account` (name and credentials
/// kept) with `members`.
async fn save_members(
    client: &mut Client,
    conn: &mut AsyncPgConnection,
    account: i64,
    members: &[i64],
) -> crate::harness::Response {
    let (name, version): (String, i32) =
        accounts::table.find(account).select((accounts::name, accounts::version)).first(conn).await.unwrap();
    let mut form = vec![("name", name), ("auth", "keep".to_owned()), ("version", version.to_string())];
    form.extend(members.iter().map(|m| ("member_ids", m.to_string())));
    post_form(client, &format!("/admin/accounts/{account}"), &form).await
}

#[actix_web::test]
async fn a_cloud_accounts_members_are_chosen_under_the_users_pages_rules() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let staging = app.demo.acme_staging;
    // The manager administers Production only; the configurator, in Admin,
    // is not a member of Staging, whose one administrator is the demo's.
    let prod_admins = admins_of(&mut conn, "Production admins", app.demo.acme_production).await;
    let manager = user_id(&mut conn, "manager@acme.test").await;
    join(&mut conn, prod_admins, manager).await;
    let configurator = user_id(&mut conn, "configurator@acme.test").await;
    let admins = group_id(&mut conn, "Acme", "Admin").await;
    join(&mut conn, admins, configurator).await;
    diesel::delete(account_memberships::table.find((staging, configurator))).execute(&mut conn).await.unwrap();
    let me = user_id(&mut conn, "admin@acme.test").await;
    let members = members_of(&mut conn, staging).await;
    let without = |gone: i64| members.iter().copied().filter(|m| *m != gone).collect::<Vec<_>>();
    let mut boss = app.signed_in("manager@acme.test").await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let before = fingerprint(&mut conn).await;

    // An administrator of Production may not change Staging at all…
    let refused = save_members(&mut boss, &mut conn, staging, &members).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", text(&refused.body));
    let said = "Your role in “Acme Staging” does not allow changing cloud accounts.";
    assert!(text(&refused.body).contains(said), "{}", text(&refused.body));
    assert_eq!(before, fingerprint(&mut conn).await);
    // …and, given the right to configure it (a role of ACCOUNT ANY ANY
    // there), neither takes Staging's administrator from it…
    let keeper = format!(
        "WITH r AS (INSERT INTO roles (company_id, name, description, is_default) \
                    SELECT company_id, 'Account keeper', '', false FROM accounts WHERE id = {staging} RETURNING id), \
              a AS (INSERT INTO access_rights (role_id, resource, action, qualifier) \
                    SELECT id, 'ACCOUNT', 'ANY', 'ANY' FROM r), \
              g AS (INSERT INTO groups (company_id, name) \
                    SELECT company_id, 'Staging keepers' FROM accounts WHERE id = {staging} RETURNING id), \
              gr AS (INSERT INTO group_roles (group_id, account_id, role_id) SELECT g.id, {staging}, r.id FROM g, r) \
         INSERT INTO group_members (group_id, user_id) SELECT id, {manager} FROM g"
    );
    diesel::sql_query(keeper).execute(&mut conn).await.unwrap();
    let before = fingerprint(&mut conn).await;
    let ousted = save_members(&mut boss, &mut conn, staging, &without(me)).await;
    assert_eq!(ousted.status, StatusCode::FORBIDDEN, "{}", text(&ousted.body));
    assert!(
        text(&ousted.body)
            .contains("You cannot change Alex Morgan &#60;admin@acme.test&#62;: they hold ANY ANY ANY in Acme Staging"),
        "{}",
        text(&ousted.body)
    );
    assert!(ousted.body.contains("name=\"member_ids\""), "said on the edit form");
    // …nor lets an administrator in.
    let let_in = save_members(&mut boss, &mut conn, staging, &[members.clone(), vec![configurator]].concat()).await;
    assert_eq!(let_in.status, StatusCode::FORBIDDEN, "{}", text(&let_in.body));
    assert!(text(&let_in.body).contains("your own rights in Acme Staging do not include it"), "{}", text(&let_in.body));
    assert_eq!(before, fingerprint(&mut conn).await);

    // Its own administrator may not leave Staging without one (named as it
    // is, not as the refused form would rename it)…
    let version: i32 = accounts::table.find(staging).select(accounts::version).first(&mut conn).await.unwrap();
    let mut form = vec![("name", "Staging renamed".to_owned()), ("auth", "keep".to_owned())];
    form.push(("version", version.to_string()));
    form.extend(without(me).iter().map(|m| ("member_ids", m.to_string())));
    let orphaned = post_form(&mut admin, &format!("/admin/accounts/{staging}"), &form).await;
    assert_eq!(orphaned.status, StatusCode::CONFLICT, "{}", text(&orphaned.body));
    assert!(text(&orphaned.body).contains("This would leave Acme Staging without an administrator"));
    assert_eq!(before, fingerprint(&mut conn).await);
    // …but lets another in, and then may leave.
    let joined = save_members(&mut admin, &mut conn, staging, &[members.clone(), vec![configurator]].concat()).await;
    assert_eq!(joined.status, StatusCode::SEE_OTHER, "{}", text(&joined.body));
    let left = save_members(&mut admin, &mut conn, staging, &[without(me), vec![configurator]].concat()).await;
    assert_eq!(left.status, StatusCode::SEE_OTHER, "{}", text(&left.body));
    assert!(!members_of(&mut conn, staging).await.contains(&me));

    // A deactivated member, whom the form does not offer, stays one.
    let viewer = user_id(&mut conn, "viewer@acme.test").await;
    diesel::update(users::table.find(viewer)).set(users::status.eq("inactive")).execute(&mut conn).await.unwrap();
    let mut config = app.signed_in("configurator@acme.test").await;
    let offered: Vec<i64> = members_of(&mut conn, staging).await.into_iter().filter(|m| *m != viewer).collect();
    let saved = save_members(&mut config, &mut conn, staging, &offered).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", text(&saved.body));
    assert!(members_of(&mut conn, staging).await.contains(&viewer));
}

/// A user administrator whose own servers rights reach only what their
/// budget code pays for and their group owns cannot reach further by
/// giving codes or groups, to themselves or to a user they add.
#[actix_web::test]
async fn a_user_administrator_cannot_widen_anyones_reach_with_budget_codes_or_groups() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let support = support_administers_users(&mut conn).await;
    // Beside administering users: servers billed to their codes, images of their groups.
    let role: i64 = group_roles::table
        .filter(group_roles::group_id.eq(support))
        .select(group_roles::role_id)
        .first(&mut conn)
        .await
        .unwrap();
    for (resource, action, qualifier) in
        [("SERVER", "Access", "BILLING"), ("SERVER", "Terminate", "BILLING"), ("IMAGE", "Configure", "GROUP")]
    {
        diesel::insert_into(access_rights::table)
            .values((
                access_rights::role_id.eq(role),
                access_rights::resource.eq(resource),
                access_rights::action.eq(action),
                access_rights::qualifier.eq(qualifier),
            ))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let night = new_group(&mut conn, "Night").await.to_string();
    let (support, default, operations) = (
        support.to_string(),
        code_id(&mut conn, "Default").await.to_string(),
        code_id(&mut conn, "Operations").await.to_string(),
    );
    let viewer = user_id(&mut conn, "viewer@acme.test").await;
    let version: i32 = users::table.find(viewer).select(users::version).first(&mut conn).await.unwrap();
    let version = version.to_string();
    let mut client = app.signed_in("viewer@acme.test").await;
    let before = fingerprint(&mut conn).await;

    // Eve, a new user in Support, with `more`.
    let eve = |more: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        let fields = [("given_name", "Eve"), ("family_name", "M"), ("email", "eve@acme.test"), ("group_ids", &support)];
        fields.iter().chain(more).map(|(k, v)| (*k, (*v).to_owned())).collect()
    };
    let themselves: Vec<(&str, String)> = [
        ("given_name", "Riley"),
        ("family_name", "Chen"),
        ("email", "viewer@acme.test"),
        ("group_ids", &support),
        ("budget_code_ids", &default),
        ("budget_code_ids", &operations),
        ("version", &version),
    ]
    .iter()
    .map(|(k, v)| (*k, (*v).to_owned()))
    .collect();
    let refusals = [
        // Themselves: Operations pays for servers their rights do not reach.
        (
            format!("/admin/users/{viewer}"),
            themselves,
            "SERVER Access BILLING would reach the images and servers billed to “Operations”",
        ),
        // Someone new, with Operations.
        ("/admin/users".to_owned(), eve(&[("budget_code_ids", &operations)]), "billed to “Operations”"),
        // Someone new, also in a group the administrator is not in.
        (
            "/admin/users".to_owned(),
            eve(&[("group_ids", &night)]),
            "IMAGE Configure GROUP would reach the images and servers of the group “Night”",
        ),
    ];
    for (path, form, why) in refusals {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let refused = client.post(&path, &form).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "POST {path} {form:?}: {}", refused.body);
        assert!(text(&refused.body).contains(why), "{why}: {}", text(&refused.body));
    }
    assert_eq!(before, fingerprint(&mut conn).await, "nobody's groups or codes changed");

    // What they reach themselves is theirs to give.
    let form = eve(&[("budget_code_ids", &default)]);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let added = client.post("/admin/users", &form).await;
    assert_eq!(added.status, StatusCode::OK, "{}", text(&added.body));
}
