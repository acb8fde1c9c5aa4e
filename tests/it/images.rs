//! The Machine Images page: tabs, search, filters, sort, keyset pages and
//! who sees what.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;

use crate::harness::{TestApp, text};

/// Row ids in page order (`<tr id="image-N">`).
fn row_ids(body: &str) -> Vec<i64> {
    body.split("<tr id=\"image-").skip(1).filter_map(|s| s.split('"').next()?.parse().ok()).collect()
}

/// The href of the pager link with `rel`, unescaped.
pub(crate) fn link(body: &str, rel: &str) -> Option<String> {
    let end = body.find(&format!("\" rel=\"{rel}\""))?;
    let start = body[..end].rfind("href=\"")? + 6;
    Some(body[start..end].replace("&amp;", "&").replace("&#38;", "&"))
}

/// The provider id of an image the demo made at the provider.
async fn provider_id_of(app: &TestApp, name: &str) -> String {
    use diesel::{ExpressionMethods, QueryDsl};
    use stratus_console::db::schema::{image_records, provider_images};
    image_records::table
        .inner_join(provider_images::table)
        .filter(image_records::name.eq(name))
        .select(provider_images::provider_image_id.assume_not_null())
        .first(&mut app.db().await)
        .await
        .expect("the demo image")
}

/// Adds `n` own images to an account, with names that repeat (so the id
/// tie-break matters) and distinct creation times.
async fn add_images(app: &TestApp, account: i64, n: i64) {
    diesel::sql_query(format!(
        "WITH p AS (
            INSERT INTO provider_images (provider, region, provider_image_id, platform, architecture, state,
                                         owner_account_number, created_at)
            SELECT 'ec2', 'us-east-1', 'ami-0bulk' || lpad(g::text, 12, '0'), 'UBUNTU', 'x86_64', 'ACTIVE',
                   '111111111111', now() - g * interval '1 hour'
            FROM generate_series(1, {n}) g
            RETURNING id, created_at, provider_image_id)
         INSERT INTO image_records (account_id, provider_image_id, name, source, created_at)
         SELECT {account}, id, 'bulk image ' || (right(provider_image_id, 3)::int % 7), 'own', created_at FROM p"
    ))
    .execute(&mut app.db().await)
    .await
    .expect("insert images");
}

