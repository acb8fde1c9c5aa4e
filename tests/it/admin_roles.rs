//! The Groups and Roles pages: adding, editing, deleting groups, Set Role,
//! roles and their access rights; no escalation; the last administrator;
//! and another company's ids.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use reqwest::StatusCode;
use stratus_console::db::schema::*;

use crate::admin_users::{fingerprint, group_id, last_event, version_in};
use crate::harness::{TestApp, count, text};

async fn role_id(conn: &mut AsyncPgConnection, company: &str, name: &str) -> i64 {
    roles::table
        .inner_join(companies::table.on(companies::id.eq(roles::company_id)))
        .filter(companies::name.eq(company))
        .filter(roles::name.eq(name))
        .select(roles::id)
        .first(conn)
        .await
        .unwrap()
}

async fn acme(conn: &mut AsyncPgConnection) -> i64 {
    companies::table.filter(companies::name.eq("Acme")).select(companies::id).first(conn).await.unwrap()
}

/// A role of Acme with these `(resource, action)` rights, all qualified `ANY`.
pub(crate) async fn make_role(conn: &mut AsyncPgConnection, name: &str, rights: &[(&str, &str)]) -> i64 {
    let rights: Vec<_> = rights.iter().map(|&(resource, action)| (resource, action, "ANY")).collect();
    make_qualified_role(conn, name, &rights).await
}

/// A role of Acme with these `(resource, action, qualifier)` rights.
pub(crate) async fn make_qualified_role(
    conn: &mut AsyncPgConnection,
    name: &str,
    rights: &[(&str, &str, &str)],
) -> i64 {
    let company = acme(conn).await;
    let role: i64 = diesel::insert_into(roles::table)
        .values((roles::company_id.eq(company), roles::name.eq(name)))
        .returning(roles::id)
        .get_result(conn)
        .await
        .unwrap();
    for (resource, action, qualifier) in rights {
        diesel::insert_into(access_rights::table)
            .values((
                access_rights::role_id.eq(role),
                access_rights::resource.eq(*resource),
                access_rights::action.eq(*action),
                access_rights::qualifier.eq(*qualifier),
            ))
            .execute(conn)
            .await
            .unwrap();
    }
    role
}

/// Gives `group` the role in every account it has one in.
pub(crate) async fn give(conn: &mut AsyncPgConnection, group: i64, role: i64) {
    diesel::update(group_roles::table.filter(group_roles::group_id.eq(group)))
        .set(group_roles::role_id.eq(role))
        .execute(conn)
        .await
        .unwrap();
}

async fn role_in(conn: &mut AsyncPgConnection, group: i64, account: i64) -> Option<i64> {
    group_roles::table
        .filter(group_roles::group_id.eq(group))
        .filter(group_roles::account_id.eq(account))
        .select(group_roles::role_id)
        .first(conn)
        .await
        .optional()
        .unwrap()
}

#[actix_web::test]
async fn groups_are_listed_with_their_role_added_edited_and_deleted_when_empty() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut admin = app.signed_in("admin@acme.test").await;

    let page = admin.get("/admin/groups").await;
    assert_eq!(page.status, StatusCode::OK);
    let seen = text(&page.body);
    assert!(seen.contains("Users Users Groups Roles"), "{seen}");
    assert!(seen.contains("Ops Operations: runs the servers CloudManager 1"), "{seen}");

    let added = admin.post_htmx("/admin/groups", &[("name", " QA "), ("description", "Testers")]).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert!(text(&added.body).contains("QA Testers no role 0"), "{}", text(&added.body));
    let qa = group_id(&mut conn, "Acme", "QA").await;
    let (action, resource, _, changes) = last_event(&mut conn).await;
    assert_eq!((action.as_str(), resource.as_str()), ("create", "GROUP"));
    assert_eq!(changes["name"], "QA");

    let composed = admin.post_htmx("/admin/groups", &[("name", "Café  Team"), ("description", "")]).await;
    assert_eq!(composed.status, StatusCode::OK, "{}", composed.body);
    assert!(text(&composed.body).contains("7 Café Team — no role"), "stored with one space: {}", text(&composed.body));
    // Names that look alike are one name: spaces, and an accent typed apart.
    for (name, message) in [
        ("", "Enter the group name."),
        ("ops", "Your company has a group named “ops” already."),
        ("Cafe\u{301} Team", "Your company has a group named “Café Team” already."),
        ("café \u{a0} team", "Your company has a group named “café team” already."),
    ] {
        let refused = admin.post_htmx("/admin/groups", &[("name", name), ("description", "")]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(text(&refused.body).contains(message), "{}", refused.body);
    }

    let edited = admin
        .post_htmx(&format!("/admin/groups/{qa}"), &[("name", "Quality"), ("description", "Testers"), ("version", "1")])
        .await;
    assert_eq!(edited.status, StatusCode::OK);
    assert!(text(&edited.body).contains("Quality Testers no role"));

    let ops = group_id(&mut conn, "Acme", "Ops").await;
    let busy = admin.post_htmx(&format!("/admin/groups/{ops}/delete"), &[]).await;
    assert_eq!(busy.status, StatusCode::CONFLICT);
    assert!(text(&busy.body).contains("It has 1 member."), "{}", busy.body);

    let asked = admin.get_htmx(&format!("/admin/groups/{qa}/delete"), "modal").await;
    assert!(text(&asked.body).contains("Are you sure you want to delete Quality?"));
    let deleted = admin.post_htmx(&format!("/admin/groups/{qa}/delete"), &[]).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(count(&mut conn, &format!("SELECT count(*) AS n FROM groups WHERE id = {qa}")).await, 0);
}

