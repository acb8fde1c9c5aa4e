//! The actions menu: deprecate, delete and sharing, in the console and at the
//! local EC2 endpoint, and who may do which (one authorization matrix).

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use reqwest::StatusCode;
use stratus_console::cloud::ec2::Ec2Provider;
use stratus_console::cloud::{CloudProvider, LaunchPermission};
use stratus_console::db::{self, schema::*};

use crate::cloud::{connection, endpoint};
use crate::harness::{Client, TestApp, count, text};

/// A record of an account by name: `(id, version)`.
pub(crate) async fn record(conn: &mut AsyncPgConnection, account: i64, name: &str) -> Option<(i64, i32)> {
    image_records::table
        .filter(image_records::account_id.eq(account))
        .filter(image_records::name.eq(name))
        .select((image_records::id, image_records::version))
        .first(conn)
        .await
        .optional()
        .unwrap()
}

pub(crate) async fn provider_id(conn: &mut AsyncPgConnection, record: i64) -> String {
    image_records::table
        .inner_join(provider_images::table)
        .filter(image_records::id.eq(record))
        .select(provider_images::provider_image_id.assume_not_null())
        .first(conn)
        .await
        .unwrap()
}

async fn at_provider(number: &str) -> std::sync::Arc<Ec2Provider> {
    Ec2Provider::connect(&connection(number, endpoint())).await.expect("the local EC2 endpoint answers")
}

async fn post(client: &mut Client, path: &str, form: &[(&str, &str)]) -> crate::harness::Response {
    client.post_htmx(path, form).await
}