#[actix_web::test]
async fn my_images_shows_the_enstratus_columns_and_the_accounts_images() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;

    let page = client.get("/images").await;

    assert_eq!(page.status, StatusCode::OK);
    let seen = text(&page.body);
    for column in ["Name", "Label", "ID", "Provider ID", "Arch.", "Account", "Owner", "Group", "Budget Code", "Created"]
    {
        assert!(seen.contains(column), "column {column}");
    }
    for image in ["web-frontend-2026.11", "api-server-base", "postgres-15-primary", "windows-build-agent"] {
        assert!(seen.contains(image), "{image}");
    }
    assert!(seen.contains("Jordan Lee") && seen.contains("Operations") && seen.contains("Ops"));
    assert!(!seen.contains("staging-web-frontend"), "another account's image");
    assert!(page.body.contains("<del>legacy-php-app</del>"), "deprecated names are struck through");
    assert!(page.body.contains(r#"class="label-swatch label-green""#));
    assert!(page.body.contains(r#"title="Label: Red flag. Change the label""#));
    // Nine made in the account, and the public image its running server was launched from.
    assert_eq!(row_ids(&page.body).len(), 10);
    assert!(seen.contains("ubuntu/images/hvm-ssd"), "a public image launched here is in My images");
}

#[actix_web::test]
async fn an_image_no_one_keeps_shows_a_dash_for_its_owner_group_and_budget_code() {
    let app = TestApp::spawn().await;
    // As a sync finds an image made outside the console: no one keeps it yet.
    diesel::sql_query(
        "UPDATE image_records SET owner_user_id = NULL, owner_group_id = NULL, budget_code_id = NULL
         WHERE name = 'api-server-base'",
    )
    .execute(&mut app.db().await)
    .await
    .unwrap();
    let mut client = app.signed_in("admin@acme.test").await;

    let page = client.get("/images").await;

    let row = page.body.split("<tr id=\"image-").find(|row| row.contains(">api-server-base<")).expect("its row");
    let row = &row[..row.find("</tr>").expect("the row ends")];
    assert_eq!(row.matches(r#"<td><span class="muted">—</span>"#).count(), 3, "{row}");
    assert!(row.contains(r#"<td>Acme Production<td>"#), "the account is named as before");
}

#[actix_web::test]
async fn the_shared_tab_shows_images_shared_with_the_account_under_their_own_name() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    client.post("/account", &[("account_id", &app.demo.acme_staging.to_string())]).await;

    let seen = text(&client.get("/images?scope=shared").await.body);

    assert!(seen.contains("api-server-base (from Production)"), "{seen}");
    assert!(seen.contains("Acme Production"), "the owning account, which the user is a member of");
    assert!(!seen.contains("staging-web-frontend"), "own images are on the other tab");
}

#[actix_web::test]
async fn the_shared_tab_says_what_to_expect_when_empty() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let seen = text(&client.get("/images?scope=shared").await.body);
    assert!(seen.contains("Nothing has been shared with Acme Production"), "{seen}");
}

#[actix_web::test]
async fn the_public_catalog_waits_for_a_search() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;

    let empty = client.get("/images?scope=public").await;
    assert!(text(&empty.body).contains("Search for public machine images"));
    assert!(row_ids(&empty.body).is_empty() && !empty.body.contains("<tbody>"));

    let found = text(&client.get("/images?scope=public&q=ubuntu-xenial").await.body);
    assert!(found.contains("ubuntu/images/hvm-ssd/ubuntu-xenial-16.04"), "{found}");
    assert!(found.contains("amazon"), "the owner's alias");
    assert!(found.contains("Launch only images whose origin you trust."));
    assert!(!found.contains("Windows_Server"));

    let by_platform = text(&client.get("/images?scope=public&platform=WINDOWS&arch=x86_64").await.body);
    assert!(by_platform.contains("Windows_Server"), "{by_platform}");
    assert!(!by_platform.contains("amzn"));
    let arm = text(&client.get("/images?scope=public&platform=AMAZON&arch=arm64").await.body);
    assert!(arm.contains("arm64") && !arm.contains("Windows_Server"));
}

#[actix_web::test]
async fn only_a_role_that_may_launch_public_images_searches_the_public_catalog() {
    let app = TestApp::spawn().await;
    // The viewer's role (CSR) sees the account's images, and has no
    // `IMAGE DefineServerFromPublic`: "search and launch public images".
    let mut viewer = app.signed_in("viewer@acme.test").await;
    let tab = "href=\"/images?scope=public\"";
    let mine = viewer.get("/images").await;
    assert_eq!(mine.status, StatusCode::OK);
    assert!(!mine.body.contains(tab), "no Public catalog tab");
    let refusal = "Your role in this account does not allow searching and launching public images.";
    for path in ["/images?scope=public", "/images?scope=public&q=ubuntu"] {
        let search = viewer.get(path).await;
        assert_eq!(search.status, StatusCode::FORBIDDEN, "{path}");
        assert!(text(&search.body).contains(refusal), "{}", text(&search.body));
        assert!(!search.body.contains("ubuntu-xenial"), "{path}");
    }
    // The API refuses it in the same words.
    let token = crate::api::make_token(&mut viewer, "reader", app.demo.acme_production, "read").await;
    let answer = crate::api::Api::new(&app, &token).get("/api/v1/public-images?q=ubuntu").await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.json);
    assert_eq!(answer.json["detail"], refusal);

    let mut admin = app.signed_in("admin@acme.test").await;
    assert!(admin.get("/images").await.body.contains(tab));
}

#[actix_web::test]
async fn search_matches_name_description_or_provider_id() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;

    let by_name = text(&client.get("/images?q=POSTGRES").await.body);
    assert!(by_name.contains("postgres-15-primary") && !by_name.contains("batch-worker"));

    let by_description = text(&client.get("/images?q=graviton").await.body);
    assert!(by_description.contains("edge-cache-arm"));

    let provider_id = provider_id_of(&app, "batch-worker").await;
    let by_id = text(&client.get(&format!("/images?q={}", &provider_id[..12])).await.body);
    assert!(by_id.contains("batch-worker") && !by_id.contains("postgres-15-primary"), "{by_id}");

    let nothing = text(&client.get("/images?q=zzz-nothing").await.body);
    assert!(nothing.contains("No images match") && nothing.contains("Clear the search"));
}

#[actix_web::test]
async fn search_finds_a_name_in_any_case_of_any_script() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    diesel::sql_query("UPDATE image_records SET name = 'İstanbul Édge' WHERE name = 'batch-worker'")
        .execute(&mut app.db().await)
        .await
        .unwrap();
    diesel::sql_query(
        "INSERT INTO public_images (provider, region, provider_image_id, name, platform, architecture,
                                    owner_account_number, created_at)
         VALUES ('ec2', 'us-east-1', 'ami-0f00000000000İ0', 'İzmir ÉDGE mirror', 'UBUNTU', 'x86_64',
                 '123456789012', now())",
    )
    .execute(&mut app.db().await)
    .await
    .unwrap();

    // "İ" lowercases to two characters in Rust and to one in PostgreSQL:
    // the search text and the names must be lowercased alike.
    for q in ["İstanbul", "istanbul", "İSTANBUL ÉDGE", "édge"] {
        let found = text(&client.get(&format!("/images?q={}", url_encode(q))).await.body);
        assert!(found.contains("İstanbul Édge"), "q={q}: {found}");
    }
    for q in ["İzmir", "izmir éDGE"] {
        let found = text(&client.get(&format!("/images?scope=public&q={}", url_encode(q))).await.body);
        assert!(found.contains("İzmir ÉDGE mirror"), "q={q}: {found}");
    }
}

