//! Tests that start from an empty console and add only what their rule
//! needs (`TestApp::empty` and `demo::company_of_one`).

use reqwest::StatusCode;
use stratus_console::demo::{self, company_of_one};

use crate::cloud::fresh_account;
use crate::harness::{TestApp, text};

#[actix_web::test]
async fn a_company_of_one_starts_with_an_empty_list_of_images() {
    let app = TestApp::empty().await;
    let mut conn = app.db().await;
    company_of_one(&mut conn, "Initech", "ada@initech.test", &fresh_account()).await.expect("a company of one");

    let mut client = app.client();
    let signed_in = client.login("ada@initech.test", demo::PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{}", signed_in.body);
    let images = client.get("/images").await;

    assert_eq!(images.status, StatusCode::OK);
    assert!(text(&images.body).contains("Initech Main has no machine images yet"), "{}", text(&images.body));
}

#[actix_web::test]
async fn two_companies_in_one_console_never_see_each_other() {
    let app = TestApp::empty().await;
    let mut conn = app.db().await;
    let initech = company_of_one(&mut conn, "Initech", "ada@initech.test", &fresh_account()).await.unwrap();
    let hooli = company_of_one(&mut conn, "Hooli", "gavin@hooli.test", &fresh_account()).await.unwrap();

    let mut client = app.client();
    client.login("ada@initech.test", demo::PASSWORD).await;
    let users = client.get("/admin/users").await;
    let other = client.get(&format!("/admin/users/{}/edit", hooli.admin)).await;
    let own = client.get(&format!("/admin/users/{}/edit", initech.admin)).await;

    assert_eq!(users.status, StatusCode::OK);
    assert!(text(&users.body).contains("ada@initech.test"));
    assert!(!text(&users.body).contains("gavin@hooli.test"));
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(own.status, StatusCode::OK);
}