#[actix_web::test]
async fn set_role_gives_a_group_one_role_in_this_account_only() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let support = group_id(&mut conn, "Acme", "Support").await;
    let configurator = role_id(&mut conn, "Acme", "Configurator").await;
    let csr = role_id(&mut conn, "Acme", "CSR").await;

    let dialog = admin.get_htmx(&format!("/admin/groups/{support}/role"), "modal").await;
    assert!(text(&dialog.body).contains("Support: Set Role"));
    assert!(dialog.body.contains(&format!("<option value=\"{csr}\" selected>CSR</option>")), "{}", dialog.body);

    let set =
        admin.post_htmx(&format!("/admin/groups/{support}/role"), &[("role_id", &configurator.to_string())]).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert!(text(&set.body).contains("Support Customer support, read only Configurator"));
    assert_eq!(role_in(&mut conn, support, app.demo.acme_production).await, Some(configurator));
    assert_eq!(role_in(&mut conn, support, app.demo.acme_staging).await, Some(csr), "other accounts keep theirs");
    let (action, _, _, changes) = last_event(&mut conn).await;
    assert_eq!(action, "set_role");
    assert_eq!(changes["role"], serde_json::json!({ "from": "CSR", "to": "Configurator" }));

    // The viewer's rights change with their next request: they may configure now.
    let mut viewer = app.signed_in("viewer@acme.test").await;
    assert!(text(&viewer.get("/keypairs").await.body).contains("New key pair"));

    // A form without the field is malformed: it takes nothing away.
    let malformed = admin.post_htmx(&format!("/admin/groups/{support}/role"), &[]).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST, "{}", malformed.body);
    assert_eq!(role_in(&mut conn, support, app.demo.acme_production).await, Some(configurator));

    // Nor does a value of spaces: only the "No role" option's empty value.
    let spaces = admin.post_htmx(&format!("/admin/groups/{support}/role"), &[("role_id", " ")]).await;
    assert_eq!(spaces.status, StatusCode::BAD_REQUEST, "{}", spaces.body);
    assert!(text(&spaces.body).contains("The role is not a number."), "{}", spaces.body);
    assert_eq!(role_in(&mut conn, support, app.demo.acme_production).await, Some(configurator));

    let none = admin.post_htmx(&format!("/admin/groups/{support}/role"), &[("role_id", "")]).await;
    assert_eq!(none.status, StatusCode::OK);
    assert_eq!(role_in(&mut conn, support, app.demo.acme_production).await, None);
}

