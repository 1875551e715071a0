//! What is refused before anything is generated, the library's ids and links, and
//! another user's view.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::*;
use crate::helpers::{TestApp, TestOptions, spawn_app, spawn_app_with};

/// The fields a 400 `VALIDATION_FAILED` names.
fn problems(generated: &Generated) -> Vec<String> {
    assert_eq!(generated.status, 400, "{}", generated.error);
    assert_eq!(generated.error["error"]["code"], "VALIDATION_FAILED");
    generated.error["error"]["details"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap().to_owned())
        .collect()
}

/// Requests the rules refuse, each with the fields its refusal names.
fn invalid_requests() -> Vec<(Value, Vec<&'static str>)> {
    vec![
        (request(vec![]), vec!["placements"]),
        (
            {
                let mut body = example();
                for key in ["brandProfileId", "weekStart", "timezone"] {
                    body.as_object_mut().unwrap().remove(key);
                }
                body
            },
            vec!["brandProfileId", "weekStart", "timezone"],
        ),
        (
            {
                let mut body = example();
                body["weekStart"] = json!("2026-01-27");
                body["timezone"] = json!("Nowhere/Atlantis");
                body
            },
            vec!["weekStart", "timezone"],
        ),
        (
            request(vec![
                seed("a", "trend-101", "2026-02-02T17:00", "instagram", None),
                seed("b", "trend-101", "2026-01-27T07:00", "instagram", None),
                seed("c", "", "2026-01-27T17:00", "myspace", None),
            ]),
            vec![
                "placements[0].dayId",
                "placements[1].scheduledAt",
                "placements[2].trendId",
                "placements[2].platform",
            ],
        ),
        (
            {
                let mut body = example();
                body["options"]["newsletterDayId"] = json!("2026-02-05");
                let mut other = body["placements"][0].clone();
                other["timeLabel"] = json!("10:00 AM");
                body["placements"].as_array_mut().unwrap().push(other);
                body
            },
            vec!["options.newsletterDayId", "placements"],
        ),
    ]
}

