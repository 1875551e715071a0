//! The organic week (seed 003), end to end: the brand library, the seed's example request
//! verbatim, refusals before anything is generated, partial success and conflict shifting,
//! regeneration merged by `placementId`, the beta-launch preset, a worker killed mid-week,
//! cancel, and another user's view. This module holds what the tests share: the example
//! request and library, and the stream's reading; `week` what a generation makes, `faults`
//! how it survives workers, cancels and retries, `refusals` what is refused and whose.

mod faults;
mod refusals;
mod to_calendar;
mod week;

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    TestApp,
    stream::{EventReader, Frame},
};

/// Seed 003's example request, verbatim (as the seed document has it).
pub(crate) fn example() -> Value {
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

/// A request of one Instagram placement of `trend-101` a day at 9:00 in Los Angeles, from
/// Tuesday 27 January, named `ids` in order.
fn daily(ids: &[&str]) -> Value {
    request(
        ids.iter()
            .zip(27..)
            .map(|(id, day)| {
                seed(
                    id,
                    "trend-101",
                    &format!("2026-01-{day}T17:00"),
                    "instagram",
                    None,
                )
            })
            .collect(),
    )
}

/// The example's library: `brand_123` in Los Angeles, its accounts `ig_123` and `li_456`,
/// `trend-101` and `asset_991` tagged to match it.
pub(crate) async fn library(app: &TestApp, user: Uuid) {
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
    /// The `error` lines as `(placementId, code)`, in stream order.
    fn errors(&self) -> Vec<(&str, &str)> {
        self.of("error")
            .into_iter()
            .map(|e| {
                (
                    e["placementId"].as_str().unwrap(),
                    e["code"].as_str().unwrap(),
                )
            })
            .collect()
    }

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

#[tokio::test]
async fn the_week_s_ai_is_shown_the_best_and_worst_posts_and_the_complete_line_names_them() {
    let fake = crate::helpers::FakeAi::start(Vec::new(), crate::helpers::Behaviour::Ok).await;
    let app = crate::helpers::spawn_app_with_ai(&fake).await;
    let user = Uuid::new_v4();
    library(&app, user).await;
    let intents = crate::publishing::analytics::rated_history(&app.db, user, "instagram", 10).await;
    let generated = generate(&app, user, &daily(&["a"])).await;
    assert_eq!(generated.status, 200, "{}", generated.error);
    let learned = &generated.complete()["learnedFrom"];
    // Post k had k·10 likes in 1,000 views: best 10, 9, 8; worst 1, 2, 3.
    let expected = |ks: [usize; 3]| ks.map(|k| intents[k - 1].to_string()).to_vec();
    assert_eq!(
        crate::publishing::analytics::intent_ids(&learned["best"]),
        expected([10, 9, 8])
    );
    assert_eq!(
        crate::publishing::analytics::intent_ids(&learned["worst"]),
        expected([1, 2, 3])
    );
    let prompts: Vec<String> = fake
        .requests()
        .iter()
        .filter_map(|r| r["messages"][1]["content"].as_str().map(str::to_owned))
        .collect();
    assert!(!prompts.is_empty());
    for prompt in &prompts {
        assert!(prompt.contains("\"yourResults\""), "{prompt}");
        assert!(prompt.contains("\"engagementRate\":0.1"), "{prompt}");
    }

    // `options.learnFromResults: false` leaves them out.
    let before = fake.requests().len();
    let mut without = daily(&["b"]);
    without["options"] = json!({ "learnFromResults": false, "overwriteEdited": true });
    let generated = generate(&app, user, &without).await;
    assert_eq!(generated.status, 200, "{}", generated.error);
    assert!(generated.complete().get("learnedFrom").is_none());
    let later = &fake.requests()[before..];
    assert!(!later.is_empty());
    for request in later {
        let prompt = request["messages"][1]["content"].as_str().unwrap();
        assert!(!prompt.contains("\"yourResults\":{"), "{prompt}");
    }
    let mut wrong = daily(&["c"]);
    wrong["options"] = json!({ "learnFromResults": "yes" });
    let refused = generate(&app, user, &wrong).await;
    // Seed 003 answers a field of the wrong type 400, naming it.
    assert_eq!(refused.status, 400);
    assert!(
        refused
            .error
            .to_string()
            .contains("options.learnFromResults"),
        "{}",
        refused.error
    );
}