/// The Set Role dialog sends back the role it showed: a role another
/// administrator set meanwhile is not replaced unseen. The dialog comes back
/// with the role as it is now, and choosing again sets it.
#[actix_web::test]
async fn set_role_over_a_role_set_meanwhile_shows_it_and_asks_again() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let mut admin = app.signed_in("admin@acme.test").await;
    let support = group_id(&mut conn, "Acme", "Support").await;
    let configurator = role_id(&mut conn, "Acme", "Configurator").await.to_string();
    let csr = role_id(&mut conn, "Acme", "CSR").await.to_string();
    let path = format!("/admin/groups/{support}/role");

    let dialog = admin.get_htmx(&path, "modal").await;
    assert!(dialog.body.contains(&format!(r#"name="shown_role_id" value="{csr}""#)), "{}", dialog.body);
    // Another administrator takes the role away meanwhile.
    let mut other = app.signed_in("admin@acme.test").await;
    assert_eq!(other.post_htmx(&path, &[("role_id", ""), ("shown_role_id", &csr)]).await.status, StatusCode::OK);

    let stale = admin.post_htmx(&path, &[("role_id", &configurator), ("shown_role_id", &csr)]).await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    let says = "Someone else set the role of “Support” meanwhile: it has no role now. Choose again to replace it.";
    assert!(text(&stale.body).contains(says), "{}", text(&stale.body));
    assert!(stale.body.contains(r#"<option value="" selected>No role</option>"#), "as it is now: {}", stale.body);
    assert!(stale.body.contains(r#"name="shown_role_id" value="""#), "{}", stale.body);
    assert_eq!(role_in(&mut conn, support, production).await, None, "nothing replaced");

    let again = admin.post_htmx(&path, &[("role_id", &configurator), ("shown_role_id", "")]).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(role_in(&mut conn, support, production).await.map(|id| id.to_string()), Some(configurator));
}

#[actix_web::test]
async fn the_admin_group_cannot_lose_the_last_admin_role() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let admins = group_id(&mut conn, "Acme", "Admin").await;
    let admin_role = role_id(&mut conn, "Acme", "Admin").await;
    let csr = role_id(&mut conn, "Acme", "CSR").await.to_string();
    let staging = app.demo.acme_staging;

    // Production still has its administrator, but Staging would have none
    // (issue 15: this used to be allowed, and Staging was orphaned).
    let switched = admin.post("/account", &[("account_id", &staging.to_string())]).await;
    assert_eq!(switched.status, StatusCode::SEE_OTHER);
    let before = fingerprint(&mut conn).await;
    for role in [csr.as_str(), ""] {
        let refused = admin.post_htmx(&format!("/admin/groups/{admins}/role"), &[("role_id", role)]).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
        assert!(
            text(&refused.body).contains("This would leave Acme Staging without an administrator"),
            "{}",
            text(&refused.body)
        );
    }
    assert_eq!(before, fingerprint(&mut conn).await, "nothing written");
    assert_eq!(role_in(&mut conn, admins, staging).await, Some(admin_role));

    // With another administrator in Staging, the Admin group's role there may go.
    let stage_admins = new_group(&mut conn, "Stage admins").await;
    give_in(&mut conn, stage_admins, staging, admin_role).await;
    let manager = crate::admin_users::user_id(&mut conn, "manager@acme.test").await;
    crate::admin_users::join(&mut conn, stage_admins, manager).await;
    let allowed = admin.post_htmx(&format!("/admin/groups/{admins}/role"), &[("role_id", &csr)]).await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.body);

    admin.post("/account", &[("account_id", &app.demo.acme_production.to_string())]).await;
    let before = fingerprint(&mut conn).await;
    let refused = admin.post_htmx(&format!("/admin/groups/{admins}/role"), &[("role_id", &csr)]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(text(&refused.body).contains("without an active user holding Admin"));
    assert!(text(&refused.body).contains("This would leave Acme Production without an administrator"));
    assert_eq!(before, fingerprint(&mut conn).await);
}

#[actix_web::test]
async fn a_right_taken_from_the_role_that_makes_one_accounts_administrators_is_refused() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut admin = app.signed_in("admin@acme.test").await;
    // In Staging the Admin group has Boss instead of Admin; Production keeps Admin.
    let boss = make_role(&mut conn, "Boss", &[("ANY", "ANY")]).await;
    let admin_group = group_id(&mut conn, "Acme", "Admin").await;
    give_in(&mut conn, admin_group, app.demo.acme_staging, boss).await;
    let boss_right: i64 = access_rights::table
        .filter(access_rights::role_id.eq(boss))
        .select(access_rights::id)
        .first(&mut conn)
        .await
        .unwrap();
    let before = fingerprint(&mut conn).await;

    let refused = admin.post_htmx(&format!("/admin/roles/{boss}/rights/{boss_right}/delete"), &[]).await;

    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(
        text(&refused.body).contains("This would leave Acme Staging without an administrator"),
        "{}",
        text(&refused.body)
    );
    assert_eq!(before, fingerprint(&mut conn).await, "nothing written");
}

#[actix_web::test]
async fn roles_are_added_and_their_access_rights_edited() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut admin = app.signed_in("admin@acme.test").await;

    let page = admin.get("/admin/roles").await;
    assert!(text(&page.body).contains("CloudManager default All work on images"), "{}", text(&page.body));

    let added = admin.post_htmx("/admin/roles", &[("name", "Auditor"), ("description", "Reads")]).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let auditor = role_id(&mut conn, "Acme", "Auditor").await;

    let dialog = admin.get_htmx(&format!("/admin/roles/{auditor}/rights"), "modal").await;
    assert!(text(&dialog.body).contains("Auditor: Access Rights"));
    assert!(text(&dialog.body).contains("No access rights yet"));

    let form = [("resource", "IMAGE"), ("action", "Access"), ("qualifier", "GROUP")];
    let with_right = admin.post_htmx(&format!("/admin/roles/{auditor}/rights"), &form).await;
    assert_eq!(with_right.status, StatusCode::OK, "{}", with_right.body);
    assert_eq!(with_right.header("hx-retarget"), Some("#modal"));
    assert!(text(&with_right.body).contains("IMAGE Access GROUP Delete"), "{}", text(&with_right.body));
    let (action, _, _, changes) = last_event(&mut conn).await;
    assert_eq!(action, "add_right");
    assert_eq!(changes["added_right"]["qualifier"], "GROUP");

    let again = admin.post_htmx(&format!("/admin/roles/{auditor}/rights"), &form).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(text(&again.body).contains("Auditor has IMAGE Access GROUP already."));

    let right: i64 = access_rights::table
        .filter(access_rights::role_id.eq(auditor))
        .select(access_rights::id)
        .first(&mut conn)
        .await
        .unwrap();
    let gone = admin.post_htmx(&format!("/admin/roles/{auditor}/rights/{right}/delete"), &[]).await;
    assert_eq!(gone.status, StatusCode::OK);
    assert_eq!(
        count(&mut conn, &format!("SELECT count(*) AS n FROM access_rights WHERE role_id = {auditor}")).await,
        0
    );

    let edited = admin
        .post_htmx(&format!("/admin/roles/{auditor}"), &[("name", "Auditors"), ("description", ""), ("version", "1")])
        .await;
    assert_eq!(edited.status, StatusCode::OK);
    assert!(text(&edited.body).contains("Auditors"));
    let csr = role_id(&mut conn, "Acme", "CSR").await;
    let renamed = admin
        .post_htmx(&format!("/admin/roles/{csr}"), &[("name", "Support"), ("description", ""), ("version", "1")])
        .await;
    assert_eq!(renamed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&renamed.body).contains("A default role keeps its name."));

    let default = admin.post_htmx(&format!("/admin/roles/{csr}/delete"), &[]).await;
    assert_eq!(default.status, StatusCode::CONFLICT);
    assert!(text(&default.body).contains("The default roles cannot be deleted."));
    let qa = group_id(&mut conn, "Acme", "Support").await;
    admin.post_htmx(&format!("/admin/groups/{qa}/role"), &[("role_id", &auditor.to_string())]).await;
    let in_use = admin.post_htmx(&format!("/admin/roles/{auditor}/delete"), &[]).await;
    assert_eq!(in_use.status, StatusCode::CONFLICT);
    assert!(text(&in_use.body).contains("1 group has this role in an account."), "{}", in_use.body);
    admin.post_htmx(&format!("/admin/groups/{qa}/role"), &[("role_id", &csr.to_string())]).await;
    let asked = admin.get_htmx(&format!("/admin/roles/{auditor}/delete"), "modal").await;
    assert!(text(&asked.body).contains("Are you sure you want to delete Auditors?"));
    let deleted = admin.post_htmx(&format!("/admin/roles/{auditor}/delete"), &[]).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(count(&mut conn, &format!("SELECT count(*) AS n FROM roles WHERE id = {auditor}")).await, 0);
    let (action, resource, _, _) = last_event(&mut conn).await;
    assert_eq!((action.as_str(), resource.as_str()), ("delete", "ROLE"));
}

#[actix_web::test]
async fn admins_rights_cannot_be_reduced_and_the_last_admin_right_cannot_go() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let admin_role = role_id(&mut conn, "Acme", "Admin").await;
    let right: i64 = access_rights::table
        .filter(access_rights::role_id.eq(admin_role))
        .select(access_rights::id)
        .first(&mut conn)
        .await
        .unwrap();
    let before = fingerprint(&mut conn).await;
    // Its dialog offers neither Delete nor Add: it holds everything.
    let dialog = admin.get_htmx(&format!("/admin/roles/{admin_role}/rights"), "modal").await;
    assert!(text(&dialog.body).contains("The default Admin role holds everything"), "{}", dialog.body);
    assert!(!dialog.body.contains("id=\"add-right\"") && !dialog.body.contains(">Delete</button>"), "{}", dialog.body);

    let refused = admin.post_htmx(&format!("/admin/roles/{admin_role}/rights/{right}/delete"), &[]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(text(&refused.body).contains("The default Admin role holds every right: its rights cannot be changed."));
    // Nor is a right added: one added could never be deleted.
    let added = admin
        .post_htmx(
            &format!("/admin/roles/{admin_role}/rights"),
            &[("resource", "IMAGE"), ("action", "Access"), ("qualifier", "ANY")],
        )
        .await;
    assert_eq!(added.status, StatusCode::CONFLICT, "{}", added.body);
    assert!(text(&added.body).contains("The default Admin role holds every right"), "{}", added.body);
    assert_eq!(fingerprint(&mut conn).await, before, "nothing written");

    // A role of their own that makes the only administrators.
    let boss = make_role(&mut conn, "Boss", &[("ANY", "ANY")]).await;
    let admin_group = group_id(&mut conn, "Acme", "Admin").await;
    give(&mut conn, admin_group, boss).await;
    let before_boss = fingerprint(&mut conn).await;
    assert_ne!(before, before_boss);
    let boss_right: i64 = access_rights::table
        .filter(access_rights::role_id.eq(boss))
        .select(access_rights::id)
        .first(&mut conn)
        .await
        .unwrap();
    let last = admin.post_htmx(&format!("/admin/roles/{boss}/rights/{boss_right}/delete"), &[]).await;
    assert_eq!(last.status, StatusCode::CONFLICT);
    assert!(text(&last.body).contains("without an active user holding Admin"));
    assert_eq!(before_boss, fingerprint(&mut conn).await);
}

#[actix_web::test]
async fn two_administrators_editing_one_group_or_role_the_second_gets_409_with_the_current_values() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let admins = group_id(&mut conn, "Acme", "Admin").await;
    let manager = crate::admin_users::user_id(&mut conn, "manager@acme.test").await;
    crate::admin_users::join(&mut conn, admins, manager).await;
    let support = group_id(&mut conn, "Acme", "Support").await;
    let auditor = make_role(&mut conn, "Auditor", &[("IMAGE", "Access")]).await;
    let mut first = app.signed_in("admin@acme.test").await;
    let mut second = app.signed_in("manager@acme.test").await;

    for (table, id) in [("groups", support), ("roles", auditor)] {
        let what = &table[..table.len() - 1];
        let url = format!("/admin/{table}/{id}");
        let edit = format!("{url}/edit");
        // Both open the dialog before either saves.
        let read_first = first.get_htmx(&edit, "modal").await;
        let read_second = second.get_htmx(&edit, "modal").await;
        assert_eq!(version_in(&read_first.body), "1", "{what}");
        assert_eq!(version_in(&read_second.body), "1", "{what}");
        let saved =
            first.post_htmx(&url, &[("name", "First"), ("description", "By the first"), ("version", "1")]).await;
        assert_eq!(saved.status, StatusCode::OK, "{what}: {}", saved.body);
        let before = fingerprint(&mut conn).await;

        let theirs = |version| [("name", "Second"), ("description", "By the second"), ("version", version)];
        let stale = second.post_htmx(&url, &theirs("1")).await;

        assert_eq!(stale.status, StatusCode::CONFLICT, "{what}: {}", stale.body);
        assert!(
            text(&stale.body).contains(&format!(
                "Someone else changed this {what} meanwhile: here is what it holds now; save again to replace it."
            )),
            "{}",
            text(&stale.body)
        );
        assert!(stale.body.contains("value=\"First\"") && stale.body.contains("value=\"By the first\""));
        assert_eq!(version_in(&stale.body), "2", "{what}: the dialog carries the current version");
        assert_eq!(before, fingerprint(&mut conn).await, "{what}: nothing overwritten, no event");

        let again = second.post_htmx(&url, &theirs("2")).await;
        assert_eq!(again.status, StatusCode::OK, "{what}: {}", again.body);
        let saved = format!("SELECT count(*) AS n FROM {table} WHERE id = {id} AND name = 'Second' AND version = 3");
        assert_eq!(count(&mut conn, &saved).await, 1, "{what}");

        let bare = second.post_htmx(&url, &[("name", "Third"), ("description", "")]).await;
        assert_eq!(bare.status, StatusCode::BAD_REQUEST, "{what}: a form without a version is not the page's");
        assert_eq!(count(&mut conn, &saved).await, 1, "{what}");
    }
}

/// Every POST of the Groups and Roles pages, with its form.
async fn posts(conn: &mut AsyncPgConnection) -> Vec<(String, Vec<(&'static str, String)>)> {
    let support = group_id(conn, "Acme", "Support").await;
    let admin_role = role_id(conn, "Acme", "Admin").await;
    let csr = role_id(conn, "Acme", "CSR").await;
    let csr_right: i64 = access_rights::table
        .filter(access_rights::role_id.eq(csr))
        .select(access_rights::id)
        .first(conn)
        .await
        .unwrap();
    let named = |name: &str| vec![("name", name.to_owned()), ("description", String::new())];
    let any = vec![("resource", "ANY".to_owned()), ("action", "ANY".to_owned()), ("qualifier", "ANY".to_owned())];
    vec![
        ("/admin/groups".to_owned(), named("Mine")),
        (format!("/admin/groups/{support}"), named("Renamed")),
        (format!("/admin/groups/{support}/role"), vec![("role_id", admin_role.to_string())]),
        (format!("/admin/groups/{support}/delete"), vec![]),
        ("/admin/roles".to_owned(), named("Mine")),
        (format!("/admin/roles/{csr}"), named("CSR")),
        (format!("/admin/roles/{csr}/rights"), any),
        (format!("/admin/roles/{csr}/rights/{csr_right}/delete"), vec![]),
        (format!("/admin/roles/{csr}/delete"), vec![]),
    ]
}

#[actix_web::test]
async fn escalation_every_groups_and_roles_post_by_each_non_admin_role_is_forbidden_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let posts = posts(&mut conn).await;
    for email in ["manager@acme.test", "configurator@acme.test", "viewer@acme.test"] {
        let mut client = app.signed_in(email).await;
        for page in ["/admin/groups", "/admin/roles"] {
            assert_eq!(client.get(page).await.status, StatusCode::FORBIDDEN, "{email} sees {page}");
        }
        let before = fingerprint(&mut conn).await;
        for (path, form) in &posts {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let response = client.post(path, &form).await;
            assert_eq!(response.status, StatusCode::FORBIDDEN, "{email} POST {path}: {}", response.body);
        }
        assert_eq!(before, fingerprint(&mut conn).await, "{email}: nothing changed");
    }
}

/// The viewer, made administrator of groups and roles (through Support)
/// and nothing more, signed in.
async fn role_administrator(app: &TestApp, conn: &mut AsyncPgConnection) -> crate::harness::Client {
    let admins =
        make_role(conn, "RoleAdmin", &[("CONSOLE", "Access"), ("IMAGE", "Access"), ("ROLE", "ANY"), ("GROUP", "ANY")])
            .await;
    let support = group_id(conn, "Acme", "Support").await;
    give(conn, support, admins).await;
    app.signed_in("viewer@acme.test").await
}

#[actix_web::test]
async fn a_role_administrator_cannot_grant_rights_they_do_not_hold() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut viewer = role_administrator(&app, &mut conn).await;
    let csr = role_id(&mut conn, "Acme", "CSR").await;
    let ops = group_id(&mut conn, "Acme", "Ops").await;
    let admin_role = role_id(&mut conn, "Acme", "Admin").await;
    let before = fingerprint(&mut conn).await;

    for (resource, action, qualifier) in [("IMAGE", "Delete", "ANY"), ("IMAGE", "ANY", "ANY"), ("ANY", "Access", "ANY")]
    {
        let refused = viewer
            .post_htmx(
                &format!("/admin/roles/{csr}/rights"),
                &[("resource", resource), ("action", action), ("qualifier", qualifier)],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{resource} {action} {qualifier}");
        assert!(text(&refused.body).contains(&format!("You cannot grant {resource} {action} {qualifier}")));
    }
    let set = viewer.post_htmx(&format!("/admin/groups/{ops}/role"), &[("role_id", &admin_role.to_string())]).await;
    assert_eq!(set.status, StatusCode::FORBIDDEN);
    assert_eq!(before, fingerprint(&mut conn).await);

    let held = viewer
        .post_htmx(
            &format!("/admin/roles/{csr}/rights"),
            &[("resource", "IMAGE"), ("action", "Access"), ("qualifier", "MINE")],
        )
        .await;
    assert_eq!(held.status, StatusCode::OK, "a narrower right they hold may be given: {}", held.body);
}

/// Taking a role from a group, or a right from a role, demotes its members:
/// an administrator may withdraw only what they could grant.
#[actix_web::test]
async fn a_role_administrator_cannot_withdraw_rights_they_do_not_hold() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut viewer = role_administrator(&app, &mut conn).await;
    let ops = group_id(&mut conn, "Acme", "Ops").await;
    let cloud_manager = role_id(&mut conn, "Acme", "CloudManager").await;
    let servers_right: i64 = access_rights::table
        .filter(access_rights::role_id.eq(cloud_manager))
        .filter(access_rights::resource.eq("SERVER"))
        .select(access_rights::id)
        .first(&mut conn)
        .await
        .unwrap();
    let narrower = make_role(&mut conn, "Narrow", &[("CONSOLE", "Access")]).await;
    let before = fingerprint(&mut conn).await;

    let unset = viewer.post_htmx(&format!("/admin/groups/{ops}/role"), &[("role_id", "")]).await;
    assert_eq!(unset.status, StatusCode::FORBIDDEN, "{}", unset.body);
    assert!(text(&unset.body).contains("away: your own rights in this account do not include it"), "{}", unset.body);
    let replaced = viewer.post_htmx(&format!("/admin/groups/{ops}/role"), &[("role_id", &narrower.to_string())]).await;
    assert_eq!(replaced.status, StatusCode::FORBIDDEN, "replacing it takes it away too: {}", replaced.body);
    let taken = viewer.post_htmx(&format!("/admin/roles/{cloud_manager}/rights/{servers_right}/delete"), &[]).await;
    assert_eq!(taken.status, StatusCode::FORBIDDEN, "{}", taken.body);
    assert!(text(&taken.body).contains("You cannot take SERVER"), "{}", taken.body);
    assert_eq!(before, fingerprint(&mut conn).await, "nothing changed");

    // What they hold themselves is theirs to take away.
    let day = new_group(&mut conn, "Day").await;
    give_in(&mut conn, day, app.demo.acme_production, narrower).await;
    let unset = viewer.post_htmx(&format!("/admin/groups/{day}/role"), &[("role_id", "")]).await;
    assert_eq!(unset.status, StatusCode::OK, "{}", unset.body);
    let console_right: i64 = access_rights::table
        .filter(access_rights::role_id.eq(narrower))
        .select(access_rights::id)
        .first(&mut conn)
        .await
        .unwrap();
    let taken = viewer.post_htmx(&format!("/admin/roles/{narrower}/rights/{console_right}/delete"), &[]).await;
    assert_eq!(taken.status, StatusCode::OK, "{}", taken.body);
}

