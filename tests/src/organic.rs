//! The organic week (seed 003), end to end: the brand library, the seed's example request
//! verbatim, refusals before anything is generated, partial success and conflict shifting,
//! regeneration merged by `placementId`, the beta-launch preset, a worker killed mid-week,
//! cancel, and another user's view.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    Behaviour, FakeAi, TestApp, TestOptions, spawn_app, spawn_app_with, spawn_app_with_ai,
    stream::{EventReader, Frame, Open},
};

/// Seed 003's example request, verbatim (as the seed document has it).
fn example() -> Value {
    serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/src/domain/organic/seed_example.json"
    )))
    .unwrap()
}

/// A placement seed of the example's week.
fn seed(id: &str, trend: &str, at: &str, platform: &str, account: Option<&str>) -> Value {
    let mut seed = json!({
        "placementId": id, "trendId": trend, "dayId": &at[..10],
        "scheduledAt": format!("{at}:00.000Z"), "platform": platform,
    });
    if let Some(account) = account {
        seed["accountId"] = json!(account);
    }
    seed
}

/// A request for the example's brand and week with `placements` and no options.
fn request(placements: Vec<Value>) -> Value {
    json!({
        "brandProfileId": "brand_123", "weekStart": "2026-01-26",
        "timezone": "America/Los_Angeles",
        "platformAccountIds": { "instagram": "ig_123", "linkedin": "li_456" },
        "placements": placements,
    })
}

/// The example's library: `brand_123` in Los Angeles, its accounts `ig_123` and `li_456`,
/// `trend-101` and `asset_991` tagged to match it.
async fn library(app: &TestApp, user: Uuid) {
    let created = [
        (
            "/api/organic/brands",
            json!({ "id": "brand_123", "name": "Leafy", "timezone": "America/Los_Angeles",
                    "hashtags": ["#leafy"] }),
        ),
        (
            "/api/organic/brands/brand_123/accounts",
            json!({ "platform": "instagram", "accountId": "ig_123", "handle": "@leafy" }),
        ),
        (
            "/api/organic/brands/brand_123/accounts",
            json!({ "platform": "linkedin", "accountId": "li_456" }),
        ),
        (
            "/api/organic/trends",
            json!({ "id": "trend-101", "kind": "trend", "title": "Sustainable swaps",
                    "keywords": ["sustainability", "swaps"], "priority": 5 }),
        ),
        (
            "/api/organic/assets",
            json!({ "id": "asset_991", "kind": "video", "title": "Swap montage",
                    "tags": ["Sustainability"] }),
        ),
    ];
    for (path, body) in created {
        let (status, answer) = app.send_json(Method::POST, user, path, &body).await;
        assert_eq!(status, 201, "{path}: {answer}");
    }
}

/// Adds `n` more trends, `t01`.. with decreasing priority.
async fn trends(app: &TestApp, user: Uuid, n: usize) {
    for i in 1..=n {
        let body = json!({ "id": format!("t{i:02}"), "kind": "question",
            "title": format!("Question {i}"), "keywords": ["eco"], "priority": 100 - i as i32 });
        let (status, _) = app
            .send_json(Method::POST, user, "/api/organic/trends", &body)
            .await;
        assert_eq!(status, 201);
    }
}

/// What `POST /api/organic/generate-calendar` answered: the status, the job of its
/// `X-Job-Id`, and the lines (or the error body).
struct Generated {
    status: u16,
    job: Option<Uuid>,
    lines: Vec<Frame>,
    error: Value,
}

impl Generated {
    fn of(&self, kind: &str) -> Vec<&Value> {
        self.lines
            .iter()
            .filter(|l| l.kind == kind)
            .map(|l| &l.data)
            .collect()
    }

    fn placements(&self) -> BTreeMap<String, Value> {
        self.of("placement")
            .into_iter()
            .map(|l| {
                (
                    l["placement"]["placementId"].as_str().unwrap().to_owned(),
                    l["placement"].clone(),
                )
            })
            .collect()
    }

    fn complete(&self) -> &Value {
        let last = self.lines.last().expect("lines");
        assert_eq!(last.kind, "complete", "{:#?}", self.lines);
        &last.data
    }
}

