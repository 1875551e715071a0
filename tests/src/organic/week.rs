//! What a generation makes: the seed's example, partial success and conflict shifting,
//! regeneration, the preset, progress while drafting, per-placement failures.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::helpers::{
    Behaviour, FakeAi, TestApp, spawn_app, spawn_app_with_ai, spawn_app_with_ai_env,
    stream::EventReader,
};

/// The seed's example against a library made for it, with the AI `app` has.
async fn the_seed_s_example(app: &TestApp) {
    let user = Uuid::new_v4();
    library(app, user).await;
    let generated = generate(app, user, &example()).await;
    assert_eq!(generated.status, 200, "{}", generated.error);
    assert_eq!(generated.lines[0].kind, "progress");
    let stages: BTreeSet<&str> = generated
        .of("progress")
        .iter()
        .filter_map(|p| p["stage"].as_str())
        .collect();
    for stage in [
        "analyzing",
        "optimizing",
        "matching",
        "drafting",
        "finalizing",
    ] {
        assert!(stages.contains(stage), "{stage} in {stages:?}");
    }
    assert!(
        generated.of("error").is_empty(),
        "{:#?}",
        generated.of("error")
    );
    let placements = generated.placements();
    assert_eq!(placements.len(), 14, "{:?}", placements.keys());
    assert_eq!(generated.of("placement").len(), 14, "each placement once");

    let seeded = &placements["seed-2026-01-26-trend-101"];
    assert_eq!(
        seeded["schedule"],
        json!({ "dayId": "2026-01-26", "scheduledAt": "2026-01-26T17:00:00.000Z",
                "timeOfDay": "morning", "adjusted": false, "timeLabel": "9:00 AM" })
    );
    assert_eq!(
        seeded["platform"],
        json!({ "name": "instagram", "accountId": "ig_123" })
    );
    assert_eq!(
        seeded["seed"],
        json!({ "trendId": "trend-101", "source": "trend" })
    );
    assert_eq!(seeded["content"]["type"], "reel");
    for field in ["format", "titleTopic", "objective", "target", "tone", "cta"] {
        assert!(
            !seeded["content"][field].as_str().unwrap().is_empty(),
            "content.{field}: {seeded}"
        );
    }
    assert_eq!(seeded["content"]["numSlides"], 1);
    assert_eq!(seeded["creative"]["assetIds"], json!(["asset_991"]));
    assert!(
        !seeded["creative"]["creativeIdea"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    assert!(seeded["creative"]["assetHints"][0]["role"].is_string());
    assert!(!seeded["copy"]["caption"].as_str().unwrap().is_empty());
    let tags = &seeded["copy"]["hashtags"];
    assert!(tags["high"].is_array() && tags["medium"].is_array());
    assert!(
        tags["low"].as_array().unwrap().contains(&json!("#leafy")),
        "{tags}"
    );

    let mut autos = Vec::new();
    for day in 27..=31 {
        for platform in ["instagram", "linkedin"] {
            autos.push(format!("auto-2026-01-{day}-{platform}"));
        }
    }
    autos.extend([
        "auto-2026-02-01-instagram".into(),
        "auto-2026-02-01-linkedin".into(),
    ]);
    for id in &autos {
        let auto = placements
            .get(id)
            .unwrap_or_else(|| panic!("{id} in {:?}", placements.keys()));
        let platform = auto["platform"]["name"].as_str().unwrap();
        let local = if platform == "instagram" {
            "9:00 AM"
        } else {
            "8:00 AM"
        };
        assert_eq!(auto["schedule"]["timeLabel"], local, "{auto}");
        assert_eq!(auto["auto"], true);
    }
    let newsletter = &placements["newsletter-2026-01-26"];
    assert_eq!(
        newsletter["platform"],
        json!({ "name": "newsletter", "accountId": null })
    );
    assert_eq!(newsletter["schedule"]["dayId"], "2026-01-29", "Thursday");
    assert_eq!(newsletter["schedule"]["timeLabel"], "7:00 AM");
    assert_eq!(newsletter["content"]["type"], "newsletter");

    let complete = generated.complete();
    assert_eq!(complete["status"], "succeeded");
    assert_eq!(
        complete["counts"],
        json!({ "placements": 14, "errors": 0, "adjusted": 0, "autoFilled": 12 })
    );
    assert_eq!(complete["jobId"], generated.job.unwrap().to_string());

    let saved = week(app, user).await;
    assert_eq!(saved.len(), 14);
    for placement in &saved {
        let id = placement["placementId"].as_str().unwrap();
        assert_eq!(placement, &placements[id], "the week reloads as streamed");
    }
    assert_eq!(saved_rows(app).await, 14);
}

#[tokio::test]
async fn the_seed_s_example_fills_and_saves_the_week_with_the_offline_provider() {
    let app = spawn_app().await;
    the_seed_s_example(&app).await;
}

#[tokio::test]
async fn the_seed_s_example_fills_and_saves_the_week_with_the_http_client() {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let app = spawn_app_with_ai(&fake).await;
    the_seed_s_example(&app).await;
    assert_eq!(fake.calls(), 14, "one AI call per placement");
    let prompt = fake.requests()[0]["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        prompt.contains("Highlight the sustainability angle"),
        "{prompt}"
    );
}

#[tokio::test]
async fn failures_are_per_placement_and_conflicts_shift() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    library(&app, user).await;
    let body = json!({
        "brandProfileId": "brand_123", "weekStart": "2026-01-26", "timezone": "America/Los_Angeles",
        "platformAccountIds": { "instagram": "ig_123" },
        "placements": [
            seed("no-account", "trend-101", "2026-01-27T18:00", "linkedin", None),
            seed("no-trend", "trend-999", "2026-01-27T19:00", "instagram", None),
            seed("c", "trend-101", "2026-01-28T17:00", "instagram", Some("ig_123")),
            seed("a", "trend-101", "2026-01-28T17:00", "instagram", None),
            seed("b", "trend-101", "2026-01-28T17:00", "instagram", Some("ig_123")),
            seed("fine", "trend-101", "2026-01-28T17:00", "linkedin", Some("li_456")),
        ],
    });
    let generated = generate(&app, user, &body).await;
    assert_eq!(generated.status, 200, "{}", generated.error);
    let errors: BTreeMap<&str, &str> = generated.errors().into_iter().collect();
    assert_eq!(
        errors,
        BTreeMap::from([
            ("no-account", "MISSING_ACCOUNT"),
            ("no-trend", "TREND_NOT_FOUND")
        ])
    );
    let placements = generated.placements();
    let at = |id: &str| {
        let s = &placements[id]["schedule"];
        (
            s["scheduledAt"].as_str().unwrap().to_owned(),
            s["adjusted"].as_bool().unwrap(),
        )
    };
    assert_eq!(at("a"), ("2026-01-28T17:00:00.000Z".into(), false));
    assert_eq!(at("b"), ("2026-01-28T17:30:00.000Z".into(), true));
    assert_eq!(at("c"), ("2026-01-28T18:00:00.000Z".into(), true));
    assert_eq!(at("fine"), ("2026-01-28T17:00:00.000Z".into(), false));
    assert_eq!(placements["b"]["schedule"]["timeLabel"], "9:30 AM");
    assert_eq!(
        generated.complete()["counts"],
        json!({ "placements": 4, "errors": 2, "adjusted": 2, "autoFilled": 0 })
    );
    assert_eq!(saved_rows(&app).await, 4);
}

#[tokio::test]
async fn regeneration_merges_by_placement_id_and_keeps_edits() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    library(&app, user).await;
    let seeds = vec![
        seed("mon", "trend-101", "2026-01-26T17:00", "instagram", None),
        seed("tue", "trend-101", "2026-01-27T17:00", "instagram", None),
        seed("wed", "trend-101", "2026-01-28T17:00", "linkedin", None),
    ];
    let first = generate(&app, user, &request(seeds.clone())).await;
    assert_eq!(first.placements().len(), 3);

    // The user edits Tuesday's caption, then moves Monday's post onto Tuesday's time.
    let (status, edited) = app
        .send_json(
            Method::PATCH,
            user,
            "/api/organic/brands/brand_123/placements/tue",
            &json!({ "caption": "My own words", "hashtags": { "high": ["mine"] } }),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(
        (
            edited["edited"].as_bool(),
            edited["copy"]["caption"].as_str()
        ),
        (Some(true), Some("My own words"))
    );
    assert_eq!(edited["copy"]["hashtags"]["high"], json!(["#mine"]));
    let (status, clash) = app
        .send_json(
            Method::PATCH,
            user,
            "/api/organic/brands/brand_123/placements/mon",
            &json!({ "scheduledAt": "2026-01-27T17:10:00Z" }),
        )
        .await;
    assert_eq!(status, 409, "{clash}");
    assert_eq!(clash["error"]["code"], "PLACEMENT_CONFLICT");
    assert_eq!(clash["error"]["details"]["placementId"], "tue");

    // Regenerating Monday and Tuesday with new guidance: Monday's copy changes, the edited
    // Tuesday is kept, Wednesday is untouched; no duplicates.
    let mut again = request(seeds[..2].to_vec());
    again["options"] = json!({ "guidancePrompt": "Mention the spring sale." });
    let second = generate(&app, user, &again).await;
    let streamed = second.placements();
    assert_eq!(streamed.len(), 2);
    assert!(
        streamed["mon"]["copy"]["caption"]
            .as_str()
            .unwrap()
            .contains("spring sale")
    );
    assert_eq!(streamed["tue"]["edited"], true);
    assert_eq!(streamed["tue"]["copy"]["caption"], "My own words");
    let saved = week(&app, user).await;
    let ids: Vec<&str> = saved
        .iter()
        .map(|p| p["placementId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["mon", "tue", "wed"]);
    assert_eq!(saved[0], streamed["mon"]);
    assert_eq!(saved[2], first.placements()["wed"], "untouched");
    assert_eq!(saved_rows(&app).await, 3);

    // overwriteEdited regenerates the edited one too.
    again["options"]["overwriteEdited"] = json!(true);
    let third = generate(&app, user, &again).await;
    let tue = &third.placements()["tue"];
    assert_eq!(tue["edited"], false);
    assert!(
        tue["copy"]["caption"]
            .as_str()
            .unwrap()
            .contains("spring sale"),
        "{tue}"
    );
    assert_eq!(saved_rows(&app).await, 3);

    // A new placement five minutes after Monday's saved post of the account moves on.
    let fourth = generate(
        &app,
        user,
        &request(vec![seed(
            "mon-2",
            "trend-101",
            "2026-01-26T17:05",
            "instagram",
            None,
        )]),
    )
    .await;
    let moved = &fourth.placements()["mon-2"]["schedule"];
    assert_eq!(moved["scheduledAt"], "2026-01-26T17:30:00.000Z", "{moved}");
    assert_eq!(moved["adjusted"], true);
    assert_eq!(saved_rows(&app).await, 4);
}

#[tokio::test]
async fn beta_launch_fills_the_unseeded_days_without_reusing_trends() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    library(&app, user).await;
    trends(&app, user, 14).await;
    let mut body = request(vec![
        seed("m1", "t01", "2026-01-26T17:00", "instagram", None),
        seed("m2", "t02", "2026-01-26T18:00", "linkedin", None),
    ]);
    body["options"] = json!({
        "schedulePreset": "beta-launch",
        "preferredPlatforms": ["linkedin", "instagram"],
        "language": "es",
    });
    let generated = generate(&app, user, &body).await;
    let placements = generated.placements();
    let autos: BTreeSet<&str> = placements
        .keys()
        .filter(|k| k.starts_with("auto-"))
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<String> = (27..=31)
        .map(|d| format!("2026-01-{d}"))
        .chain(["2026-02-01".into()])
        .flat_map(|day| ["instagram", "linkedin"].map(|p| format!("auto-{day}-{p}")))
        .collect();
    assert_eq!(autos, expected.iter().map(String::as_str).collect());
    let used: Vec<&str> = placements
        .values()
        .map(|p| p["seed"]["trendId"].as_str().unwrap())
        .collect();
    let distinct: BTreeSet<&str> = used.iter().copied().collect();
    assert_eq!(used.len(), 14);
    assert_eq!(distinct.len(), 14, "15 trends: none used twice: {used:?}");
    assert!(
        !distinct.contains("trend-101"),
        "the lowest priority is left out: {used:?}"
    );
    assert_eq!(generated.complete()["counts"]["autoFilled"], 12);
    for placement in placements.values() {
        let caption = placement["copy"]["caption"].as_str().unwrap();
        assert!(
            caption.contains("ideas de"),
            "written in Spanish: {caption}"
        );
    }
}

#[tokio::test]
async fn a_slow_week_keeps_talking_and_sse_gets_the_same_lines() {
    // The first placement takes a second to draft; progress lines come at least every
    // HEARTBEAT_SECS meanwhile.
    let fake = FakeAi::start(
        vec![Behaviour::Delay(std::time::Duration::from_secs(1))],
        Behaviour::Ok,
    )
    .await;
    let app = spawn_app_with_ai_env(
        &fake,
        &[("HEARTBEAT_SECS", "0.2"), ("ORGANIC_AI_CONCURRENCY", "1")],
    )
    .await;
    let user = Uuid::new_v4();
    library(&app, user).await;
    let body = request(vec![
        seed("a", "trend-101", "2026-01-27T17:00", "instagram", None),
        seed("b", "trend-101", "2026-01-28T17:00", "linkedin", None),
    ]);
    let response = app
        .client
        .post(app.url("/api/organic/generate-calendar"))
        .bearer_auth(app.token(user))
        .header("accept", "text/event-stream")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let lines = EventReader::from_response(response, false).rest().await;
    assert_vocabulary(&lines);
    let first = lines
        .iter()
        .position(|l| l.kind == "placement")
        .expect("a placement");
    let waiting = lines[..first]
        .iter()
        .filter(|l| l.kind == "progress" && l.data["stage"] == "drafting")
        .count();
    assert!(
        waiting >= 2,
        "progress while the first placement is drafted: {lines:#?}"
    );
    assert_eq!(lines.iter().filter(|l| l.kind == "placement").count(), 2);
    assert_eq!(lines.last().unwrap().data["status"], "succeeded");
}

#[tokio::test]
async fn an_ai_failure_fails_only_its_placement() {
    // One call at a time: the first placement's call is refused for good (no retry), the
    // second's answers are unusable twice, the third is fine.
    let garbage = Behaviour::Says("not the JSON asked for".into());
    let fake = FakeAi::start(
        vec![Behaviour::Status(400), garbage.clone(), garbage],
        Behaviour::Ok,
    )
    .await;
    let app = spawn_app_with_ai_env(&fake, &[("ORGANIC_AI_CONCURRENCY", "1")]).await;
    let user = Uuid::new_v4();
    library(&app, user).await;
    let body = daily(&["a", "b", "c"]);
    let generated = generate(&app, user, &body).await;
    assert_eq!(
        generated.errors(),
        [("a", "GENERATION_FAILED"), ("b", "GENERATION_FAILED")]
    );
    assert_eq!(generated.placements().keys().collect::<Vec<_>>(), ["c"]);
    let complete = generated.complete();
    assert_eq!(complete["status"], "succeeded");
    assert_eq!(complete["counts"]["errors"], 2);
    assert_eq!(fake.calls(), 4);
    assert_eq!(saved_rows(&app).await, 1);
}

#[tokio::test]
async fn a_cut_answer_is_asked_again_up_to_the_retries_then_fails_its_placement() {
    // One call at a time: the first placement's answer is cut three times (the first try
    // and AI_MAX_RETRIES=2 more), the second's once, then whole.
    let cut = Behaviour::CutAfter(1);
    let fake = FakeAi::start(
        vec![cut.clone(), cut.clone(), cut.clone(), cut],
        Behaviour::Ok,
    )
    .await;
    let app = spawn_app_with_ai_env(
        &fake,
        &[("ORGANIC_AI_CONCURRENCY", "1"), ("AI_MAX_RETRIES", "2")],
    )
    .await;
    let user = Uuid::new_v4();
    library(&app, user).await;
    let body = daily(&["a", "b"]);
    let generated = generate(&app, user, &body).await;
    assert_eq!(generated.errors(), [("a", "GENERATION_FAILED")]);
    let message = generated.of("error")[0]["message"].as_str().unwrap();
    assert!(message.contains("cut"), "{message}");
    assert_eq!(generated.placements().keys().collect::<Vec<_>>(), ["b"]);
    assert_eq!(generated.complete()["status"], "succeeded");
    assert_eq!(fake.calls(), 5, "3 for a, 2 for b");
    assert_eq!(saved_rows(&app).await, 1);
}

#[tokio::test]
async fn the_call_that_crosses_the_budget_is_the_weeks_last_and_its_placement_is_kept() {
    // Each call of the fake uses 165 tokens: the second crosses 300.
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let app = spawn_app_with_ai_env(
        &fake,
        &[
            ("ORGANIC_AI_CONCURRENCY", "1"),
            ("AI_USER_DAILY_TOKENS", "300"),
        ],
    )
    .await;
    app.expect_failed_jobs();
    let user = Uuid::new_v4();
    library(&app, user).await;
    let body = daily(&["a", "b", "c"]);
    let generated = generate(&app, user, &body).await;
    assert_eq!(
        generated.placements().keys().collect::<Vec<_>>(),
        ["a", "b"]
    );
    let complete = generated.complete();
    assert_eq!(complete["status"], "failed", "{complete}");
    assert_eq!(complete["error"]["code"], "BUDGET_EXCEEDED");
    assert_eq!(fake.calls(), 2, "no call after the one that crossed it");
    assert_eq!(saved_rows(&app).await, 2);
    assert_eq!(week(&app, user).await.len(), 2);

    let refused = generate(&app, user, &body).await;
    assert_eq!(refused.status, 429, "{}", refused.error);
    assert_eq!(refused.error["error"]["code"], "BUDGET_EXCEEDED");
    let (_, usage) = app.get_json(user, "/v1/usage").await;
    assert_eq!(usage["data"]["days"][0]["kind"], "organic");
    assert_eq!(usage["data"]["days"][0]["calls"], 2);
    assert_eq!(fake.calls(), 2);
}

#[tokio::test]
async fn a_placement_with_no_free_time_left_that_day_fails_alone() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    library(&app, user).await;
    // 21:50 in Los Angeles twice on one account: the second would go past 22:00, the end
    // of the posting window.
    let late = |id: &str| {
        let mut late = seed(id, "trend-101", "2026-01-28T05:50", "instagram", None);
        late["dayId"] = json!("2026-01-27");
        late
    };
    let generated = generate(&app, user, &request(vec![late("late-1"), late("late-2")])).await;
    assert_eq!(generated.status, 200, "{}", generated.error);
    assert_eq!(
        generated.placements().keys().collect::<Vec<_>>(),
        ["late-1"]
    );
    assert_eq!(generated.errors(), [("late-2", "NO_FREE_SLOT")]);
    assert_eq!(
        generated.complete()["counts"],
        json!({ "placements": 1, "errors": 1, "adjusted": 0, "autoFilled": 0 })
    );
}

/// A week being planned is kept server-side: what one device saves, another reads back
/// (seed 003's shapes), an empty draft is a draft too, and another user's brand is 404.
#[tokio::test]
async fn a_weeks_draft_is_saved_and_read_back_as_it_was_left() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    library(&app, user).await;
    let path = "/api/organic/brands/brand_123/weeks/2026-01-26/draft";
    let (status, empty) = app.get_json(user, path).await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(empty["placements"], json!([]));
    assert!(empty["options"].is_null() && empty["updatedAt"].is_null());

    let seeds = daily(&["p1", "p2"])["placements"].clone();
    let draft = json!({
        "placements": seeds,
        "options": { "schedulePreset": "beta-launch", "includeNewsletter": true },
    });
    let (status, saved) = app.send_json(Method::PUT, user, path, &draft).await;
    assert_eq!(status, 200, "{saved}");
    assert!(saved["updatedAt"].is_string());
    let (status, read) = app.get_json(user, path).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["placements"].as_array().unwrap().len(), 2);
    assert_eq!(read["placements"][1]["placementId"], "p2");
    assert_eq!(
        read["placements"][1]["scheduledAt"],
        seeds[1]["scheduledAt"]
    );
    assert_eq!(read["options"]["schedulePreset"], "beta-launch");
    assert_eq!(read["options"]["includeNewsletter"], true);
    assert_eq!(read["brandProfileId"], "brand_123");
    assert_eq!(read["weekStart"], "2026-01-26");

    // Saved again with no seeds left: the week's draft is empty, not the old one.
    let (status, _) = app
        .send_json(Method::PUT, user, path, &json!({ "placements": [] }))
        .await;
    assert_eq!(status, 200);
    let (_, read) = app.get_json(user, path).await;
    assert_eq!(read["placements"], json!([]));
    assert!(read["options"].is_null());
    // Another week of the brand has its own draft.
    let (_, other) = app
        .get_json(user, "/api/organic/brands/brand_123/weeks/2026-02-02/draft")
        .await;
    assert!(other["updatedAt"].is_null());

    // A seed that is not seed 003's shape is refused; another user sees no brand.
    let (status, refused) = app
        .send_json(
            Method::PUT,
            user,
            path,
            &json!({ "placements": [{ "placementId": "x" }] }),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    let stranger = Uuid::new_v4();
    let (status, _) = app.get_json(stranger, path).await;
    assert_eq!(status, 404);
    let (status, _) = app.send_json(Method::PUT, stranger, path, &draft).await;
    assert_eq!(status, 404);
}