#[actix_web::test]
async fn another_companys_administrator_gets_404_for_acme_groups_and_roles() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut hank = app.signed_in("admin@globex.test").await;
    let support = group_id(&mut conn, "Acme", "Support").await;
    let csr = role_id(&mut conn, "Acme", "CSR").await;
    let before = fingerprint(&mut conn).await;

    assert!(!text(&hank.get("/admin/groups").await.body).contains("Support"));
    assert!(!text(&hank.get("/admin/roles").await.body).contains("Acme"));
    for path in [format!("/admin/groups/{support}/edit"), format!("/admin/roles/{csr}/rights")] {
        assert_eq!(hank.get(&path).await.status, StatusCode::NOT_FOUND, "GET {path}");
    }
    let named = [("name", "X"), ("description", "")];
    for (path, form) in [
        (format!("/admin/groups/{support}"), &named[..]),
        (format!("/admin/groups/{support}/delete"), &[][..]),
        (format!("/admin/roles/{csr}/delete"), &[][..]),
        (format!("/admin/groups/{support}/role"), &[("role_id", "")][..]),
        (format!("/admin/roles/{csr}"), &named[..]),
        (
            format!("/admin/roles/{csr}/rights"),
            &[("resource", "IMAGE"), ("action", "Access"), ("qualifier", "ANY")][..],
        ),
    ] {
        assert_eq!(hank.post(&path, form).await.status, StatusCode::NOT_FOUND, "POST {path}");
    }
    assert_eq!(before, fingerprint(&mut conn).await);
}