#[actix_web::test]
async fn deprecate_asks_first_strikes_the_name_and_undeprecate_restores_it() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let account = app.demo.acme_production;
    let mut client = app.signed_in("configurator@acme.test").await;
    let (id, version) = record(&mut conn, account, "batch-worker").await.unwrap();

    let dialog = client.get_htmx(&format!("/images/{id}/deprecate"), "modal").await;
    assert_eq!(dialog.status, StatusCode::OK);
    assert!(text(&dialog.body).contains("Are you sure you want to deprecate batch-worker?"), "{}", dialog.body);
    assert!(dialog.body.contains("<dialog"));

    let done = post(&mut client, &format!("/images/{id}/deprecate"), &[("version", &version.to_string())]).await;
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(done.header("HX-Trigger"), Some("close-dialog"));
    assert!(done.body.contains("<del>batch-worker</del>"), "{}", done.body);
    assert!(text(&done.body).contains("Deprecated “batch-worker”"));
    let deprecated = count(
        &mut conn,
        &format!(
            "SELECT count(*) AS n FROM image_records WHERE id = {id} AND deprecated_at IS NOT NULL AND version = {}",
            version + 1
        ),
    )
    .await;
    assert_eq!(deprecated, 1);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM audit_events WHERE action = 'deprecate'").await, 1);

    // The endpoint cannot keep deprecation: the job says the console keeps it.
    app.run_jobs().await;
    let (state, result): (String, Option<serde_json::Value>) = jobs::table
        .filter(jobs::kind.eq("set_deprecation"))
        .select((jobs::state, jobs::result))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(state, "COMPLETE");
    assert!(result.unwrap()["note"].as_str().unwrap().contains("the console keeps it"));
    let still = count(
        &mut conn,
        &format!("SELECT count(*) AS n FROM image_records WHERE id = {id} AND deprecated_at IS NOT NULL"),
    )
    .await;
    assert_eq!(still, 1, "the sync after the job keeps the console's deprecation");

    let menu = client.get_htmx(&format!("/images/{id}/actions"), "").await;
    assert!(menu.body.contains(&format!(r#"action="/images/{id}/undeprecate""#)), "the menu offers Undeprecate");
    let restored =
        post(&mut client, &format!("/images/{id}/undeprecate"), &[("version", &(version + 1).to_string())]).await;
    assert_eq!(restored.status, StatusCode::OK);
    assert!(!restored.body.contains("<del>"));
    assert!(text(&restored.body).contains("“batch-worker” is no longer deprecated"));

    // A stale version is a conflict shown in the dialog; nothing changes.
    let stale = post(&mut client, &format!("/images/{id}/deprecate"), &[("version", &version.to_string())]).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(stale.header("HX-Retarget"), Some("#modal"));
    assert!(text(&stale.body).contains("Someone else changed this image meanwhile"));
    let undeprecated =
        count(&mut conn, &format!("SELECT count(*) AS n FROM image_records WHERE id = {id} AND deprecated_at IS NULL"))
            .await;
    assert_eq!(undeprecated, 1);
}

#[actix_web::test]
async fn a_deprecated_public_image_drops_out_of_other_accounts_public_search() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let (id, version) = record(&mut conn, app.demo.acme_production, "batch-worker").await.unwrap();

    let shared = post(&mut admin, &format!("/images/{id}/sharing"), &[("share_type", "public")]).await;
    assert_eq!(shared.status, StatusCode::OK, "{}", shared.body);
    app.run_jobs().await;
    let ami = provider_id(&mut conn, id).await;
    assert!(at_provider(&app.demo.numbers.production).await.describe_image(&ami).await.unwrap().unwrap().public);

    let mut globex = app.signed_in("admin@globex.test").await;
    let search = format!("/images?scope=public&q={ami}");
    // The search box repeats the query: look for the row.
    let row = format!(r#"<td class="mono">{ami}</td>"#);
    assert!(globex.get(&search).await.body.contains(&row), "public images of others are found");

    let done = post(&mut admin, &format!("/images/{id}/deprecate"), &[("version", &version.to_string())]).await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(!globex.get(&search).await.body.contains(&row), "deprecated: gone from other accounts' search");
    assert!(admin.get(&search).await.body.contains(&row), "its owner still finds it");

    let restored =
        post(&mut admin, &format!("/images/{id}/undeprecate"), &[("version", &(version + 1).to_string())]).await;
    assert_eq!(restored.status, StatusCode::OK);
    assert!(globex.get(&search).await.body.contains(&row), "undeprecated: found again");
}

#[actix_web::test]
async fn an_image_deprecated_before_it_is_made_public_stays_out_of_other_accounts_search() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let (id, version) = record(&mut conn, app.demo.acme_production, "batch-worker").await.unwrap();
    let done = post(&mut admin, &format!("/images/{id}/deprecate"), &[("version", &version.to_string())]).await;
    assert_eq!(done.status, StatusCode::OK);

    let shared = post(&mut admin, &format!("/images/{id}/sharing"), &[("share_type", "public")]).await;
    assert_eq!(shared.status, StatusCode::OK, "{}", shared.body);
    app.run_jobs().await;
    let ami = provider_id(&mut conn, id).await;
    assert_eq!(
        count(
            &mut conn,
            &format!(
                "SELECT count(*) AS n FROM public_images WHERE provider_image_id = '{ami}' AND deprecated_in_console"
            )
        )
        .await,
        1,
        "the catalog row arrives marked"
    );

    let mut globex = app.signed_in("admin@globex.test").await;
    let search = format!("/images?scope=public&q={ami}");
    let row = format!(r#"<td class="mono">{ami}</td>"#);
    assert!(!globex.get(&search).await.body.contains(&row), "hidden from other accounts");
    assert!(admin.get(&search).await.body.contains(&row), "its owner finds it");
}

#[actix_web::test]
async fn deleting_an_own_image_deregisters_it_and_a_sync_does_not_bring_it_back() {
    let app = TestApp::spawn().await;
    app.delete_images_at_once().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let mut client = app.signed_in("manager@acme.test").await;
    let (id, version) = record(&mut conn, production, "api-server-base").await.unwrap();
    let ami = provider_id(&mut conn, id).await;
    assert!(record(&mut conn, app.demo.acme_staging, "api-server-base (from Production)").await.is_some());

    let dialog = client.get_htmx(&format!("/images/{id}/delete"), "modal").await;
    assert!(text(&dialog.body).contains("Are you sure you want to delete api-server-base?"));
    assert!(text(&dialog.body).contains(&format!("Provider ID {ami}")), "{}", dialog.body);
    assert!(text(&dialog.body).contains("The cloud provider deregisters it at once"));

    let done = post(&mut client, &format!("/images/{id}/delete"), &[("version", &version.to_string())]).await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(!done.body.contains("<tr"), "the row goes: {}", done.body);
    assert!(text(&done.body).contains(&format!("Deleted “api-server-base”; the provider deregisters {ami}")));
    assert!(record(&mut conn, production, "api-server-base").await.is_none());
    assert!(
        record(&mut conn, app.demo.acme_staging, "api-server-base (from Production)").await.is_none(),
        "the account it was shared with loses it too"
    );
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM audit_events WHERE action IN ('delete', 'unshare')").await,
        2
    );

    // A sync that runs before the deregistration must not bring it back.
    diesel::sql_query("UPDATE jobs SET run_after = now() + interval '1 hour' WHERE kind = 'deregister_image'")
        .execute(&mut conn)
        .await
        .unwrap();
    db::jobs::enqueue_sync(&mut conn, production, "sync_images", 2).await.unwrap();
    app.run_jobs().await;
    assert!(record(&mut conn, production, "api-server-base").await.is_none(), "still gone after a sync");
    assert!(at_provider(&app.demo.numbers.production).await.describe_image(&ami).await.unwrap().is_some());

    diesel::sql_query("UPDATE jobs SET run_after = now() WHERE kind = 'deregister_image'")
        .execute(&mut conn)
        .await
        .unwrap();
    app.run_jobs().await;
    let gone = at_provider(&app.demo.numbers.production).await.describe_image(&ami).await.unwrap();
    assert!(gone.is_none(), "deregistered at the provider: {gone:?}");
    assert!(record(&mut conn, production, "api-server-base").await.is_none());
}

#[actix_web::test]
async fn an_image_with_a_live_server_cannot_be_deleted() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let mut client = app.signed_in("admin@acme.test").await;
    // The demo server still running was launched from a public image.
    let (launched, version): (i64, i32) = image_records::table
        .filter(image_records::account_id.eq(production))
        .filter(image_records::source.eq("public_launched"))
        .select((image_records::id, image_records::version))
        .first(&mut conn)
        .await
        .unwrap();

    let dialog = client.get_htmx(&format!("/images/{launched}/delete"), "modal").await;
    assert_eq!(dialog.status, StatusCode::OK);
    assert!(
        text(&dialog.body).contains("1 server launched from it is pending, running or paused. Terminate it first.")
    );
    assert!(!dialog.body.contains(r#"type="submit""#), "no Delete button");

    let refused = post(&mut client, &format!("/images/{launched}/delete"), &[("version", &version.to_string())]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(text(&refused.body).contains("Terminate it first"));
    assert_eq!(count(&mut conn, &format!("SELECT count(*) AS n FROM image_records WHERE id = {launched}")).await, 1);

    // An own image counts the servers of every account of its company launched from it.
    let (own, own_version) = record(&mut conn, production, "api-server-base").await.unwrap();
    // Not another company's (made public, launched there): Acme neither sees nor terminates those.
    diesel::sql_query(format!(
        "INSERT INTO servers (account_id, provider_image_id, name, product_id, budget_code_id, state)
         SELECT {globex}, r.provider_image_id, 'globex-api', 't3.small',
                (SELECT min(b.id) FROM budget_codes b JOIN accounts a ON a.company_id = b.company_id WHERE a.id = {globex}),
                'RUNNING'
         FROM image_records r WHERE r.id = {own}",
        globex = app.demo.globex_main
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let dialog = client.get_htmx(&format!("/images/{own}/delete"), "modal").await;
    assert_eq!(dialog.status, StatusCode::OK);
    assert!(!text(&dialog.body).contains("Terminate it first"), "{}", text(&dialog.body));
    assert!(dialog.body.contains(r#"type="submit""#), "Delete is offered");
    diesel::sql_query(format!(
        "INSERT INTO servers (account_id, image_record_id, provider_image_id, name, product_id, budget_code_id, state)
         SELECT {staging}, r.id, r.provider_image_id, 'staging-api', 't3.small', (SELECT min(id) FROM budget_codes), 'PAUSED'
         FROM image_records r WHERE r.account_id = {staging} AND r.source = 'shared'",
        staging = app.demo.acme_staging
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let refused = post(&mut client, &format!("/images/{own}/delete"), &[("version", &own_version.to_string())]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'deregister_image'").await, 0);
}

#[actix_web::test]
async fn deleting_a_shared_record_removes_it_from_this_account_only() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut client = app.signed_in("admin@acme.test").await;
    client.post("/account", &[("account_id", &app.demo.acme_staging.to_string())]).await;
    client.refresh_csrf().await;
    let (id, version) = record(&mut conn, app.demo.acme_staging, "api-server-base (from Production)").await.unwrap();

    let dialog = client.get_htmx(&format!("/images/{id}/delete"), "modal").await;
    assert!(text(&dialog.body).contains("It is removed from Acme Staging only"));
    let done = client.post(&format!("/images/{id}/delete"), &[("version", &version.to_string())]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "a plain form redirects");
    assert!(
        text(&client.get("/images?scope=shared").await.body)
            .contains("Removed “api-server-base (from Production)” from Acme Staging")
    );

    assert!(record(&mut conn, app.demo.acme_staging, "api-server-base (from Production)").await.is_none());
    assert!(record(&mut conn, app.demo.acme_production, "api-server-base").await.is_some());
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'deregister_image'").await, 0);
    // Production takes back the launch permission it gave Staging.
    let revoke = format!(
        "SELECT count(*) AS n FROM jobs WHERE kind = 'launch_permission' AND account_id = {} \
         AND payload->>'grant' = 'false' AND payload->>'account_number' = '{}'",
        app.demo.acme_production, app.demo.numbers.staging
    );
    assert_eq!(count(&mut conn, &revoke).await, 1);
}

#[actix_web::test]
async fn sharing_adds_and_removes_the_other_accounts_record_and_launch_permission() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let (production, staging) = (app.demo.acme_production, app.demo.acme_staging);
    let mut client = app.signed_in("admin@acme.test").await;
    let (id, _) = record(&mut conn, production, "batch-worker").await.unwrap();
    let ami = provider_id(&mut conn, id).await;
    let ec2 = at_provider(&app.demo.numbers.production).await;

    let dialog = client.get_htmx(&format!("/images/{id}/sharing"), "modal").await;
    assert_eq!(dialog.status, StatusCode::OK);
    let shown = text(&dialog.body);
    assert!(shown.contains("batch-worker: Sharing") && shown.contains("Acme Staging"), "{shown}");
    assert!(!shown.contains("Globex"), "only the user's own accounts");
    assert!(shown.contains("Private data on it"), "the public warning");

    let staging_id = staging.to_string();
    let shared =
        post(&mut client, &format!("/images/{id}/sharing"), &[("share_type", "private"), ("account_ids", &staging_id)])
            .await;
    assert_eq!(shared.status, StatusCode::OK);
    assert!(text(&shared.body).contains("“batch-worker”: shared with Acme Staging"));
    let (theirs, _) = record(&mut conn, staging, "batch-worker").await.expect("a record in Staging");
    let source: String =
        image_records::table.find(theirs).select(image_records::source).first(&mut conn).await.unwrap();
    assert_eq!(source, "shared");
    let events = count(
        &mut conn,
        &format!("SELECT count(*) AS n FROM audit_events WHERE action = 'share' AND account_id = {staging}"),
    )
    .await;
    assert_eq!(events, 1);
    app.run_jobs().await;
    assert_eq!(
        ec2.launch_permissions(&ami).await.unwrap(),
        [LaunchPermission::Account(app.demo.numbers.staging.clone())]
    );

    // Staging names it its own way; its shared tab shows it.
    let mut staging_client = app.signed_in("admin@acme.test").await;
    staging_client.post("/account", &[("account_id", &staging_id)]).await;
    assert!(text(&staging_client.get("/images?scope=shared").await.body).contains("batch-worker"));

    // The dialog ticks the current share; saving without it removes it.
    let dialog = client.get_htmx(&format!("/images/{id}/sharing"), "modal").await;
    assert!(dialog.body.contains(&format!(r#"value="{staging}" checked"#)), "{}", dialog.body);
    let unshared = post(&mut client, &format!("/images/{id}/sharing"), &[("share_type", "private")]).await;
    assert_eq!(unshared.status, StatusCode::OK);
    assert!(text(&unshared.body).contains("no longer shared with Acme Staging"));
    assert!(record(&mut conn, staging, "batch-worker").await.is_none());
    app.run_jobs().await;
    assert_eq!(ec2.launch_permissions(&ami).await.unwrap(), []);

    // Public, then private again.
    post(&mut client, &format!("/images/{id}/sharing"), &[("share_type", "public")]).await;
    app.run_jobs().await;
    assert_eq!(ec2.launch_permissions(&ami).await.unwrap(), [LaunchPermission::Public]);
    let listed = count(
        &mut conn,
        &format!("SELECT count(*) AS n FROM public_images WHERE provider_image_id = '{ami}' AND state = 'ACTIVE'"),
    )
    .await;
    assert_eq!(listed, 1, "the public catalog has it after the sync");
    post(&mut client, &format!("/images/{id}/sharing"), &[("share_type", "private")]).await;
    let listed = count(
        &mut conn,
        &format!("SELECT count(*) AS n FROM public_images WHERE provider_image_id = '{ami}' AND state = 'ACTIVE'"),
    )
    .await;
    assert_eq!(listed, 0, "private again: out of the catalog at once");
    app.run_jobs().await;
    assert_eq!(ec2.launch_permissions(&ami).await.unwrap(), []);

    // Shared again, then Staging removes it from its list: Production
    // revokes the grant, and its dialog no longer ticks Staging.
    post(&mut client, &format!("/images/{id}/sharing"), &[("share_type", "private"), ("account_ids", &staging_id)])
        .await;
    app.run_jobs().await;
    let (theirs, version) = record(&mut conn, staging, "batch-worker").await.expect("shared again");
    let removed =
        staging_client.post_htmx(&format!("/images/{theirs}/delete"), &[("version", &version.to_string())]).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", text(&removed.body));
    assert!(record(&mut conn, staging, "batch-worker").await.is_none());
    app.run_jobs().await;
    assert_eq!(ec2.launch_permissions(&ami).await.unwrap(), [], "Staging may no longer launch it");
    let dialog = client.get_htmx(&format!("/images/{id}/sharing"), "modal").await;
    assert!(!dialog.body.contains(&format!(r#"value="{staging}" checked"#)), "{}", dialog.body);
    let audited = format!(
        "SELECT count(*) AS n FROM audit_events WHERE action = 'sharing' AND account_id = {production} \
         AND changes->>'reason' = 'removed by the account it was shared with'"
    );
    assert_eq!(count(&mut conn, &audited).await, 1);
}

/// A share the provider refuses for good (the image went behind the
/// console's back) is undone: the other account's record goes, and the
/// reason is audited there.
#[actix_web::test]
async fn a_share_the_provider_refuses_for_good_is_undone() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let (production, staging) = (app.demo.acme_production, app.demo.acme_staging);
    let mut client = app.signed_in("admin@acme.test").await;
    let (id, _) = record(&mut conn, production, "batch-worker").await.unwrap();
    let ami = provider_id(&mut conn, id).await;
    at_provider(&app.demo.numbers.production).await.deregister_image(&ami).await.unwrap();

    let staging_id = staging.to_string();
    let shared =
        post(&mut client, &format!("/images/{id}/sharing"), &[("share_type", "private"), ("account_ids", &staging_id)])
            .await;
    assert_eq!(shared.status, StatusCode::OK, "{}", text(&shared.body));
    assert!(record(&mut conn, staging, "batch-worker").await.is_some(), "shared, as asked");
    app.run_jobs().await;
    let failed = "SELECT count(*) AS n FROM jobs WHERE kind = 'launch_permission' AND state = 'ERROR'";
    assert_eq!(count(&mut conn, failed).await, 1, "the provider refused it for good");
    assert!(record(&mut conn, staging, "batch-worker").await.is_none(), "the share is undone");
    let audited = format!(
        "SELECT count(*) AS n FROM audit_events WHERE action = 'unshare' AND account_id = {staging} \
         AND changes->>'reason' LIKE 'the provider refused the share: %'"
    );
    assert_eq!(count(&mut conn, &audited).await, 1);
}

/// A share refused for good after it was asked about again (unshared and
/// shared again before the provider answered the first grant): the later
/// grant decides, and the share it recorded stays.
#[actix_web::test]
async fn a_share_refused_after_it_was_made_again_stays() {
    use stratus_console::cloud::CloudError;
    use stratus_console::jobs::{JobSettings, Runner};
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let (production, staging) = (app.demo.acme_production, app.demo.acme_staging);
    let mut client = app.signed_in("admin@acme.test").await;
    let (id, _) = record(&mut conn, production, "batch-worker").await.unwrap();
    let staging_id = staging.to_string();
    let share = [("share_type", "private"), ("account_ids", staging_id.as_str())];
    for form in [&share[..], &share[..1], &share[..]] {
        let saved = post(&mut client, &format!("/images/{id}/sharing"), form).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", text(&saved.body));
    }
    assert!(record(&mut conn, staging, "batch-worker").await.is_some(), "shared again");

    // The first grant is refused for good only now.
    let runner = Runner::new(db::pool(&app.database_url, 2).unwrap(), JobSettings::default());
    let first = db::jobs::claim(&mut conn, "test-worker").await.unwrap().expect("the first grant");
    assert_eq!(first.payload["grant"], true, "{:?}", first.payload);
    let refused = CloudError::Refused { code: "InvalidAMIID.Unavailable".into(), message: "gone".into() };
    runner.record(&first, Err(refused.into())).await.unwrap();
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE state = 'ERROR'").await, 1);
    assert!(record(&mut conn, staging, "batch-worker").await.is_some(), "the later share stays");
    let undone = "SELECT count(*) AS n FROM audit_events WHERE changes->>'reason' LIKE 'the provider refused%'";
    assert_eq!(count(&mut conn, undone).await, 0);
}

/// The sharing form saved twice at once (a double submit, an API retry):
/// the second waits for the first and finds the share made, where it used
/// to fail on the record's unique key with a 500.
#[actix_web::test]
async fn the_sharing_form_saved_twice_at_once_shares_once() {
    use stratus_console::changes::{self, images::Sharing};

    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let (production, staging) = (app.demo.acme_production, app.demo.acme_staging);
    let (id, _) = record(&mut conn, production, "batch-worker").await.unwrap();
    let admin: i64 =
        users::table.filter(users::email.eq("admin@acme.test")).select(users::id).first(&mut conn).await.unwrap();

    let first = crate::harness::hold_open(&app, async move |c| {
        let acting = crate::harness::Acting::as_user(c, admin, production).await;
        let sharing = Sharing { public: false, accounts: &[staging] };
        let settings = stratus_console::jobs::JobSettings::default();
        changes::images::save_sharing(c, &acting.actor(), &settings, id, &sharing).await.unwrap();
    })
    .await;
    let mut client = app.signed_in("admin@acme.test").await;
    let staging_id = staging.to_string();
    let second = actix_web::rt::spawn(async move {
        let form = [("share_type", "private"), ("account_ids", staging_id.as_str())];
        client.post_htmx(&format!("/images/{id}/sharing"), &form).await
    });
    crate::harness::until_one_waits(&mut conn, "the second save").await;
    first.commit().await;
    let second = second.await.unwrap();
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert!(record(&mut conn, staging, "batch-worker").await.is_some());
    let grants = count(&mut conn, "SELECT count(*) AS n FROM jobs WHERE kind = 'launch_permission'").await;
    assert_eq!(grants, 1, "one share, one grant");
}

/// A share undone while its grant waits to be retried: the revoke waits for
/// the grant, so the provider ends as the console shows it, unshared. (Run
/// first, the revoke would be undone by the grant's retry.)
#[actix_web::test]
async fn a_share_and_its_undoing_reach_the_provider_in_the_order_they_were_made() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let (production, staging) = (app.demo.acme_production, app.demo.acme_staging);
    let mut client = app.signed_in("admin@acme.test").await;
    let (id, _) = record(&mut conn, production, "batch-worker").await.unwrap();
    let ami = provider_id(&mut conn, id).await;
    let ec2 = at_provider(&app.demo.numbers.production).await;
    app.run_jobs().await;

    let staging_id = staging.to_string();
    let path = format!("/images/{id}/sharing");
    let shared = post(&mut client, &path, &[("share_type", "private"), ("account_ids", &staging_id)]).await;
    assert_eq!(shared.status, StatusCode::OK);
    let unshared = post(&mut client, &path, &[("share_type", "private")]).await;
    assert_eq!(unshared.status, StatusCode::OK);
    let permission_jobs = jobs::table
        .filter(jobs::kind.eq("launch_permission"))
        .filter(jobs::payload.retrieve_as_text("image_id").eq(&ami))
        .order(jobs::id)
        .select((jobs::id, jobs::payload.retrieve_as_object("grant"), jobs::state, jobs::finished_at));
    let made: Vec<(i64, serde_json::Value, String, Option<chrono::DateTime<chrono::Utc>>)> =
        permission_jobs.load(&mut conn).await.unwrap();
    let [(grant, granting, ..), (revoke, revoking, ..)] = &made[..] else { panic!("two jobs: {made:?}") };
    assert_eq!((granting, revoking), (&serde_json::json!(true), &serde_json::json!(false)));
    // The grant failed once and waits for its retry.
    diesel::update(jobs::table.find(grant))
        .set((jobs::attempts.eq(1), jobs::run_after.eq(chrono::Utc::now() + chrono::Duration::hours(1))))
        .execute(&mut conn)
        .await
        .unwrap();
    app.run_jobs().await;
    let state: String = jobs::table.find(revoke).select(jobs::state).first(&mut conn).await.unwrap();
    assert_eq!(state, "QUEUED", "the revoke waits for the grant before it");

    diesel::update(jobs::table.find(grant))
        .set(jobs::run_after.eq(chrono::Utc::now()))
        .execute(&mut conn)
        .await
        .unwrap();
    app.run_jobs().await;
    let ran: Vec<(i64, serde_json::Value, String, Option<chrono::DateTime<chrono::Utc>>)> =
        permission_jobs.load(&mut conn).await.unwrap();
    let [(_, _, granted, Some(grant_done)), (_, _, revoked, Some(revoke_done))] = &ran[..] else { panic!("{ran:?}") };
    assert_eq!((granted.as_str(), revoked.as_str()), ("COMPLETE", "COMPLETE"));
    assert!(grant_done <= revoke_done, "the grant ran first");
    assert_eq!(ec2.launch_permissions(&ami).await.unwrap(), [], "unshared at the provider, as in the console");
}

/// An image deleted at the provider leaves every account's record of it,
/// and each account's audit log says so: by the user who deleted it in
/// the accounts of their own company, by the system in another company's
/// (which is never told who in Acme did it).
#[actix_web::test]
async fn a_delete_tells_another_companys_audit_log_what_happened_but_not_who_did_it() {
    let app = TestApp::spawn().await;
    app.delete_images_at_once().await;
    let mut conn = app.db().await;
    let (production, staging, globex) = (app.demo.acme_production, app.demo.acme_staging, app.demo.globex_main);
    let mut client = app.signed_in("admin@acme.test").await;
    let (id, version) = record(&mut conn, production, "api-server-base").await.unwrap();
    // Globex launched it while it was public.
    count(
        &mut conn,
        &format!(
            "INSERT INTO image_records (account_id, provider_image_id, name, source)
             SELECT {globex}, provider_image_id, 'api base (from the catalog)', 'public_launched'
               FROM image_records WHERE id = {id} RETURNING id AS n"
        ),
    )
    .await;

    let deleted = post(&mut client, &format!("/images/{id}/delete"), &[("version", &version.to_string())]).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", text(&deleted.body));
    let told = |account: i64| {
        format!(
            "SELECT count(*) AS n FROM audit_events e LEFT JOIN users u ON u.id = e.user_id
             WHERE e.account_id = {account} AND e.action = 'unshare' AND u.email IS NOT DISTINCT FROM "
        )
    };
    assert_eq!(count(&mut conn, &format!("{}'admin@acme.test'", told(staging))).await, 1, "a colleague's account");
    assert_eq!(count(&mut conn, &format!("{}NULL", told(globex))).await, 1, "another company's, by the system");
    let mut globex_admin = app.signed_in("admin@globex.test").await;
    let log = text(&globex_admin.get("/audit").await.body);
    assert!(log.contains("unshare") && !log.contains("Alex Morgan"), "{log}");
}

#[actix_web::test]
async fn sharing_with_an_account_that_launched_the_image_from_the_catalog_makes_its_record_the_share() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let (production, staging) = (app.demo.acme_production, app.demo.acme_staging);
    let mut client = app.signed_in("admin@acme.test").await;
    let (id, _) = record(&mut conn, production, "batch-worker").await.unwrap();
    // Staging launched it while it was public: it has a record of it, named its own way.
    let theirs = count(
        &mut conn,
        &format!(
            "INSERT INTO image_records (account_id, provider_image_id, name, description, source, label)
             SELECT {staging}, provider_image_id, 'batch (from the catalog)', '', 'public_launched', 'green'
               FROM image_records WHERE id = {id} RETURNING id AS n"
        ),
    )
    .await;

    let shared = post(
        &mut client,
        &format!("/images/{id}/sharing"),
        &[("share_type", "private"), ("account_ids", &staging.to_string())],
    )
    .await;
    assert_eq!(shared.status, StatusCode::OK, "{}", text(&shared.body));
    assert!(text(&shared.body).contains("“batch-worker”: shared with Acme Staging"), "{}", text(&shared.body));
    let held: Vec<(i64, String, String, String)> = image_records::table
        .filter(image_records::account_id.eq(staging))
        .filter(image_records::name.like("batch%"))
        .select((image_records::id, image_records::name, image_records::source, image_records::label))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(held, [(theirs, "batch (from the catalog)".into(), "shared".into(), "green".into())]);

    // An account that holds it as its own is its owner's provider account.
    diesel::update(image_records::table.find(theirs))
        .set(image_records::source.eq("own"))
        .execute(&mut conn)
        .await
        .unwrap();
    let before = count(&mut conn, "SELECT count(*) AS n FROM jobs").await;
    let refused = post(
        &mut client,
        &format!("/images/{id}/sharing"),
        &[("share_type", "private"), ("account_ids", &staging.to_string())],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", text(&refused.body));
    assert!(text(&refused.body).contains("Acme Staging is the provider account that owns this image"));
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs").await, before, "nothing queued");
}

#[actix_web::test]
async fn a_bad_sharing_form_comes_back_with_the_message_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let (id, _) = record(&mut conn, app.demo.acme_production, "batch-worker").await.unwrap();
    let before = count(&mut conn, "SELECT count(*) AS n FROM image_records").await;

    let bogus = post(&mut client, &format!("/images/{id}/sharing"), &[("share_type", "everyone")]).await;
    assert_eq!(bogus.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bogus.header("HX-Retarget"), Some("#modal"));
    assert!(text(&bogus.body).contains("Choose a share type: Private or Public."));

    let globex = app.demo.globex_main.to_string();
    let foreign =
        post(&mut client, &format!("/images/{id}/sharing"), &[("share_type", "private"), ("account_ids", &globex)])
            .await;
    assert_eq!(foreign.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&foreign.body).contains("only with your other accounts"));

    let malformed =
        post(&mut client, &format!("/images/{id}/sharing"), &[("share_type", "private"), ("account_ids", "x")]).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);

    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM image_records").await, before);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM jobs").await, 0);
}

/// What the matrix checks: an action, the image it is tried on, and its form.
struct Case {
    action: &'static str,
    image: &'static str,
    form: fn(version: i32, staging: i64) -> Vec<(&'static str, String)>,
}

const CASES: &[Case] = &[
    Case {
        action: "name",
        image: "web-frontend-2026.11",
        form: |v, _| vec![("name", "renamed".into()), ("version", v.to_string())],
    },
    Case {
        action: "label",
        image: "postgres-15-primary",
        form: |v, _| vec![("label", "red".into()), ("version", v.to_string())],
    },
    Case { action: "deprecate", image: "batch-worker", form: |v, _| vec![("version", v.to_string())] },
    Case { action: "undeprecate", image: "legacy-php-app", form: |v, _| vec![("version", v.to_string())] },
    Case { action: "delete", image: "edge-cache-arm", form: |v, _| vec![("version", v.to_string())] },
    Case {
        action: "sharing",
        image: "ubuntu-hardened-cis",
        form: |_, staging| vec![("share_type", "private".into()), ("account_ids", staging.to_string())],
    },
];

/// Expected status per role for an image of the user's current account,
/// in the order of `CASES`. Another account's image is always 404.
const MATRIX: &[(&str, [u16; 6])] = &[
    ("admin@acme.test", [303, 303, 303, 303, 303, 303]),
    ("manager@acme.test", [303, 303, 303, 303, 303, 303]),
    ("configurator@acme.test", [303, 303, 303, 303, 403, 403]),
    ("viewer@acme.test", [403, 403, 403, 403, 403, 403]),
];

/// Everything an action could change about an image, across accounts.
async fn fingerprint(conn: &mut AsyncPgConnection, record: i64, image_pk: i64) -> String {
    let rows: Vec<(i64, String, String, bool, i32)> = image_records::table
        .filter(image_records::provider_image_id.eq(image_pk))
        .select((
            image_records::id,
            image_records::name,
            image_records::label,
            image_records::deprecated_at.is_not_null(),
            image_records::version,
        ))
        .order(image_records::id)
        .load(conn)
        .await
        .unwrap();
    let jobs = count(conn, "SELECT count(*) AS n FROM jobs").await;
    format!("{record}: {rows:?}; jobs {jobs}")
}

#[actix_web::test]
async fn authorization_matrix_every_action_by_role_and_account() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let globex_image: (i64, i64, i32) = image_records::table
        .filter(image_records::account_id.eq(app.demo.globex_main))
        .select((image_records::id, image_records::provider_image_id, image_records::version))
        .first(&mut conn)
        .await
        .unwrap();
    for (email, expected) in MATRIX {
        // Each role works on a fresh copy of the images it may change.
        diesel::sql_query("DELETE FROM jobs").execute(&mut conn).await.unwrap();
        let mut client = app.signed_in(email).await;
        for (case, &status) in CASES.iter().zip(expected) {
            let name = format!("{}-{}", case.image, email.split('@').next().unwrap());
            let (id, image_pk, version) = copy_image(&mut conn, app.demo.acme_production, case.image, &name).await;
            let before = fingerprint(&mut conn, id, image_pk).await;
            let form = (case.form)(version, app.demo.acme_staging);
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let response = client.post(&format!("/images/{id}/{}", case.action), &form).await;
            assert_eq!(
                response.status.as_u16(),
                status,
                "{email} {} on its own account: {}",
                case.action,
                response.body
            );
            let after = fingerprint(&mut conn, id, image_pk).await;
            if status == 303 {
                assert_ne!(before, after, "{email} {}: the change is in the database", case.action);
            } else {
                assert_eq!(before, after, "{email} {}: nothing changed", case.action);
            }

            let (other, other_pk, other_version) = globex_image;
            let before = fingerprint(&mut conn, other, other_pk).await;
            let form = (case.form)(other_version, app.demo.acme_staging);
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let response = client.post(&format!("/images/{other}/{}", case.action), &form).await;
            assert_eq!(response.status, StatusCode::NOT_FOUND, "{email} {} on another account", case.action);
            assert_eq!(before, fingerprint(&mut conn, other, other_pk).await);
        }
    }
}

/// A copy of a demo image (its own provider row and record), so each role
/// acts on an image nobody else touched; `(record, provider row, version)`.
async fn copy_image(conn: &mut AsyncPgConnection, account: i64, from: &str, name: &str) -> (i64, i64, i32) {
    let row: (i64, i64, i32) = diesel::sql_query(format!(
        "WITH image AS (
           INSERT INTO provider_images (provider, region, provider_image_id, platform, architecture, state,
                                        owner_account_number, created_at)
           SELECT p.provider, p.region, 'ami-' || substr(md5(random()::text), 1, 17), p.platform, p.architecture,
                  p.state, p.owner_account_number, p.created_at
           FROM image_records r JOIN provider_images p ON p.id = r.provider_image_id
           WHERE r.account_id = {account} AND r.name = '{from}'
           RETURNING id)
         INSERT INTO image_records (account_id, provider_image_id, name, label, owner_user_id, owner_group_id,
                                    budget_code_id, deprecated_at, source)
         SELECT {account}, image.id, '{name}', r.label, r.owner_user_id, r.owner_group_id, r.budget_code_id,
                r.deprecated_at, r.source
         FROM image, image_records r WHERE r.account_id = {account} AND r.name = '{from}'
         RETURNING id AS record, provider_image_id AS image, version"
    ))
    .get_result::<Copied>(conn)
    .await
    .map(|c| (c.record, c.image, c.version))
    .unwrap();
    row
}

#[derive(QueryableByName)]
struct Copied {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    record: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    image: i64,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    version: i32,
}

#[actix_web::test]
async fn a_rows_actions_menu_is_loaded_when_it_opens_with_what_the_user_may_do_to_it() {
    let app = TestApp::spawn().await;
    let (id, version) = record(&mut app.db().await, 1, "batch-worker").await.unwrap();
    let mut admin = app.signed_in("admin@acme.test").await;

    // The list carries no menu items: each row's menu is fetched when opened.
    let list = admin.get("/images").await;
    let rows = list.body.split("<tbody").nth(1).expect("the list's rows");
    assert!(!rows.contains(r#"role="menuitem""#), "no menu items in the rows");
    assert!(rows.contains(&format!(
        r#"<a class="actions-button" href="/images/{id}/actions" aria-label="Actions for batch-worker">actions</a>"#
    )));

    let menu = admin.get_htmx(&format!("/images/{id}/actions"), "").await;
    assert_eq!(menu.status, StatusCode::OK);
    assert!(menu.body.trim_start().starts_with(r#"<ul class="menu-list" role="menu">"#), "{}", menu.body);
    let items = text(&menu.body);
    for item in ["Launch…", "Deprecate…", "Protect", "Schedule…", "Delete…", "Sharing…"] {
        assert!(items.contains(item), "{item} in {items}");
    }
    assert!(menu.body.contains(&format!(r#"name="version" value="{version}""#)), "posts the row's version");

    // Without htmx, the image's page, which offers the same actions.
    let plain = admin.get(&format!("/images/{id}/actions")).await;
    assert_eq!(plain.status, StatusCode::SEE_OTHER);
    assert_eq!(plain.location(), Some(format!("/images/{id}").as_str()));

    // A configurator's menu holds only what they may do: no Delete.
    let mut configurator = app.signed_in("configurator@acme.test").await;
    let menu = configurator.get_htmx(&format!("/images/{id}/actions"), "").await;
    assert_eq!(menu.status, StatusCode::OK);
    assert!(text(&menu.body).contains("Protect") && !text(&menu.body).contains("Delete"), "{}", menu.body);

    // Another company's record is not found, with or without htmx.
    let mut globex = app.signed_in("admin@globex.test").await;
    assert_eq!(globex.get_htmx(&format!("/images/{id}/actions"), "").await.status, StatusCode::NOT_FOUND);
    assert_eq!(globex.get(&format!("/images/{id}/actions")).await.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn actions_started_on_the_image_page_lead_back_to_it() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let (id, version) = record(&mut conn, app.demo.acme_production, "batch-worker").await.unwrap();
    let mut admin = app.signed_in("admin@acme.test").await;
    let page = format!("/images/{id}");

    let shown = admin.get(&page).await;
    for action in ["deprecate", "schedule", "delete", "sharing"] {
        let link = format!(r#"href="/images/{id}/{action}?from=image""#);
        assert!(shown.body.contains(&link), "{link} on the image page");
    }
    assert!(shown.body.contains(&format!(r#"action="/images/{id}/protect?from=image""#)));

    // A dialog opened there posts with its origin, and Cancel leads back to the page.
    for action in ["deprecate", "schedule", "delete", "sharing"] {
        let dialog = admin.get(&format!("/images/{id}/{action}?from=image")).await;
        assert_eq!(dialog.status, StatusCode::OK, "{action}");
        assert!(dialog.body.contains(&format!(r#"action="/images/{id}/{action}?from=image""#)), "{action}");
        // (A Delete dialog focuses Cancel: `data-close autofocus`.)
        assert!(dialog.body.contains(&format!(r#"<a class="button" href="{page}" data-close"#)), "{action}");
    }
    // From the list, Cancel leads to the list.
    let dialog = admin.get(&format!("/images/{id}/deprecate")).await;
    assert!(dialog.body.contains(r#"<a class="button" href="/images" data-close>Cancel</a>"#));

    // Done: back on the image page, whose flash says what was done.
    let protected = admin.post(&format!("/images/{id}/protect?from=image"), &[("version", &version.to_string())]).await;
    assert_eq!(protected.status, StatusCode::SEE_OTHER);
    assert_eq!(protected.location(), Some(page.as_str()));
    assert!(text(&admin.get(&page).await.body).contains("Protected “batch-worker”"));
    let v = (version + 1).to_string();
    let deprecated = admin.post(&format!("/images/{id}/deprecate?from=image"), &[("version", &v)]).await;
    assert_eq!(deprecated.location(), Some(page.as_str()));
    let unprotected =
        admin.post(&format!("/images/{id}/unprotect?from=image"), &[("version", &(version + 2).to_string())]).await;
    assert_eq!(unprotected.location(), Some(page.as_str()));

    // A deleted image has no page: back to My images.
    let deleted =
        admin.post(&format!("/images/{id}/delete?from=image"), &[("version", &(version + 3).to_string())]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert_eq!(deleted.location(), Some("/images"));
}

/// A stale menu or link meets the image's state, not a verdict on the role:
/// acting on an image the provider is still making answers 409 with the
/// reason and writes nothing; a role that may not act is still told so
/// (403).
#[actix_web::test]
async fn an_action_the_images_state_stops_is_a_conflict_that_says_why() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    let production = app.demo.acme_production;
    let mut admin = app.signed_in("admin@acme.test").await;
    // An image the provider is still making (made from a server a moment ago).
    let (making, version) = record(&mut conn, production, "api-server-base").await.unwrap();
    diesel::sql_query(format!(
        "UPDATE provider_images SET provider_image_id = NULL, state = 'PENDING'
          WHERE id = (SELECT provider_image_id FROM image_records WHERE id = {making})"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let jobs = "SELECT count(*) AS n FROM jobs";
    let before = count(&mut conn, jobs).await;
    let version = version.to_string();
    for action in ["deprecate", "protect", "delete"] {
        let refused = admin.post_htmx(&format!("/images/{making}/{action}"), &[("version", &version)]).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{action}: {}", text(&refused.body));
        assert!(
            text(&refused.body)
                .contains("The provider is still making “api-server-base”; try again when it is available."),
            "{action}: {}",
            text(&refused.body)
        );
    }
    assert_eq!(count(&mut conn, jobs).await, before, "no job written");
    let mut viewer = app.signed_in("viewer@acme.test").await;
    let forbidden = viewer.post_htmx(&format!("/images/{making}/deprecate"), &[("version", &version)]).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN, "{}", text(&forbidden.body));
}