async fn open(app: &TestApp, user: Uuid, path: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(app.token(user))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn generate_at(app: &TestApp, user: Uuid, path: &str, body: &Value) -> Generated {
    let response = open(app, user, path, body).await;
    let status = response.status().as_u16();
    if status != 200 {
        return Generated {
            status,
            job: None,
            lines: Vec::new(),
            error: response.json().await.unwrap_or(Value::Null),
        };
    }
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/x-ndjson"),
        "{content_type}"
    );
    let job = response.headers()["x-job-id"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let lines = EventReader::from_response(response, true).rest().await;
    assert_vocabulary(&lines);
    Generated {
        status,
        job: Some(job),
        lines,
        error: Value::Null,
    }
}

async fn generate(app: &TestApp, user: Uuid, body: &Value) -> Generated {
    generate_at(app, user, "/api/organic/generate-calendar", body).await
}

/// Seed 003's four types only, each line with its id, `complete` last and once.
fn assert_vocabulary(lines: &[Frame]) {
    for line in lines {
        assert!(
            ["progress", "placement", "error", "complete"].contains(&line.kind.as_str()),
            "{line:?}"
        );
        assert!(line.id.is_some(), "every line carries its id: {line:?}");
    }
    assert_eq!(lines.iter().filter(|l| l.kind == "complete").count(), 1);
    assert_eq!(lines.last().unwrap().kind, "complete", "{lines:#?}");
}

async fn saved_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from organic_placements")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

async fn week(app: &TestApp, user: Uuid) -> Vec<Value> {
    let (status, week) = app
        .get_json(user, "/api/organic/brands/brand_123/weeks/2026-01-26")
        .await;
    assert_eq!(status, 200, "{week}");
    week["placements"].as_array().unwrap().clone()
}

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
    let problems = |generated: &Generated| -> Vec<String> {
        assert_eq!(generated.status, 400, "{}", generated.error);
        assert_eq!(generated.error["error"]["code"], "VALIDATION_FAILED");
        generated.error["error"]["details"]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["field"].as_str().unwrap().to_owned())
            .collect()
    };
    let cases: Vec<(Value, Vec<&str>)> = vec![
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
    ];
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
    // Another user's brand, or none; accounts the brand has not linked.
    let stranger = Uuid::new_v4();
    assert_eq!(generate(&app, stranger, &example()).await.status, 404);
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
    let refused = generate(&app, user, &unlinked).await;
    assert_eq!(refused.status, 403, "{}", refused.error);
    assert_eq!(refused.error["error"]["code"], "ACCOUNT_NOT_LINKED");
    assert_eq!(
        refused.error["error"]["details"]["accounts"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
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
    let errors: BTreeMap<&str, &str> = generated
        .of("error")
        .iter()
        .map(|e| {
            (
                e["placementId"].as_str().unwrap(),
                e["code"].as_str().unwrap(),
            )
        })
        .collect();
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
    let app = spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        env: vec![
            ("HEARTBEAT_SECS", "0.2".into()),
            ("ORGANIC_AI_CONCURRENCY", "1".into()),
        ],
        ..Default::default()
    })
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
async fn a_week_whose_worker_dies_is_finished_once_and_resumable() {
    // One AI call at a time; the fourth hangs in the worker that is then killed.
    let fake = FakeAi::start(
        vec![Behaviour::Ok, Behaviour::Ok, Behaviour::Ok, Behaviour::Hang],
        Behaviour::Ok,
    )
    .await;
    let mut app = spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        env: vec![("ORGANIC_AI_CONCURRENCY", "1".into())],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    library(&app, user).await;
    let days = [
        "2026-01-26",
        "2026-01-27",
        "2026-01-28",
        "2026-01-29",
        "2026-01-30",
        "2026-01-31",
    ];
    let seeds = days
        .iter()
        .enumerate()
        .map(|(i, day)| {
            seed(
                &format!("p{i}"),
                "trend-101",
                &format!("{day}T17:00"),
                "instagram",
                None,
            )
        })
        .collect();
    let response = open(&app, user, "/generate-calendar", &request(seeds)).await;
    assert_eq!(response.status(), 200);
    let job: Uuid = response.headers()["x-job-id"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut reader = EventReader::from_response(response, true);
    let mut seen = Vec::new();
    while seen
        .iter()
        .filter(|l: &&Frame| l.kind == "placement")
        .count()
        < 3
    {
        seen.push(reader.next().await.expect("lines until three placements"));
    }
    fake.wait_for_calls(4).await;
    drop(reader);
    app.kill_worker(0);
    app.start_worker().await;
    // Resumed by Last-Event-ID, as SSE.
    let last = seen.last().unwrap().id.unwrap();
    let rest = app
        .all_events(user, job, Open::resuming(&last.to_string()))
        .await;
    assert_eq!(rest.first().unwrap().id, Some(last + 1), "no gap");
    let all: Vec<Frame> = seen.into_iter().chain(rest).collect();
    assert_vocabulary(&all);
    let ids: Vec<&str> = all
        .iter()
        .filter(|l| l.kind == "placement")
        .map(|l| l.data["placement"]["placementId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["p0", "p1", "p2", "p3", "p4", "p5"],
        "every placement exactly once"
    );
    let complete = &all.last().unwrap().data;
    assert_eq!(complete["status"], "succeeded");
    assert_eq!(complete["counts"]["placements"], 6);
    assert_eq!(saved_rows(&app).await, 6);
    let items: i64 = sqlx::query_scalar("select count(*) from organic_run_items")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(items, 6);
    // The same stream again, by ?after=, as NDJSON: nothing after the end but 204.
    let replay = app
        .all_events(
            user,
            job,
            Open {
                ndjson: true,
                after: Some(0),
                ..Open::default()
            },
        )
        .await;
    assert_eq!(replay.iter().filter(|l| l.kind == "placement").count(), 6);
    assert_eq!(replay.last().unwrap().kind, "complete");
}

#[tokio::test]
async fn a_cancelled_week_ends_with_complete() {
    let fake = FakeAi::start(vec![Behaviour::Ok], Behaviour::Hang).await;
    let app = spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        // Far longer than the test: the cancel reaches the worker by its notification, not
        // by a heartbeat reading the flag.
        env: vec![
            ("ORGANIC_AI_CONCURRENCY", "1".into()),
            ("JOB_HEARTBEAT_MS", "30000".into()),
            ("JOB_STALE_MS", "60000".into()),
        ],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    library(&app, user).await;
    let body = request(vec![
        seed("a", "trend-101", "2026-01-27T17:00", "instagram", None),
        seed("b", "trend-101", "2026-01-28T17:00", "instagram", None),
    ]);
    let response = open(&app, user, "/api/organic/generate-calendar", &body).await;
    let job: Uuid = response.headers()["x-job-id"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut reader = EventReader::from_response(response, true);
    let mut lines = Vec::new();
    // The first placement is saved (its line follows the commit); the second hangs.
    while !lines.iter().any(|l: &Frame| l.kind == "placement") {
        lines.push(reader.next().await.expect("lines until a placement"));
    }
    fake.wait_for_calls(2).await;
    let (status, _) = app.cancel(user, job).await;
    assert_eq!(status, 202);
    lines.extend(reader.rest().await);
    assert_vocabulary(&lines);
    let complete = &lines.last().unwrap().data;
    assert_eq!(complete["status"], "cancelled", "{complete}");
    assert_eq!(complete["error"]["code"], "CANCELLED");
    assert_eq!(
        complete["counts"]["placements"], 1,
        "what it drafted is kept"
    );
    assert_eq!(saved_rows(&app).await, 1);
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

#[tokio::test]
async fn an_ai_failure_fails_only_its_placement() {
    // One call at a time: the first placement's call is refused for good (no retry), the
    // second's answers are unusable twice, the third is fine.
    let garbage = Behaviour::Body(
        200,
        json!({ "id": "x", "model": "fake", "choices": [{ "index": 0,
            "message": { "role": "assistant", "content": "not the JSON asked for" } }],
            "usage": { "prompt_tokens": 1, "completion_tokens": 1 } })
        .to_string(),
    );
    let fake = FakeAi::start(
        vec![Behaviour::Status(400), garbage.clone(), garbage],
        Behaviour::Ok,
    )
    .await;
    let app = spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        env: vec![("ORGANIC_AI_CONCURRENCY", "1".into())],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    library(&app, user).await;
    let body = request(vec![
        seed("a", "trend-101", "2026-01-27T17:00", "instagram", None),
        seed("b", "trend-101", "2026-01-28T17:00", "instagram", None),
        seed("c", "trend-101", "2026-01-29T17:00", "instagram", None),
    ]);
    let generated = generate(&app, user, &body).await;
    let errors: Vec<(&str, &str)> = generated
        .of("error")
        .iter()
        .map(|e| {
            (
                e["placementId"].as_str().unwrap(),
                e["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        errors,
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
async fn a_week_that_fails_still_ends_with_complete() {
    let mut app = spawn_app_with(TestOptions {
        worker: false,
        ..Default::default()
    })
    .await;
    app.expect_failed_jobs();
    let user = Uuid::new_v4();
    library(&app, user).await;
    let body = request(vec![seed(
        "a",
        "trend-101",
        "2026-01-27T17:00",
        "instagram",
        None,
    )]);
    let response = open(&app, user, "/api/organic/generate-calendar", &body).await;
    let job: Uuid = response.headers()["x-job-id"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut reader = EventReader::from_response(response, true);
    // The brand goes, with its run, before a worker takes the job.
    assert_eq!(app.delete(user, "/api/organic/brands/brand_123").await, 204);
    app.start_worker().await;
    let lines = reader.rest().await;
    assert_vocabulary(&lines);
    let complete = &lines.last().unwrap().data;
    assert_eq!(complete["status"], "failed", "{complete}");
    assert_eq!(complete["error"]["code"], "ORGANIC_RUN_MISSING");
    assert_eq!(complete["jobId"], job.to_string());
    assert_eq!(
        complete["counts"],
        json!({ "placements": 0, "errors": 0, "adjusted": 0, "autoFilled": 0 })
    );
}

#[tokio::test]
async fn a_retry_with_its_idempotency_key_streams_the_same_job() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    library(&app, user).await;
    let body = request(vec![seed(
        "a",
        "trend-101",
        "2026-01-27T17:00",
        "instagram",
        None,
    )]);
    let keyed = |key: &'static str, body: Value| {
        let request = app
            .client
            .post(app.url("/api/organic/generate-calendar"))
            .bearer_auth(app.token(user))
            .header("Idempotency-Key", key)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            if status != 200 {
                return (status, None, response.json::<Value>().await.unwrap());
            }
            let job: Uuid = response.headers()["x-job-id"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            let lines = EventReader::from_response(response, true).rest().await;
            assert_vocabulary(&lines);
            (
                status,
                Some(job),
                json!(lines.iter().map(|l| l.data.clone()).collect::<Vec<_>>()),
            )
        }
    };
    let (_, first, lines) = keyed("retry-1", body.clone()).await;
    // The retry, after the first has ended: the same job's whole stream again.
    let (status, again, replayed) = keyed("retry-1", body.clone()).await;
    assert_eq!((status, again), (200, first));
    assert_eq!(replayed, lines);
    // Two retries at once: one job.
    let (one, two) = tokio::join!(
        keyed("retry-2", body.clone()),
        keyed("retry-2", body.clone())
    );
    assert_eq!((one.0, two.0), (200, 200));
    assert_eq!(one.1, two.1);
    // The key with another body.
    let other = request(vec![seed(
        "b",
        "trend-101",
        "2026-01-28T17:00",
        "instagram",
        None,
    )]);
    let (status, _, refused) = keyed("retry-1", other).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (422, Some("IDEMPOTENCY_KEY_REUSED"))
    );
    let runs: i64 = sqlx::query_scalar("select count(*) from organic_runs")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(runs, 2, "one run per key");
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
    let errors = generated.of("error");
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (
            errors[0]["placementId"].as_str(),
            errors[0]["code"].as_str()
        ),
        (Some("late-2"), Some("NO_FREE_SLOT"))
    );
    assert_eq!(
        generated.complete()["counts"],
        json!({ "placements": 1, "errors": 1, "adjusted": 0, "autoFilled": 0 })
    );
}