#[actix_web::test]
async fn filters_narrow_the_list() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;

    let windows = text(&client.get("/images?platform=WINDOWS").await.body);
    assert!(windows.contains("windows-build-agent") && !windows.contains("web-frontend-2026.11"));

    let arm = client.get("/images?arch=arm64").await;
    assert_eq!(row_ids(&arm.body).len(), 2);

    let yellow = text(&client.get("/images?label=yellow").await.body);
    assert!(yellow.contains("ubuntu-hardened-cis") && !yellow.contains("api-server-base"));
}

#[actix_web::test]
async fn search_text_is_taken_literally_and_never_breaks_the_page() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    for q in ["%", "_", "\\", "'", "\"", "%25_%5C", "🚀 images", "' OR 1=1 --"] {
        let encoded: String = url_encode(q);
        for scope in ["own", "public"] {
            let response = client.get(&format!("/images?scope={scope}&q={encoded}")).await;
            assert_eq!(response.status, StatusCode::OK, "q={q} scope={scope}");
            assert!(row_ids(&response.body).is_empty(), "{q} matches nothing literally");
        }
    }
}

fn url_encode(s: &str) -> String {
    serde_urlencoded::to_string([("q", s)]).unwrap().trim_start_matches("q=").to_owned()
}

#[actix_web::test]
async fn search_text_over_200_characters_is_a_bad_request() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let ok = client.get(&format!("/images?q={}", "a".repeat(200))).await;
    assert_eq!(ok.status, StatusCode::OK);
    for length in [201, 10_000] {
        let response = client.get(&format!("/images?q={}", "a".repeat(length))).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{length}");
        assert!(text(&response.body).contains("Search text is too long: at most 200 characters."));
    }
}