/// Every date a path or query carries is held to `YYYY-MM-DD`: another shape is 400 naming
/// the parameter, a day the calendar has not (or a week that does not start on a Monday)
/// 422 naming it; on GET and PUT alike, and no draft is stored for any of them.
#[tokio::test]
async fn a_date_in_a_path_or_query_is_a_real_day_or_refused_naming_it() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    library(&app, user).await;
    let draft = json!({ "placements": [] });
    let refused = |status: u16, body: &serde_json::Value, field: &str, what: &str| {
        assert_eq!(body["error"]["code"], "VALIDATION_FAILED", "{what}: {body}");
        assert_eq!(body["error"]["details"]["field"], field, "{what}: {body}");
        status
    };
    let week_paths = |day: &str| {
        [
            format!("/api/organic/brands/brand_123/weeks/{day}"),
            format!("/api/organic/brands/brand_123/weeks/{day}/draft"),
        ]
    };
    let wrong_shapes = ["-2026-02-02", "%2B12026-02-02", "2026-2-2", "2026-02-02x"];
    let no_such_weeks = ["2026-02-30", "0000-01-03", "2026-02-03"];
    for (days, expected) in [(&wrong_shapes[..], 400), (&no_such_weeks[..], 422)] {
        for day in days {
            for path in week_paths(day) {
                let (status, body) = app.get_json(user, &path).await;
                assert_eq!(
                    refused(status, &body, "weekStart", &path),
                    expected,
                    "{path}"
                );
            }
            let path = &week_paths(day)[1];
            let (status, body) = app.send_json(Method::PUT, user, path, &draft).await;
            assert_eq!(
                refused(status, &body, "weekStart", path),
                expected,
                "PUT {path}"
            );
            let path = format!("/api/organic/brands/brand_123/placements/p1?weekStart={day}");
            let (status, body) = app
                .send_json(Method::PATCH, user, &path, &json!({ "caption": "x" }))
                .await;
            assert_eq!(
                refused(status, &body, "weekStart", &path),
                expected,
                "{path}"
            );
            for field in ["from", "to"] {
                let path = format!("/v1/usage?{field}={day}");
                let (status, body) = app.get_json(user, &path).await;
                if *day == "2026-02-03" {
                    // Any day may start or end a period of usage.
                    assert_eq!(status, 200, "{path}: {body}");
                } else {
                    assert_eq!(refused(status, &body, field, &path), expected, "{path}");
                }
            }
        }
    }
    let stored: i64 = sqlx::query_scalar("select count(*) from organic_week_drafts")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored, 0, "a draft was stored under a date that is none");
    // A Monday is a week.
    let (status, body) = app
        .send_json(Method::PUT, user, &week_paths("2026-02-02")[1], &draft)
        .await;
    assert_eq!(status, 200, "{body}");
}