/// Gives `group` the role in `account` only, whatever it has elsewhere.
async fn give_in(conn: &mut AsyncPgConnection, group: i64, account: i64, role: i64) {
    diesel::insert_into(group_roles::table)
        .values((group_roles::group_id.eq(group), group_roles::account_id.eq(account), group_roles::role_id.eq(role)))
        .on_conflict((group_roles::group_id, group_roles::account_id))
        .do_update()
        .set(group_roles::role_id.eq(role))
        .execute(conn)
        .await
        .unwrap();
}

pub(crate) async fn new_group(conn: &mut AsyncPgConnection, name: &str) -> i64 {
    let company = acme(conn).await;
    diesel::insert_into(groups::table)
        .values((groups::company_id.eq(company), groups::name.eq(name)))
        .returning(groups::id)
        .get_result(conn)
        .await
        .unwrap()
}

#[actix_web::test]
async fn rights_granted_in_another_account_are_checked_against_the_administrators_rights_there() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let (production, staging) = (app.demo.acme_production, app.demo.acme_staging);
    // The viewer administers users and roles in Production; in Staging they
    // stay read-only (CSR).
    let admins = make_role(
        &mut conn,
        "PeopleAdmin",
        &[("CONSOLE", "Access"), ("IMAGE", "Access"), ("USER", "ANY"), ("ROLE", "ANY"), ("SERVER", "ANY")],
    )
    .await;
    let support = group_id(&mut conn, "Acme", "Support").await;
    give_in(&mut conn, support, production, admins).await;
    // Night carries only the viewer's own rights in Production, but Admin in Staging.
    let night = new_group(&mut conn, "Night").await;
    give_in(&mut conn, night, production, admins).await;
    let admin_role = role_id(&mut conn, "Acme", "Admin").await;
    give_in(&mut conn, night, staging, admin_role).await;
    let day = new_group(&mut conn, "Day").await;
    give_in(&mut conn, day, production, admins).await;
    let manager: i64 =
        users::table.filter(users::email.eq("manager@acme.test")).select(users::id).first(&mut conn).await.unwrap();
    // The manager is in Support alone, so within the viewer's reach.
    diesel::delete(group_members::table.filter(group_members::user_id.eq(manager))).execute(&mut conn).await.unwrap();
    crate::admin_users::join(&mut conn, support, manager).await;
    let mut viewer = app.signed_in("viewer@acme.test").await;
    let before = fingerprint(&mut conn).await;

    // The manager works in Staging too: joining Night would make them its administrator.
    let edit = |group: i64| {
        [
            ("given_name", "Jordan".to_owned()),
            ("family_name", "Lee".to_owned()),
            ("email", "manager@acme.test".to_owned()),
            ("group_ids", group.to_string()),
            ("version", "1".to_owned()),
        ]
    };
    let form = edit(night);
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = viewer.post_htmx(&format!("/admin/users/{manager}"), &fields).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(
        text(&refused.body)
            .contains("You cannot grant ANY ANY ANY: your own rights in Acme Staging do not include it."),
        "{}",
        text(&refused.body)
    );

    // A role used in Staging cannot gain there what the viewer lacks there.
    let csr = role_id(&mut conn, "Acme", "CSR").await;
    let widened = viewer
        .post_htmx(
            &format!("/admin/roles/{csr}/rights"),
            &[("resource", "SERVER"), ("action", "Terminate"), ("qualifier", "ANY")],
        )
        .await;
    assert_eq!(widened.status, StatusCode::FORBIDDEN, "{}", widened.body);
    assert!(text(&widened.body).contains("your own rights in Acme Staging do not include it"));
    assert_eq!(before, fingerprint(&mut conn).await, "nothing changed");

    // What reaches Production only is the viewer's to give.
    let form = edit(day);
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let allowed = viewer.post_htmx(&format!("/admin/users/{manager}"), &fields).await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.body);
    let own = make_role(&mut conn, "Spare", &[("CONSOLE", "Access")]).await;
    give_in(&mut conn, day, production, own).await;
    let narrowed = viewer
        .post_htmx(
            &format!("/admin/roles/{own}/rights"),
            &[("resource", "SERVER"), ("action", "Terminate"), ("qualifier", "ANY")],
        )
        .await;
    assert_eq!(narrowed.status, StatusCode::OK, "{}", narrowed.body);
}

