//! Where images are used, in the list (ISSUE 17): "Launches" and "Last
//! launched" count the company's launches and sort the list; the lifecycle
//! filters find what is protected, retiring, unused or built on a retired
//! image.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api::{Api, default_code, make_token};
use crate::harness::{TestApp, text};
use crate::image_actions::record;

fn names(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_owned()).collect()
}

fn item<'a>(page: &'a Value, name: &str) -> &'a Value {
    page["items"].as_array().unwrap().iter().find(|i| i["name"] == name).expect(name)
}

#[actix_web::test]
async fn launches_count_the_companys_servers_sort_the_list_and_lifecycle_filters_find_images() {
    let app = TestApp::spawn().await;
    let (production, staging) = (app.demo.acme_production, app.demo.acme_staging);
    let mut conn = app.db().await;
    for account in [production, staging] {
        for kind in ["sync_products", "sync_zones", "sync_firewalls", "sync_key_pairs"] {
            stratus_console::db::jobs::enqueue_sync(&mut conn, account, kind, 2).await.unwrap();
        }
    }
    app.run_jobs().await;
    let mut admin = app.signed_in("admin@acme.test").await;
    let prod_api = Api::new(&app, &make_token(&mut admin, "use", production, "write").await);
    let staging_api = Api::new(&app, &make_token(&mut admin, "use", staging, "write").await);
    let code = default_code(&app).await;
    let launch = async |api: &Api, image: i64, name: &str, product: &str| {
        let launched = api
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/images/{image}/launch"),
                Some(json!({ "name": name, "budget_code_id": code, "product_id": product })),
            )
            .await;
        assert_eq!(launched.status, StatusCode::ACCEPTED, "{}", launched.json);
    };

    // Production launches its api-server-base twice and batch-worker once;
    // Staging launches api-server-base, shared with it, last.
    let (base, _) = record(&mut conn, production, "api-server-base").await.unwrap();
    let (batch, _) = record(&mut conn, production, "batch-worker").await.unwrap();
    let (shared, _) = record(&mut conn, staging, "api-server-base (from Production)").await.unwrap();
    launch(&prod_api, base, "use-1", "t3.micro").await;
    launch(&prod_api, base, "use-2", "t3.micro").await;
    launch(&prod_api, batch, "use-3", "t4g.micro").await;
    launch(&staging_api, shared, "use-4", "t3.micro").await;

    let most = prod_api.get("/api/v1/images?sort=-launches").await;
    assert_eq!(most.status, StatusCode::OK, "{}", most.json);
    assert_eq!(item(&most.json, "api-server-base")["launches"], 3, "the company's launches, Staging's too");
    assert_eq!(item(&most.json, "batch-worker")["launches"], 1);
    let counts: Vec<i64> =
        most.json["items"].as_array().unwrap().iter().map(|i| i["launches"].as_i64().unwrap()).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "most launches first: {counts:?}");
    assert_eq!(names(&most.json)[0], "api-server-base");

    let recent = prod_api.get("/api/v1/images?sort=-last_launched").await;
    assert_eq!(names(&recent.json)[..2], ["api-server-base", "batch-worker"], "Staging's launch was the last");
    let last = item(&recent.json, "api-server-base")["last_launched_at"].as_str().unwrap().to_owned();
    assert!(last.starts_with(&Utc::now().date_naive().to_string()), "{last}");
    let oldest = prod_api.get("/api/v1/images?sort=last_launched").await;
    assert_eq!(names(&oldest.json).last().unwrap(), "api-server-base", "never launched comes first");
    assert!(item(&oldest.json, "legacy-php-app")["last_launched_at"].is_null());

    // The page shows both columns and sorts by them.
    let page = text(&admin.get("/images?sort=-launches").await.body);
    assert!(page.contains("Launches") && page.contains("Last launched"), "{page}");
    let at = |name: &str| page.find(name).expect(name);
    assert!(at("api-server-base") < at("batch-worker"), "{page}");

    // Lifecycle filters: protected, retiring, unused for 90 days.
    let (postgres, version) = record(&mut conn, production, "postgres-15-primary").await.unwrap();
    admin.post_htmx(&format!("/images/{postgres}/protect"), &[("version", &version.to_string())]).await;
    let (rhel, version) = record(&mut conn, production, "rhel-9-sap-base").await.unwrap();
    let retire_on = (Utc::now() + Duration::days(20)).date_naive().to_string();
    let scheduled = admin
        .post_htmx(
            &format!("/images/{rhel}/schedule"),
            &[("version", &version.to_string()), ("deprecate_on", ""), ("retire_on", &retire_on)],
        )
        .await;
    assert_eq!(scheduled.status, StatusCode::OK, "{}", text(&scheduled.body));
    let rows = |body: &str| -> Vec<i64> {
        body.match_indices(r#"<tr id="image-"#)
            .map(|(at, m)| body[at + m.len()..].split('"').next().unwrap().parse().unwrap())
            .collect()
    };
    let (legacy, _) = record(&mut conn, production, "legacy-php-app").await.unwrap();
    // The demo protects rhel-9-sap-base and schedules legacy-php-app's retirement.
    assert_eq!(rows(&admin.get("/images?lifecycle=protected").await.body), [postgres, rhel]);
    assert_eq!(rows(&admin.get("/images?lifecycle=retiring").await.body), [legacy, rhel]);
    let unused = admin.get("/images?lifecycle=unused_90d").await.body;
    assert!(rows(&unused).contains(&legacy), "made over a year ago and never launched");
    assert!(!rows(&unused).contains(&base) && !rows(&unused).contains(&batch), "launched today");
    let api_protected = prod_api.get("/api/v1/images?lifecycle=protected").await;
    assert_eq!(names(&api_protected.json), ["postgres-15-primary", "rhel-9-sap-base"]);
    assert_eq!(item(&api_protected.json, "postgres-15-primary")["built_on_retired"], false);

    let bogus = admin.get("/images?lifecycle=soon").await;
    assert_eq!(bogus.status, StatusCode::BAD_REQUEST);
    assert!(text(&bogus.body).contains("retiring, retired_root, protected, unused_90d"), "{}", text(&bogus.body));
    assert_eq!(prod_api.get("/api/v1/images?sort=launches&after=bm90").await.status, StatusCode::UNPROCESSABLE_ENTITY);
}
