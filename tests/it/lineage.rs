//! The image page (ISSUE 17): lineage across accounts, where an image is
//! used, its history, and who may read it.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::json;
use stratus_console::db::schema::{image_records, provider_images};

use crate::api::{Api, default_code, make_token};
use crate::harness::{TestApp, text};

async fn record_in(app: &TestApp, account: i64, name: &str) -> i64 {
    image_records::table
        .filter(image_records::account_id.eq(account))
        .filter(image_records::name.eq(name))
        .select(image_records::id)
        .first(&mut app.db().await)
        .await
        .expect("the record")
}

#[actix_web::test]
async fn an_image_made_in_staging_from_productions_shared_image_shows_its_lineage_from_both_sides() {
    let app = TestApp::spawn().await;
    let staging = app.demo.acme_staging;
    let mut conn = app.db().await;
    for kind in ["sync_products", "sync_zones", "sync_firewalls", "sync_key_pairs"] {
        stratus_console::db::jobs::enqueue_sync(&mut conn, staging, kind, 2).await.unwrap();
    }
    app.run_jobs().await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let api = Api::new(&app, &make_token(&mut admin, "lineage", staging, "write").await);

    // Staging launches the image Production shared with it, and makes an image of the server.
    let shared = record_in(&app, staging, "api-server-base (from Production)").await;
    let code = default_code(&app).await;
    let launched = api
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/images/{shared}/launch"),
            Some(json!({ "name": "lineage-builder", "budget_code_id": code, "product_id": "t3.micro" })),
        )
        .await;
    assert_eq!(launched.status, StatusCode::ACCEPTED, "{}", launched.json);
    app.run_jobs().await;
    let server = launched.json["servers"][0]["id"].as_i64().unwrap();
    let made = api
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/servers/{server}/make-image"),
            Some(json!({ "name": "lineage-child", "budget_code_id": code })),
        )
        .await;
    assert_eq!(made.status, StatusCode::ACCEPTED, "{}", made.json);
    app.run_jobs().await;
    let child = made.json["image_id"].as_i64().unwrap();

    // The parent is written on the provider image, and survives the job that filled in its id.
    let (parent, made_at_provider): (Option<i64>, Option<String>) = image_records::table
        .inner_join(provider_images::table)
        .filter(image_records::id.eq(child))
        .select((provider_images::parent_id, provider_images::provider_image_id))
        .first(&mut conn)
        .await
        .unwrap();
    let shared_pk: i64 =
        image_records::table.find(shared).select(image_records::provider_image_id).first(&mut conn).await.unwrap();
    assert_eq!(parent, Some(shared_pk));
    assert!(made_at_provider.is_some_and(|id| id.starts_with("ami-")), "the provider made it");

    // From Staging: the chain up to the root, a public image, then the shared image, then this one.
    admin.post("/account", &[("account_id", &staging.to_string())]).await;
    let page = admin.get(&format!("/images/{child}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", text(&page.body));
    let shown = text(&page.body);
    let lineage = &shown[shown.find("Lineage").unwrap()..shown.find("Built on it").unwrap()];
    let root = lineage.find("Provided").or_else(|| lineage.find("· ")).unwrap();
    let via = lineage.find("api-server-base (from Production)").expect("the shared image, as Staging names it");
    let this = lineage.find("lineage-child").unwrap();
    assert!(root < via && via < this, "root, then the shared image, then this one: {lineage}");
    assert!(lineage.contains("Acme Production"), "the shared image's owner is named: {lineage}");
    assert!(shown.contains("Launches 0"), "nothing was launched from the new image yet: {shown}");

    // From Production: the image it shared shows what Staging built on it and the server that did.
    admin.post("/account", &[("account_id", &app.demo.acme_production.to_string())]).await;
    let original = record_in(&app, app.demo.acme_production, "api-server-base").await;
    let page = admin.get(&format!("/images/{original}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let shown = text(&page.body);
    let built = &shown[shown.find("Built on it").unwrap()..];
    assert!(built.contains("lineage-child") && built.contains("Acme Staging"), "{built}");
    assert!(shown.contains("Launches 1"), "{shown}");
    assert!(shown.contains("Images built on it 1"), "{shown}");
    assert!(shown.contains("Shared with Acme Staging"), "{shown}");
    let servers = &shown[shown.find("Servers launched from it").unwrap()..];
    assert!(servers.contains("lineage-builder Acme Staging"), "{servers}");
    // A server of another account is named, not linked: its page is in Staging.
    assert!(!page.body.contains(&format!("href=\"/servers/{server}\"")));

    // The child, from Production's side, is a name without a link (Production keeps no record of it).
    assert!(!page.body.contains(&format!("href=\"/images/{child}\"")));
}

#[actix_web::test]
async fn every_role_reads_the_page_and_another_accounts_id_is_404() {
    let app = TestApp::spawn().await;
    let production = app.demo.acme_production;
    let own = record_in(&app, production, "web-frontend-2026.11").await;
    let globex: i64 = image_records::table
        .filter(image_records::account_id.eq(app.demo.globex_main))
        .select(image_records::id)
        .first(&mut app.db().await)
        .await
        .unwrap();
    for email in ["admin@acme.test", "manager@acme.test", "configurator@acme.test", "viewer@acme.test"] {
        let mut client = app.signed_in(email).await;
        let page = client.get(&format!("/images/{own}")).await;
        assert_eq!(page.status, StatusCode::OK, "{email}: {}", text(&page.body));
        let shown = text(&page.body);
        assert!(shown.contains("web-frontend-2026.11") && shown.contains("Lineage"), "{email}");
        // The list's menu decides the page's actions: a viewer gets none; administrators and managers may delete.
        let delete = page.body.contains(&format!("href=\"/images/{own}/delete?from=image\""));
        assert_eq!(delete, matches!(email, "admin@acme.test" | "manager@acme.test"), "{email}");
        let other = client.get(&format!("/images/{globex}")).await;
        assert_eq!(other.status, StatusCode::NOT_FOUND, "{email}: another company's image");
        assert_eq!(client.get("/images/999999999").await.status, StatusCode::NOT_FOUND);
    }
    let mut hank = app.signed_in("admin@globex.test").await;
    assert_eq!(hank.get(&format!("/images/{own}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(hank.get(&format!("/images/{globex}")).await.status, StatusCode::OK);
    // Signed out: to the sign-in page.
    let anonymous = app.client().get(&format!("/images/{own}")).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn the_demo_images_name_their_public_base_and_a_rename_shows_in_the_history() {
    let app = TestApp::spawn().await;
    let (own, version) = crate::api::record(&app, "web-frontend-2026.11").await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let page = admin.get(&format!("/images/{own}")).await;
    let renamed = admin
        .post(&format!("/images/{own}/name"), &[("name", "web-frontend-2026.12"), ("version", &version.to_string())])
        .await;
    assert!(renamed.status.is_success() || renamed.status == StatusCode::SEE_OTHER, "{}", text(&renamed.body));
    let shown = text(&page.body);
    let lineage = &shown[shown.find("Lineage").unwrap()..shown.find("Built on it").unwrap()];
    assert!(lineage.contains("ami-"), "the public image it was built from: {lineage}");
    assert!(!shown.contains("a root: the console does not know"), "{lineage}");

    let page = admin.get(&format!("/images/{own}")).await;
    let shown = text(&page.body);
    let history = &shown[shown.find("History in").unwrap()..];
    assert!(history.contains("Alex Morgan rename"), "{history}");
    assert!(history.contains("web-frontend-2026.11") && history.contains("web-frontend-2026.12"), "{history}");
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

#[actix_web::test]
async fn another_companys_private_image_stays_unnamed_in_a_lineage() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    // Acme built "acme-app" on its private api-server-base and made it public;
    // Globex launched it from the catalog, so it keeps a record of it.
    let base = record_in(&app, app.demo.acme_production, "api-server-base").await;
    let (base_pk, base_ami): (i64, Option<String>) = image_records::table
        .inner_join(provider_images::table)
        .filter(image_records::id.eq(base))
        .select((provider_images::id, provider_images::provider_image_id))
        .first(&mut conn)
        .await
        .unwrap();
    let base_ami = base_ami.expect("the base is made");
    diesel::update(provider_images::table.find(base_pk))
        .set(provider_images::is_public.eq(false))
        .execute(&mut conn)
        .await
        .unwrap();
    let app_pk = diesel::sql_query(
        "INSERT INTO provider_images (provider, region, provider_image_id, platform, architecture, state,
                                      owner_account_number, is_public, created_at, parent_id, name)
         SELECT provider, region, 'ami-0acme0app000000001', platform, architecture, 'ACTIVE',
                owner_account_number, true, now(), id, 'acme-app'
         FROM provider_images WHERE id = $1 RETURNING id",
    )
    .bind::<diesel::sql_types::BigInt, _>(base_pk)
    .get_result::<Id>(&mut conn)
    .await
    .unwrap()
    .id;
    let launched = diesel::sql_query(
        "INSERT INTO image_records (account_id, provider_image_id, name, source)
         VALUES ($1, $2, 'acme-app', 'public_launched') RETURNING id",
    )
    .bind::<diesel::sql_types::BigInt, _>(app.demo.globex_main)
    .bind::<diesel::sql_types::BigInt, _>(app_pk)
    .get_result::<Id>(&mut conn)
    .await
    .unwrap()
    .id;

    let mut hank = app.signed_in("admin@globex.test").await;
    let page = hank.get(&format!("/images/{launched}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", text(&page.body));
    let shown = text(&page.body);
    let lineage = &shown[shown.find("Lineage").unwrap()..shown.find("Built on it").unwrap()];
    assert!(!lineage.contains("api-server-base") && !lineage.contains(&base_ami), "Acme's private base: {lineage}");
    assert!(lineage.contains("An image of another company's, not public: not shown"), "{lineage}");
    assert!(!lineage.contains("a root"), "it is not a root: {lineage}");

    // Once Acme makes its base public too, Globex may see it in the chain.
    diesel::update(provider_images::table.find(base_pk))
        .set(provider_images::is_public.eq(true))
        .execute(&mut conn)
        .await
        .unwrap();
    let shown = text(&hank.get(&format!("/images/{launched}")).await.body);
    let lineage = &shown[shown.find("Lineage").unwrap()..shown.find("Built on it").unwrap()];
    assert!(lineage.contains(&base_ami) && !lineage.contains("not shown"), "{lineage}");
}

async fn run(app: &TestApp, sql: &str) {
    diesel::sql_query(sql).execute(&mut app.db().await).await.unwrap();
}

/// The image page names another account of the company only to those who
/// can work in it, and shows that account's images and servers as the
/// reader's role there would show them: what it may not show is counted,
/// never named.
#[actix_web::test]
async fn another_accounts_images_and_servers_show_as_the_readers_role_there_shows_them() {
    let app = TestApp::spawn().await;
    let (production, staging) = (app.demo.acme_production, app.demo.acme_staging);
    // Staging built "staging-web-frontend" on the image Production shares
    // with it, from its builder server, launched from that image. Both are
    // the administrator's.
    let shared = record_in(&app, production, "api-server-base").await;
    let pk_of = |record: i64| format!("(SELECT provider_image_id FROM image_records WHERE id = {record})");
    let built = record_in(&app, staging, "staging-web-frontend").await;
    run(&app, &format!("UPDATE provider_images SET parent_id = {} WHERE id = {}", pk_of(shared), pk_of(built))).await;
    run(&app, &format!("UPDATE servers SET provider_image_id = {} WHERE account_id = {staging}", pk_of(shared))).await;
    let builder: String = {
        use stratus_console::db::schema::servers;
        let mut conn = app.db().await;
        servers::table.filter(servers::account_id.eq(staging)).select(servers::name).first(&mut conn).await.unwrap()
    };
    let page = |shown: &str| {
        let at = |heading: &str| shown.find(heading).unwrap_or_else(|| panic!("{heading}: {shown}"));
        let built = shown[at("Built on it")..at("Servers launched from it")].to_owned();
        let servers = shown[at("Servers launched from it")..at("History in")].to_owned();
        let shared_with = shown[at("Shared with")..at("Across every account")].to_owned();
        (built, servers, shared_with)
    };

    // The administrator's role in Staging shows them all.
    let mut admin = app.signed_in("admin@acme.test").await;
    let (built, servers, shared_with) = page(&text(&admin.get(&format!("/images/{shared}")).await.body));
    assert!(built.contains("staging-web-frontend") && built.contains("Acme Staging"), "{built}");
    assert!(servers.contains(&format!("{builder} Acme Staging")), "{servers}");
    assert!(shared_with.contains("Acme Staging"), "{shared_with}");

    // The manager's group holds, in Staging, a role that shows what they own.
    run(
        &app,
        &format!(
            "WITH role AS (INSERT INTO roles (company_id, name) SELECT company_id, 'Own things' FROM accounts
                           WHERE id = {staging} RETURNING id),
                  rights AS (INSERT INTO access_rights (role_id, resource, action, qualifier)
                             SELECT id, resource, 'Access', qualifier FROM role,
                                    (VALUES ('CONSOLE', 'ANY'), ('IMAGE', 'MINE'), ('SERVER', 'MINE')) AS r (resource, qualifier))
             UPDATE group_roles SET role_id = (SELECT id FROM role)
             WHERE account_id = {staging} AND group_id = (SELECT id FROM groups WHERE name = 'Ops')"
        ),
    )
    .await;
    let mut manager = app.signed_in("manager@acme.test").await;
    let body = manager.get(&format!("/images/{shared}")).await.body;
    let (built, servers, shared_with) = page(&text(&body));
    assert!(!body.contains("staging-web-frontend") && !body.contains(&builder), "{}", text(&body));
    assert!(built.contains("An image of Acme Staging that your role there does not show you"), "{built}");
    assert!(servers.contains("None that your roles show you."), "{servers}");
    assert!(
        servers.contains(
            "1 server not shown: it is in an account you cannot work in, or your role there does not show it."
        ),
        "{servers}"
    );
    assert!(shared_with.contains("Acme Staging"), "an account they work in is named: {shared_with}");

    // What they own there, they see.
    run(
        &app,
        "UPDATE image_records SET owner_user_id = (SELECT id FROM users WHERE email = 'manager@acme.test')
               WHERE name = 'staging-web-frontend'",
    )
    .await;
    let (built, ..) = page(&text(&manager.get(&format!("/images/{shared}")).await.body));
    assert!(built.contains("staging-web-frontend") && built.contains("Acme Staging"), "{built}");

    // Without a role in Staging they cannot work in it: it is not named,
    // in the image's history either. The administrator stops sharing the
    // image with Staging and shares it again: two events name it.
    for ticked in [vec![], vec![("account_ids", staging.to_string())]] {
        let mut form = vec![("share_type", "private".to_owned())];
        form.extend(ticked);
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(admin.post(&format!("/images/{shared}/sharing"), &form).await.status, StatusCode::SEE_OTHER);
    }
    let history = text(&admin.get(&format!("/images/{shared}")).await.body);
    assert!(history.contains("shared_with.added Acme Staging"), "{history}");
    run(&app, &format!("DELETE FROM group_roles WHERE account_id = {staging} AND group_id = (SELECT id FROM groups WHERE name = 'Ops')"))
        .await;
    let body = manager.get(&format!("/images/{shared}")).await.body;
    let (built, servers, shared_with) = page(&text(&body));
    assert!(!body.contains("Acme Staging") && !body.contains("staging-web-frontend"), "{}", text(&body));
    assert!(text(&body).contains("shared_with.added another account of your company"), "{}", text(&body));
    assert!(built.contains("An image of another account of your company"), "{built}");
    assert!(servers.contains("1 server not shown: it is in an account you cannot work in"), "{servers}");
    assert!(shared_with.contains("1 other account of your company"), "{shared_with}");
}