#[actix_web::test]
async fn a_right_its_resource_cannot_have_is_refused_in_the_dialog() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let csr = role_id(&mut conn, "Acme", "CSR").await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let rights = "SELECT count(*) AS n FROM access_rights";
    let before = count(&mut conn, rights).await;

    for (resource, action, qualifier, says) in [
        ("IMAGE", "Pause", "ANY", "IMAGE has no action Pause: choose one of"),
        ("ACCOUNT", "Image", "ANY", "ACCOUNT has no action Image"),
        ("ACCOUNT", "Configure", "MINE", "ACCOUNT has no owner, group or budget code to limit it by"),
    ] {
        let form = [("resource", resource), ("action", action), ("qualifier", qualifier)];
        let refused = admin.post_htmx(&format!("/admin/roles/{csr}/rights"), &form).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}: {}", refused.body);
        assert!(text(&refused.body).contains(says), "{form:?}: {}", text(&refused.body));
        assert!(refused.body.contains("Access Rights"), "the dialog again");
    }
    assert_eq!(count(&mut conn, rights).await, before, "nothing added");
    let worded =
        admin.post_htmx(&format!("/admin/roles/{csr}/rights"), &[("resource", "IMAGE"), ("action", "Fly")]).await;
    assert_eq!(worded.status, StatusCode::BAD_REQUEST);
    assert!(text(&worded.body).contains("Choose an action from the list."));
}