/// Another user's brand, or none, is 404; a brand that has not linked the accounts named
/// is 403 `ACCOUNT_NOT_LINKED`, naming them.
async fn a_stranger_s_or_an_unlinked_brand_is_refused(app: &TestApp, user: Uuid) {
    let stranger = Uuid::new_v4();
    assert_eq!(generate(app, stranger, &example()).await.status, 404);
    let mut unlinked = example();
    unlinked["brandProfileId"] = json!("brand_456");
    let (status, _) = app
        .send_json(
            Method::POST,
            user,
            "/api/organic/brands",
            &json!({ "id": "brand_456", "name": "Other", "timezone": "UTC" }),
        )
        .await;
    assert_eq!(status, 201);
    let refused = generate(app, user, &unlinked).await;
    assert_eq!(refused.status, 403, "{}", refused.error);
    assert_eq!(refused.error["error"]["code"], "ACCOUNT_NOT_LINKED");
    assert_eq!(
        refused.error["error"]["details"]["accounts"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn refusals_come_before_anything_is_generated() {
    let app = spawn_app_with(TestOptions {
        worker: false,
        env: vec![
            ("ORGANIC_RATE_LIMIT", "2".into()),
            ("ORGANIC_MAX_PLACEMENTS", "3".into()),
        ],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    library(&app, user).await;
    let cases = invalid_requests();
    for (body, fields) in cases {
        let generated = generate(&app, user, &body).await;
        assert_eq!(problems(&generated), fields, "{body}");
    }
    // Identical duplicates collapse into one (the request is fine; no worker runs it).
    let mut body = example();
    let twin = body["placements"][0].clone();
    body["placements"].as_array_mut().unwrap().push(twin);
    let response = open(&app, user, "/api/organic/generate-calendar", &body).await;
    assert_eq!(response.status(), 200);
    let job: Uuid = response.headers()["x-job-id"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    drop(response);
    // One generation per brand at a time.
    let again = generate(&app, user, &example()).await;
    assert_eq!(again.status, 409, "{}", again.error);
    assert_eq!(
        again.error["error"]["code"],
        "ORGANIC_GENERATION_IN_PROGRESS"
    );
    assert_eq!(again.error["error"]["details"]["jobId"], job.to_string());
    a_stranger_s_or_an_unlinked_brand_is_refused(&app, user).await;
    // Over the rate limit: the refusals above gave their slots back; the second
    // generation (of the other brand, naming no account) takes the last one.
    let second = json!({ "brandProfileId": "brand_456", "weekStart": "2026-01-26",
        "timezone": "UTC", "placements": [seed("y", "trend-101", "2026-01-27T17:00", "instagram", None)] });
    let response = open(&app, user, "/api/organic/generate-calendar", &second).await;
    assert_eq!(response.status(), 200);
    drop(response);
    let limited = open(&app, user, "/api/organic/generate-calendar", &second).await;
    let body = TestApp::assert_rate_limited(limited, 600).await;
    assert_eq!(body["error"]["code"], "RATE_LIMITED");
    // Seeds over ORGANIC_MAX_PLACEMENTS (3; the preset's come on top).
    let four = request(
        (0..4)
            .map(|i| {
                seed(
                    &format!("p{i}"),
                    "trend-101",
                    "2026-01-27T17:00",
                    "instagram",
                    None,
                )
            })
            .collect(),
    );
    let stranger_brand = generate(&app, Uuid::new_v4(), &four).await;
    assert_eq!(problems(&stranger_brand), ["placements"]);

    let runs: i64 = sqlx::query_scalar("select count(*) from organic_runs")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(runs, 2, "only the accepted requests wrote a run");
    assert_eq!(saved_rows(&app).await, 0);
    app.expect_unfinished_jobs();
}

#[tokio::test]
async fn another_user_sees_none_of_it() {
    let app = spawn_app().await;
    let (owner, stranger) = (Uuid::new_v4(), Uuid::new_v4());
    library(&app, owner).await;
    let generated = generate(
        &app,
        owner,
        &request(vec![seed(
            "a",
            "trend-101",
            "2026-01-27T17:00",
            "instagram",
            None,
        )]),
    )
    .await;
    let job = generated.job.unwrap();
    for path in [
        "/api/organic/brands/brand_123".to_owned(),
        "/api/organic/brands/brand_123/accounts".into(),
        "/api/organic/brands/brand_123/weeks/2026-01-26".into(),
        "/api/organic/trends/trend-101".into(),
        "/api/organic/assets/asset_991".into(),
        format!("/v1/jobs/{job}/events"),
        format!("/v1/jobs/{job}"),
    ] {
        let (status, _) = app.get_json(stranger, &path).await;
        assert_eq!(status, 404, "{path}");
    }
    for path in [
        "/api/organic/brands",
        "/api/organic/trends",
        "/api/organic/assets",
    ] {
        let (status, list) = app.get_json(stranger, path).await;
        assert_eq!((status, list), (200, json!([])), "{path}");
    }
    let (status, _) = app
        .send_json(
            Method::PATCH,
            stranger,
            "/api/organic/brands/brand_123/placements/a",
            &json!({ "caption": "x" }),
        )
        .await;
    assert_eq!(status, 404);
    // The stranger may use the same ids for their own library.
    library(&app, stranger).await;
    assert_eq!(
        app.delete(stranger, "/api/organic/brands/brand_123").await,
        204
    );
    let (status, brand) = app.get_json(owner, "/api/organic/brands/brand_123").await;
    assert_eq!((status, brand["name"].as_str()), (200, Some("Leafy")));
}

#[tokio::test]
async fn the_library_keeps_ids_unique_and_accounts_shared() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    library(&app, user).await;
    let (status, taken) = app
        .send_json(
            Method::POST,
            user,
            "/api/organic/trends",
            &json!({ "id": "trend-101", "kind": "event", "title": "Again", "keywords": [] }),
        )
        .await;
    assert_eq!(
        (status, taken["error"]["code"].as_str()),
        (409, Some("ID_TAKEN"))
    );
    let (status, generated) = app
        .send_json(
            Method::POST,
            user,
            "/api/organic/assets",
            &json!({ "kind": "image", "title": "Generated id", "tags": [] }),
        )
        .await;
    assert_eq!(status, 201);
    assert!(
        generated["id"].as_str().unwrap().starts_with("asset_"),
        "{generated}"
    );
    // One account row, linked to two brands; linking again reuses the link.
    let (status, _) = app
        .send_json(
            Method::POST,
            user,
            "/api/organic/brands",
            &json!({ "id": "brand_2", "name": "Two", "timezone": "Europe/Berlin",
                    "postingWindow": { "start": "09:00", "end": "17:30" } }),
        )
        .await;
    assert_eq!(status, 201);
    let link = json!({ "platform": "instagram", "accountId": "ig_123" });
    let (status, _) = app
        .send_json(
            Method::POST,
            user,
            "/api/organic/brands/brand_2/accounts",
            &link,
        )
        .await;
    assert_eq!(status, 201);
    let (status, linked) = app
        .send_json(
            Method::POST,
            user,
            "/api/organic/brands/brand_123/accounts",
            &link,
        )
        .await;
    assert_eq!((status, linked["handle"].as_str()), (200, Some("@leafy")));
    let accounts: i64 =
        sqlx::query_scalar("select count(*) from platform_accounts where account_id = 'ig_123'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(accounts, 1);
    assert_eq!(
        app.delete(user, "/api/organic/brands/brand_2/accounts/ig_123")
            .await,
        204
    );
    let (_, left) = app
        .get_json(user, "/api/organic/brands/brand_123/accounts")
        .await;
    assert_eq!(
        left.as_array().unwrap().len(),
        2,
        "the other brand keeps it"
    );
    let (status, patched) = app
        .send_json(
            Method::PATCH,
            user,
            "/api/organic/brands/brand_2",
            &json!({ "postingWindow": { "start": "18:00", "end": "08:00" } }),
        )
        .await;
    assert_eq!(
        (status, patched["error"]["details"]["field"].as_str()),
        (422, Some("postingWindow"))
    );
    let (status, bad_zone) = app
        .send_json(
            Method::POST,
            user,
            "/api/organic/brands",
            &json!({ "name": "Z", "timezone": "Mars/Base" }),
        )
        .await;
    assert_eq!(
        (status, bad_zone["error"]["details"]["field"].as_str()),
        (422, Some("timezone"))
    );
}