#[actix_web::test]
async fn an_unknown_scope_is_a_bad_request_naming_the_allowed_values() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let response = client.get("/images?scope=everything").await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(text(&response.body).contains("use one of: own, shared, public"), "{}", text(&response.body));
    let bad_sort = client.get("/images?sort=size").await;
    assert_eq!(bad_sort.status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn a_tampered_page_cursor_is_a_bad_request() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    for after in ["garbage", "eyJpZCI6IngifQ", "eyJpZCI6MSwiYXQiOiIyMDI2LTAxLTAxVDAwOjAwOjAwWiJ9"] {
        let response = client.get(&format!("/images?after={after}")).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{after}");
        assert!(text(&response.body).contains("This page link is not valid."));
    }
    // Well-formed, with keys no row has that PostgreSQL would refuse: a NUL
    // in a name, a year before its range. Every list that pages says so.
    let nul = "eyJpZCI6MSwibmFtZSI6ImFcdTAwMDBiIn0"; // {"id":1,"name":"a\u0000b"}
    let ancient = "eyJpZCI6MSwiYXQiOiItMjAwMDAwLTAxLTAxVDAwOjAwOjAwWiJ9"; // {"id":1,"at":"-200000-01-01T00:00:00Z"}
    for path in [
        format!("/images?after={nul}"),
        format!("/images?scope=shared&after={nul}"),
        format!("/images?scope=bin&after={nul}"),
        format!("/images?sort=-created&after={ancient}"),
        format!("/images?sort=created&before={ancient}"),
        format!("/images?scope=public&q=x&sort=created&after={ancient}"),
        format!("/audit?after={ancient}"),
    ] {
        let response = client.get(&path).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{path}: {}", text(&response.body));
    }

    // A bulk action sent from such a list is done, and the list shown from its start.
    let (id, _) =
        crate::image_actions::record(&mut app.db().await, app.demo.acme_production, "batch-worker").await.unwrap();
    let id = id.to_string();
    let list = format!("after={nul}");
    let done = client
        .post_htmx("/images/bulk", &[("ids", &id), ("action", "label"), ("label", "green"), ("list", &list)])
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", text(&done.body));
    assert!(text(&done.body).contains("Labelled 1 image “Green”"), "{}", text(&done.body));
}

#[actix_web::test]
async fn pages_of_50_walk_every_image_once_forward_and_back() {
    let app = TestApp::spawn().await;
    add_images(&app, app.demo.acme_production, 120).await;
    let mut client = app.signed_in("admin@acme.test").await;

    for sort in ["name", "-name", "-created", "created", "-launches", "launches", "-last_launched", "last_launched"] {
        let mut pages = Vec::new();
        let mut url = format!("/images?sort={sort}");
        loop {
            let page = client.get(&url).await;
            assert_eq!(page.status, StatusCode::OK);
            pages.push(row_ids(&page.body));
            match link(&page.body, "next") {
                Some(next) => url = next,
                None => break,
            }
        }
        let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
        assert_eq!(sizes, [50, 50, 30], "sort {sort}");
        let mut all: Vec<i64> = pages.concat();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 130, "no row twice, none skipped (sort {sort})");

        // And back again from the last page.
        let last = client.get(&url).await;
        let prev = link(&last.body, "prev").expect("a previous page");
        let middle = client.get(&prev).await;
        assert_eq!(row_ids(&middle.body), pages[1], "sort {sort}");
        let first = client.get(&link(&middle.body, "prev").expect("the first page")).await;
        assert_eq!(row_ids(&first.body), pages[0], "sort {sort}");
    }
}

#[actix_web::test]
async fn names_rust_and_postgresql_lowercase_differently_page_without_gaps() {
    let app = TestApp::spawn().await;
    add_images(&app, app.demo.acme_production, 120).await;
    // Rust lowercases "İ" to "i̇" (i and a dot above), PostgreSQL to "i":
    // a page's link must name the boundary as the database orders it.
    diesel::sql_query("UPDATE image_records SET name = 'İzmir ' || name WHERE name LIKE 'bulk%'")
        .execute(&mut app.db().await)
        .await
        .unwrap();
    let mut client = app.signed_in("admin@acme.test").await;
    for sort in ["name", "-name"] {
        let mut seen = Vec::new();
        let mut url = format!("/images?sort={sort}");
        loop {
            let page = client.get(&url).await;
            assert_eq!(page.status, StatusCode::OK);
            seen.extend(row_ids(&page.body));
            match link(&page.body, "next") {
                Some(next) => url = next,
                None => break,
            }
        }
        let mut unique = seen.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!((seen.len(), unique.len()), (130, 130), "sort {sort}");
    }
}

#[actix_web::test]
async fn names_sort_case_insensitively_with_the_id_as_tie_break() {
    let app = TestApp::spawn().await;
    add_images(&app, app.demo.acme_production, 14).await;
    let mut client = app.signed_in("admin@acme.test").await;
    let body = client.get("/images?q=bulk").await.body;
    let ids = row_ids(&body);
    let seen = text(&body);
    let names: Vec<&str> = seen.split("bulk image ").skip(1).map(|s| &s[..1]).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    // Equal names are in id order.
    for pair in ids.windows(2).zip(names.windows(2)) {
        if pair.1[0] == pair.1[1] {
            assert!(pair.0[0] < pair.0[1]);
        }
    }
}