/// A role whose `Access` is qualified `MINE` shows the user their own images
/// and servers only, in the lists and the API; another's id is not found,
/// as one of another account is.
#[actix_web::test]
async fn access_qualified_mine_shows_and_lets_change_only_the_users_own_images_and_servers() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    // Access to their own only, and Configure, Delete or Pause of any: what they
    // cannot see they cannot change either.
    let role = make_role(
        &mut conn,
        "OwnOnly",
        &[
            ("CONSOLE", "Access"),
            ("IMAGE", "Access"),
            ("IMAGE", "Configure"),
            ("IMAGE", "Delete"),
            ("SERVER", "Access"),
            ("SERVER", "Pause"),
        ],
    )
    .await;
    diesel::update(access_rights::table.filter(access_rights::role_id.eq(role)))
        .filter(access_rights::resource.ne("CONSOLE"))
        .filter(access_rights::action.eq("Access"))
        .set(access_rights::qualifier.eq("MINE"))
        .execute(&mut conn)
        .await
        .unwrap();
    let support = group_id(&mut conn, "Acme", "Support").await;
    give(&mut conn, support, role).await;
    let viewer: i64 =
        users::table.filter(users::email.eq("viewer@acme.test")).select(users::id).first(&mut conn).await.unwrap();
    let in_production = |ids: Vec<i64>| (ids[0], ids[1]);
    let (mine, theirs) = in_production(
        image_records::table
            .filter(image_records::account_id.eq(production))
            .filter(image_records::source.eq("own"))
            .order(image_records::id)
            .select(image_records::id)
            .limit(2)
            .load(&mut conn)
            .await
            .unwrap(),
    );
    // The demo's one server of Production, and another like it owned by someone else.
    let their_server: i64 =
        servers::table.filter(servers::account_id.eq(production)).select(servers::id).first(&mut conn).await.unwrap();
    let my_server = crate::browser::id_of(
        &app,
        &format!(
            "INSERT INTO servers (account_id, image_record_id, provider_image_id, name, description, label, \
               product_id, firewall_ids, owner_user_id, owner_group_id, budget_code_id, hourly_rate, state, \
               launched_at, state_since) \
             SELECT account_id, image_record_id, provider_image_id, 'viewers-own', '', label, product_id, \
               firewall_ids, {viewer}, owner_group_id, budget_code_id, hourly_rate, 'PAUSED', launched_at, now() \
             FROM servers WHERE id = {their_server} RETURNING id"
        ),
    )
    .await;
    diesel::update(image_records::table.find(mine))
        .set(image_records::owner_user_id.eq(viewer))
        .execute(&mut conn)
        .await
        .unwrap();
    // Their own server, launched from an image record of someone else's.
    diesel::update(servers::table.find(my_server))
        .set((servers::owner_user_id.eq(viewer), servers::image_record_id.eq(theirs)))
        .execute(&mut conn)
        .await
        .unwrap();
    let their_image: String =
        image_records::table.find(theirs).select(image_records::name).first(&mut conn).await.unwrap();
    let mut client = app.signed_in("viewer@acme.test").await;

    let list = client.get("/images").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains(&format!("id=\"image-{mine}\"")), "{}", text(&list.body));
    assert_eq!(list.body.matches("<tr id=\"image-").count(), 1, "only the viewer's own: {}", text(&list.body));
    assert_eq!(client.get(&format!("/images/{mine}")).await.status, StatusCode::OK);
    assert_eq!(client.get(&format!("/images/{theirs}")).await.status, StatusCode::NOT_FOUND);
    let servers_page = client.get("/servers").await;
    assert!(servers_page.body.contains(&format!("id=\"server-{my_server}\"")), "{}", text(&servers_page.body));
    assert_eq!(servers_page.body.matches("<tr id=\"server-").count(), 1, "{}", text(&servers_page.body));
    assert!(!servers_page.body.contains(&their_image), "the image they may not see is not named");
    assert_eq!(client.get(&format!("/servers/{my_server}")).await.status, StatusCode::OK);
    assert_eq!(client.get(&format!("/servers/{their_server}")).await.status, StatusCode::NOT_FOUND);

    let api = crate::api::Api::new(&app, &crate::api::make_token(&mut client, "mine", production, "read").await);
    let ids = |answer: &crate::api::Answer| -> Vec<i64> {
        answer.json["items"].as_array().unwrap().iter().map(|item| item["id"].as_i64().unwrap()).collect()
    };
    assert_eq!(ids(&api.get("/api/v1/images").await), [mine]);
    assert_eq!(api.get(&format!("/api/v1/images/{mine}")).await.status, StatusCode::OK);
    assert_eq!(api.get(&format!("/api/v1/images/{theirs}")).await.status, StatusCode::NOT_FOUND);
    let servers = api.get("/api/v1/servers").await;
    assert_eq!(ids(&servers), [my_server]);
    assert_eq!(servers.json["items"][0]["image_id"], serde_json::Value::Null, "nor is its record's id given");
    assert_eq!(api.get(&format!("/api/v1/servers/{my_server}")).await.status, StatusCode::OK);
    assert_eq!(api.get(&format!("/api/v1/servers/{their_server}")).await.status, StatusCode::NOT_FOUND);

    // Changes by id: what is out of reach answers 404, and nothing is written.
    let version_of = async |conn: &mut AsyncPgConnection, id: i64| -> i32 {
        image_records::table.find(id).select(image_records::version).first(conn).await.unwrap()
    };
    let server = servers::table.find(their_server).select((servers::state, servers::version));
    let server_before: (String, i32) = server.first(&mut conn).await.unwrap();
    let (their_version, server_version) =
        (version_of(&mut conn, theirs).await.to_string(), server_before.1.to_string());
    fn rename(version: &str) -> Vec<(&str, &str)> {
        vec![("name", "renamed-by-viewer"), ("version", version)]
    }
    let theirs_id = theirs.to_string();
    for (path, form) in [
        (format!("/images/{theirs}/name"), rename(&their_version)),
        ("/images/bulk".into(), vec![("ids", theirs_id.as_str()), ("action", "label"), ("label", "red")]),
        ("/images/bulk/delete".into(), vec![("ids", theirs_id.as_str())]),
        (format!("/servers/{their_server}/pause"), vec![("version", server_version.as_str())]),
    ] {
        assert_eq!(client.post_htmx(&path, &form).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    for (path, what) in [("name", "its row, as a rename's Cancel asks for it"), ("actions", "its actions menu")] {
        let read = client.get_htmx(&format!("/images/{theirs}/{path}"), &format!("#image-{theirs}")).await;
        assert_eq!(read.status, StatusCode::NOT_FOUND, "nor {what}");
    }
    let writer = crate::api::Api::new(&app, &crate::api::make_token(&mut client, "write", production, "write").await);
    let patch = serde_json::json!({ "version": version_of(&mut conn, theirs).await, "name": "renamed-by-api" });
    let patched = writer.send(reqwest::Method::PATCH, &format!("/api/v1/images/{theirs}"), Some(patch)).await;
    assert_eq!(patched.status, StatusCode::NOT_FOUND);
    assert_eq!(version_of(&mut conn, theirs).await.to_string(), their_version, "their image is as it was");
    assert_eq!(server.first::<(String, i32)>(&mut conn).await.unwrap(), server_before, "their server is as it was");
    let changes =
        format!("SELECT count(*) AS n FROM audit_events WHERE user_id = {viewer} AND resource IN ('IMAGE', 'SERVER')");
    assert_eq!(count(&mut conn, &changes).await, 0);

    // Their own, within reach, they change.
    let renamed = client
        .post_htmx(&format!("/images/{mine}/name"), &rename(&version_of(&mut conn, mine).await.to_string()))
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert!(text(&renamed.body).contains("renamed-by-viewer"), "{}", renamed.body);
}

/// The menu offers exactly the pages a role opens, whatever qualifies its
/// rights: each entry answers 200, each page left out 403.
#[actix_web::test]
async fn the_menu_offers_exactly_the_pages_each_role_opens() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let support = group_id(&mut conn, "Acme", "Support").await;
    let pages = [
        "/images",
        "/servers",
        "/keypairs",
        "/firewalls",
        "/admin/budget-codes",
        "/admin/users",
        "/admin/groups",
        "/admin/roles",
        "/admin/accounts",
        "/audit",
        "/jobs",
    ];
    let roles: [&[(&str, &str, &str)]; 3] = [
        // Key pairs and budget codes have no owner a qualifier could pick.
        &[("CONSOLE", "Access", "ANY"), ("KEYPAIR", "Access", "GROUP"), ("BUDGET", "Access", "BILLING")],
        // Groups only: the audit log also opens to them.
        &[("CONSOLE", "Access", "ANY"), ("GROUP", "Access", "ANY")],
        // Their own anything: images and servers are owned, the rest not.
        &[("CONSOLE", "Access", "ANY"), ("ANY", "Access", "MINE")],
    ];
    let mut offered_somewhere = std::collections::BTreeSet::new();
    for (n, rights) in roles.iter().enumerate() {
        let role = make_qualified_role(&mut conn, &format!("Menu {n}"), rights).await;
        give(&mut conn, support, role).await;
        let mut viewer = app.signed_in("viewer@acme.test").await;
        let jobs = viewer.get("/jobs").await;
        assert_eq!(jobs.status, StatusCode::OK);
        let nav = &jobs.body[jobs.body.find("class=\"sidenav\"").unwrap()..jobs.body.find("</nav>").unwrap()];
        for page in pages {
            let offered = nav.contains(&format!("href=\"{page}\""));
            let status = viewer.get(page).await.status;
            let expected = if offered { StatusCode::OK } else { StatusCode::FORBIDDEN };
            assert_eq!(status, expected, "role {rights:?}: {page} is {}offered", if offered { "" } else { "not " });
            if offered {
                offered_somewhere.insert(page);
            }
        }
    }
    // Each role opens some pages, and leaves out pages another opens.
    assert_eq!(
        offered_somewhere.into_iter().collect::<Vec<_>>(),
        ["/admin/groups", "/audit", "/images", "/jobs", "/servers"]
    );
}