#[actix_web::test]
async fn an_htmx_request_for_the_list_gets_only_the_list() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let partial = client.get_htmx("/images?q=api", "image-list").await;
    assert_eq!(partial.status, StatusCode::OK);
    assert!(partial.body.trim_start().starts_with("<div id=\"image-list\""));
    assert!(!partial.body.contains("<html"));
    assert!(text(&partial.body).contains("api-server-base"));

    let bad = client.get_htmx("/images?scope=nope", "image-list").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.header("hx-retarget"), Some("#flash"));
    assert!(!bad.body.contains("<html"));
}

#[actix_web::test]
async fn a_viewer_sees_the_images_but_no_actions() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("viewer@acme.test").await;
    let page = client.get("/images").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(text(&page.body).contains("web-frontend-2026.11"));
    assert!(!page.body.contains("actions-button"));
}

#[actix_web::test]
async fn a_globex_user_sees_only_globex_images() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@globex.test").await;
    let seen = text(&client.get("/images").await.body);
    assert!(seen.contains("hammock-district-web"));
    assert!(!seen.contains("web-frontend-2026.11") && !seen.contains("Acme"));
    // Acme's ids do not leak through a search for them either.
    let provider_id = provider_id_of(&app, "batch-worker").await;
    let search = client.get(&format!("/images?q={provider_id}")).await;
    assert!(row_ids(&search.body).is_empty());
}

#[actix_web::test]
async fn the_public_catalog_pages_newest_first_and_refuses_a_name_sort() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;

    let by_name = client.get("/images?scope=public&q=ubuntu&sort=name").await;
    assert_eq!(by_name.status, StatusCode::BAD_REQUEST);
    assert!(text(&by_name.body).contains("Public catalog cannot be sorted by Name A–Z"));

    // "a": more provided images match than the first page offers apart.
    let mut url = "/images?scope=public&q=a".to_owned();
    let mut seen = Vec::new();
    let mut provided_rows = 0;
    loop {
        let page = client.get(&url).await;
        assert_eq!(page.status, StatusCode::OK);
        let ids: Vec<String> = page
            .body
            .split("<td class=\"mono\">")
            .skip(1)
            .filter_map(|s| Some(s.split('<').next()?.to_owned()))
            .collect();
        // The first page also offers the newest 20 provided images, above
        // the 50; the older ones are listed among the others.
        let section = page.body.find("<tbody class=\"provided\">").map_or("", |at| &page.body[at..]);
        let section = section.split("</tbody>").next().unwrap_or_default();
        let provided = section.matches("badge-provided\"").count();
        assert!(provided <= 20 && ids.len() - provided <= 50, "{provided} {}", ids.len());
        provided_rows += page.body.matches("badge-provided\"").count();
        seen.extend(ids);
        match link(&page.body, "next") {
            Some(next) => url = next,
            None => break,
        }
    }
    let expected = usize::try_from(
        crate::harness::count(
            &mut app.db().await,
            "SELECT count(*) AS n FROM public_images WHERE state = 'ACTIVE' AND search_text LIKE '%a%'",
        )
        .await,
    )
    .unwrap();
    assert!(expected > 100, "{expected}");
    let provided_expected = crate::harness::count(
        &mut app.db().await,
        "SELECT count(*) AS n FROM public_images WHERE state = 'ACTIVE' AND search_text LIKE '%a%'
            AND owner_account_number IN ('137112412989', '099720109477')",
    )
    .await;
    assert!(provided_expected > 20, "{provided_expected}");
    assert_eq!(i64::try_from(provided_rows).unwrap(), provided_expected, "every provided image, once");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (expected, expected));
}

#[actix_web::test]
async fn provided_images_are_badged_offered_first_and_their_launch_repeats_the_advice() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let page = client.get("/images?scope=public&arch=x86_64").await;
    assert_eq!(page.status, StatusCode::OK);
    let provided_at = page.body.find("Provided images").expect("a provided section");
    let others_at = page.body.find("Other public images").expect("the other images after it");
    assert!(provided_at < others_at);
    let section = &page.body[provided_at..others_at];
    let badges = section.matches(r#"class="badge badge-provided""#).count();
    assert!(badges > 0 && badges <= 20, "{badges}");
    assert_eq!(section.matches("launch-button").count(), badges, "only provided images up top");

    let mut conn = app.db().await;
    let provided: i64 = stratus_console::db::schema::public_images::table
        .filter(stratus_console::db::schema::public_images::owner_account_number.eq("137112412989"))
        .select(stratus_console::db::schema::public_images::id)
        .first(&mut conn)
        .await
        .unwrap();
    let dialog = client.get_htmx(&format!("/images/{provided}/launch?catalog=public"), "modal").await;
    assert!(text(&dialog.body).contains("Provided images are replaced from time to time"), "{}", text(&dialog.body));
}

#[actix_web::test]
async fn a_provided_image_gone_at_the_provider_shows_as_retired_and_its_server_keeps_running() {
    use stratus_console::db::schema::servers;
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    // The catalog sync finds every public image gone.
    stratus_console::db::sync::public_catalog(&mut conn, "ec2", "us-east-1", &[]).await.unwrap();
    let mut client = app.signed_in("admin@acme.test").await;
    let page = client.get("/images").await;
    let shown = text(&page.body);
    assert!(shown.contains("ubuntu/images/hvm-ssd") && shown.contains("retired"), "{shown}");
    assert!(shown.contains("batch-worker retired base"), "an own image built on it says so, quietly: {shown}");
    assert!(!shown.contains("batch-worker retired base retired"), "own images are not retired by the public catalog");
    let built_on_retired = text(&client.get("/images?lifecycle=retired_root").await.body);
    assert!(built_on_retired.contains("batch-worker"), "the filter finds it: {built_on_retired}");
    let running: i64 = servers::table
        .filter(servers::account_id.eq(app.demo.acme_production))
        .filter(servers::state.eq("RUNNING"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(running, 1, "its server keeps running");
}

#[actix_web::test]
async fn a_public_image_launched_here_shows_this_account_and_its_publisher() {
    let app = TestApp::spawn().await;
    let mut client = app.signed_in("admin@acme.test").await;
    let id = crate::browser::id_of(
        &app,
        &format!(
            "SELECT id FROM image_records WHERE account_id = {} AND source = 'public_launched' LIMIT 1",
            app.demo.acme_production
        ),
    )
    .await;
    let page = client.get("/images").await.body;
    let start = page.find(&format!("<tr id=\"image-{id}\"")).expect("the row is listed");
    let row = text(&page[start..start + page[start..].find("</tr>").unwrap()]);
    assert!(row.contains("Acme Production"), "the account it is recorded in: {row}");
    // Named as the public catalog names it: the provider's alias for the publisher's account.
    assert!(row.contains("amazon") && !row.contains("099720109477"), "its publisher is the owner: {row}");
    assert!(!row.contains("Alex Morgan"), "{row}");
}

/// The records lists run on connections that plan each statement once for
/// any values, with no transaction around the read; every other statement
/// keeps a plan for its values (the public search chooses its index by term).
#[actix_web::test]
async fn the_records_list_has_connections_that_plan_it_once() {
    async fn plan_mode(conn: &mut diesel_async::AsyncPgConnection) -> String {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>("current_setting('plan_cache_mode')"))
            .get_result(conn)
            .await
            .unwrap()
    }
    let app = TestApp::spawn().await;
    let lists = stratus_console::db::list_pool(&app.database_url, 1).unwrap();
    assert_eq!(plan_mode(&mut lists.get().await.unwrap()).await, "force_generic_plan");
    let pool = stratus_console::db::pool(&app.database_url, 1).unwrap();
    assert_eq!(plan_mode(&mut pool.get().await.unwrap()).await, "auto");

    // The page reads through them, every sort and tab.
    let mut client = app.signed_in("manager@acme.test").await;
    for path in ["/images?sort=-launches", "/images?scope=shared&sort=last_launched", "/images?scope=bin"] {
        assert_eq!(client.get(path).await.status, StatusCode::OK, "{path}");
    }
}
