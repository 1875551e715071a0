//! Themes, manual syntheses and schedule CRUD (seed 004's schedule endpoints, case by case).

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    TestApp,
    sites::Site,
    spawn_app,
    stream::{Open, plain},
};

pub const FEED: &str = r#"<?xml version="1.0"?>
<rss version="2.0"><channel><title>Tea Times</title><link>https://tea.example</link><description>Tea</description>
<item><title>Green tea prices rise</title><link>https://tea.example/green</link><description>Harvests were small this spring.</description><pubDate>Tue, 03 Nov 2026 10:00:00 GMT</pubDate></item>
<item><title>Oolong explained</title><link>https://tea.example/oolong</link><description>Between green and black.</description><pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate></item>
</channel></rss>"#;

pub const PAGE: &str =
    "<html><head><title>Matcha guide</title></head><body><p>Whisk it well.</p></body></html>";

/// A site with a feed and a page.
pub async fn tea_site() -> Site {
    Site::start(vec![
        ("/feed.xml", "application/rss+xml", FEED.to_owned()),
        ("/matcha.html", "text/html", PAGE.to_owned()),
    ])
    .await
}

impl TestApp {
    /// Creates a theme; returns its id.
    pub async fn create_theme(&self, user: Uuid, body: &Value) -> String {
        let (status, theme) = self
            .send_json(Method::POST, user, "/api/v1/themes", body)
            .await;
        assert_eq!(status, 201, "{theme}");
        theme["id"].as_str().unwrap().to_owned()
    }

    /// Asks for a manual synthesis of `theme`; returns the 202's body.
    pub async fn request_synthesis(&self, user: Uuid, theme: &str) -> Value {
        let (status, accepted) = self
            .send_json(
                Method::POST,
                user,
                &format!("/api/v1/themes/{theme}/syntheses"),
                &json!({}),
            )
            .await;
        assert_eq!(status, 202, "{accepted}");
        accepted
    }
}

pub fn tea_theme(site: &Site) -> Value {
    json!({
        "name": "Tea",
        "description": "What happens in tea",
        "sources": [
            { "type": "rss", "value": site.url("/feed.xml") },
            { "type": "url", "value": site.url("/matcha.html") },
            { "type": "text", "value": "Notes: chai is spiced tea." },
            { "type": "rss", "value": site.url("/gone.xml") },
        ],
    })
}

#[tokio::test]
async fn themes_are_created_read_updated_and_deleted_by_their_owner() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let site = tea_site().await;
    let id = app.create_theme(user, &tea_theme(&site)).await;
    let (status, theme) = app.get_json(user, &format!("/api/v1/themes/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(theme["name"], "Tea");
    assert_eq!(theme["sources"].as_array().unwrap().len(), 4);
    assert_eq!(theme["sources"][0]["type"], "rss");

    let (status, updated) = app
        .send_json(
            Method::PATCH,
            user,
            &format!("/api/v1/themes/{id}"),
            &json!({ "name": "Tea and more", "sources": [] }),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        (updated["name"].clone(), updated["sources"].clone()),
        (json!("Tea and more"), json!([]))
    );
    assert_eq!(updated["description"], "What happens in tea");
    let (_, list) = app.get_json(user, "/api/v1/themes").await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    for (body, field) in [
        (json!({ "name": "" }), "name"),
        (
            json!({ "name": "x", "sources": [{ "type": "podcast", "value": "x" }] }),
            "sources[0].type",
        ),
        (
            json!({ "name": "x", "sources": [{ "type": "rss", "value": "file:///etc/passwd" }] }),
            "sources[0].value",
        ),
        (
            json!({ "name": "x", "sources": (0..21).map(|i| json!({ "type": "text", "value": format!("t{i}") })).collect::<Vec<_>>() }),
            "sources",
        ),
    ] {
        let (status, error) = app
            .send_json(Method::POST, user, "/api/v1/themes", &body)
            .await;
        assert_eq!(status, 422, "{body}: {error}");
        assert_eq!(error["error"]["details"]["field"], field);
    }

    let stranger = Uuid::new_v4();
    assert_eq!(
        app.get_json(stranger, &format!("/api/v1/themes/{id}"))
            .await
            .0,
        404
    );
    let (status, _) = app
        .send_json(
            Method::PATCH,
            stranger,
            &format!("/api/v1/themes/{id}"),
            &json!({ "name": "mine" }),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(app.get_json(stranger, "/api/v1/themes").await.1, json!([]));
    let path = format!("/api/v1/themes/{id}");
    assert_eq!(app.delete(stranger, &path).await, 404);
    assert_eq!(app.delete(user, &path).await, 204);
    assert_eq!(
        app.get_json(user, &format!("/api/v1/themes/{id}")).await.0,
        404
    );
}

#[tokio::test]
async fn a_manual_synthesis_reads_the_sources_skips_the_broken_one_and_streams_its_steps() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let site = tea_site().await;
    let theme = app.create_theme(user, &tea_theme(&site)).await;
    let accepted = app.request_synthesis(user, &theme).await;
    let job: Uuid = accepted["job_id"].as_str().unwrap().parse().unwrap();
    let frames = app.all_events(user, job, Open::default()).await;
    let events = plain(&frames);
    // The worker's steps (the API's `queued` comes first).
    let steps: Vec<&Value> = events
        .iter()
        .filter(|(_, kind, data)| kind == "progress" && data["stage"] != "queued")
        .map(|(_, _, d)| d)
        .collect();
    assert!(steps.iter().any(|s| s["step"] == "fetching"), "{steps:#?}");
    assert!(
        steps
            .iter()
            .all(|s| s["percent"].as_u64().is_some_and(|p| p <= 100) && s["message"].is_string())
    );
    let (_, _, done) = events.last().unwrap();
    assert_eq!(done["status"], "succeeded", "{done}");

    let id = accepted["synthesis_id"].as_str().unwrap();
    let (status, synthesis) = app.get_json(user, &format!("/api/v1/syntheses/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(synthesis["status"], "succeeded");
    assert_eq!(synthesis["origin"], "manual");
    assert!(synthesis["week"].as_str().unwrap().contains("-W"));
    let text = synthesis["sections"].to_string();
    for expected in [
        "Green tea prices rise",
        "Oolong explained",
        "Matcha guide",
        "chai is spiced tea",
        "https://tea.example/green",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    let report = synthesis["sources_report"].as_array().unwrap();
    let statuses: Vec<&str> = report
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ok", "ok", "ok", "failed"]);
    assert!(
        report[3]["error"].as_str().unwrap().contains("404"),
        "{report:?}"
    );
    let (_, list) = app
        .get_json(user, &format!("/api/v1/themes/{theme}/syntheses"))
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(
        app.get_json(Uuid::new_v4(), &format!("/api/v1/syntheses/{id}"))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let settings = almanac_shared::fetch::FetchSettings {
        allow_private_networks: false,
        timeout: Duration::from_secs(2),
        max_bytes: 300,
    };
    let site = tea_site().await;
    let fetcher = almanac_shared::fetch::Fetcher::new(settings.clone()).unwrap();
    for url in [
        site.url("/feed.xml"),
        format!("http://localhost:{}/feed.xml", site.port),
        "http://169.254.169.254/latest/meta-data".into(),
    ] {
        let error = fetcher.get(&url.parse().unwrap()).await.unwrap_err();
        assert!(
            matches!(error, almanac_shared::fetch::FetchError::Private(_)),
            "{url}: {error}"
        );
    }
    let open = almanac_shared::fetch::Fetcher::new(almanac_shared::fetch::FetchSettings {
        allow_private_networks: true,
        ..settings
    })
    .unwrap();
    // Allowed, but the size limit holds: the feed is larger than 300 bytes.
    let error = open
        .get(&site.url("/feed.xml").parse().unwrap())
        .await
        .unwrap_err();
    assert_eq!(error, almanac_shared::fetch::FetchError::TooLarge(300));
    assert!(
        open.get(&site.url("/matcha.html").parse().unwrap())
            .await
            .is_ok()
    );
}

// Seed 004's schedule endpoints, case by case.
mod schedule_crud {
    use super::*;

    async fn setup() -> (TestApp, Uuid, String) {
        let app = spawn_app().await;
        let user = Uuid::new_v4();
        let theme = app.create_theme(user, &json!({ "name": "Tea" })).await;
        (app, user, theme)
    }

    fn valid() -> Value {
        json!({ "enabled": true, "days": ["mon", "fri"], "time_utc": "09:00", "emails": ["test@example.com"] })
    }

    #[tokio::test]
    async fn get_schedule_returns_null_when_none() {
        let (app, user, theme) = setup().await;
        let (status, body) = app
            .get_json(user, &format!("/api/v1/themes/{theme}/schedule"))
            .await;
        assert_eq!((status, body), (200, Value::Null));
    }

    #[tokio::test]
    async fn upsert_schedule_creates_schedule() {
        let (app, user, theme) = setup().await;
        let path = format!("/api/v1/themes/{theme}/schedule");
        let (status, body) = app.send_json(Method::PUT, user, &path, &valid()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["days"], json!(["mon", "fri"]));
        assert_eq!(body["time_utc"], "09:00");
        assert_eq!(body["emails"], json!(["test@example.com"]));
        assert_eq!(body["enabled"], true);
        assert_eq!(body["theme_id"], theme.as_str());
        assert!(body["last_run_at"].is_null() && body["id"].is_string());
        assert!(body["next_run_at"].is_string(), "{body}");
        // Read back the same, but for when it runs next: on a Monday or Friday after 09:00
        // UTC it is due now, and "now" is each read's own.
        let without_next = |mut schedule: Value| {
            schedule["next_run_at"] = Value::Null;
            schedule
        };
        assert_eq!(
            without_next(app.get_json(user, &path).await.1),
            without_next(body)
        );
    }

    #[tokio::test]
    async fn upsert_schedule_updates_existing() {
        let (app, user, theme) = setup().await;
        let path = format!("/api/v1/themes/{theme}/schedule");
        let (_, first) = app.send_json(Method::PUT, user, &path, &valid()).await;
        let change =
            json!({ "enabled": false, "days": ["sun"], "time_utc": "18:30", "emails": [] });
        let (status, second) = app.send_json(Method::PUT, user, &path, &change).await;
        assert_eq!(status, 200);
        assert_eq!(second["id"], first["id"], "one schedule per theme");
        assert_eq!(
            (
                second["enabled"].clone(),
                second["days"].clone(),
                second["time_utc"].clone()
            ),
            (json!(false), json!(["sun"]), json!("18:30"))
        );
    }

    async fn refused(body: Value) {
        let (app, user, theme) = setup().await;
        let path = format!("/api/v1/themes/{theme}/schedule");
        let (status, error) = app.send_json(Method::PUT, user, &path, &body).await;
        assert_eq!(status, 422, "{body}: {error}");
        assert_eq!(error["error"]["code"], "VALIDATION_FAILED");
        assert_eq!(
            app.get_json(user, &path).await.1,
            Value::Null,
            "nothing saved"
        );
    }

    #[tokio::test]
    async fn upsert_schedule_invalid_emails_returns_422() {
        refused(json!({ "enabled": true, "days": ["mon"], "time_utc": "09:00", "emails": ["not-an-email"] })).await;
    }

    #[tokio::test]
    async fn upsert_schedule_invalid_days_returns_422() {
        refused(json!({ "enabled": true, "days": ["monday"], "time_utc": "09:00", "emails": [] }))
            .await;
    }

    #[tokio::test]
    async fn upsert_schedule_invalid_time_returns_422() {
        refused(json!({ "enabled": true, "days": ["mon"], "time_utc": "24:00", "emails": [] }))
            .await;
    }

    #[tokio::test]
    async fn upsert_schedule_too_many_emails_returns_422() {
        refused(json!({ "enabled": true, "days": ["mon"], "time_utc": "09:00",
                        "emails": ["a@example.com", "b@example.com", "c@example.com", "d@example.com"] })).await;
    }

    #[tokio::test]
    async fn delete_schedule_returns_204() {
        let (app, user, theme) = setup().await;
        let path = format!("/api/v1/themes/{theme}/schedule");
        app.send_json(Method::PUT, user, &path, &valid()).await;
        assert_eq!(app.delete(user, &path).await, 204);
        assert_eq!(app.get_json(user, &path).await.1, Value::Null);
    }

    #[tokio::test]
    async fn schedule_requires_auth() {
        let (app, _, theme) = setup().await;
        let path = app.url(&format!("/api/v1/themes/{theme}/schedule"));
        assert_eq!(app.client.get(&path).send().await.unwrap().status(), 401);
        assert_eq!(
            app.client
                .put(&path)
                .json(&valid())
                .send()
                .await
                .unwrap()
                .status(),
            401
        );
        assert_eq!(app.client.delete(&path).send().await.unwrap().status(), 401);
    }

    #[tokio::test]
    async fn schedule_requires_theme_ownership() {
        let (app, user, theme) = setup().await;
        let path = format!("/api/v1/themes/{theme}/schedule");
        app.send_json(Method::PUT, user, &path, &valid()).await;
        let stranger = Uuid::new_v4();
        assert_eq!(app.get_json(stranger, &path).await.0, 404);
        assert_eq!(
            app.send_json(Method::PUT, stranger, &path, &valid())
                .await
                .0,
            404
        );
        assert_eq!(app.delete(stranger, &path).await, 404);
        assert_eq!(
            app.get_json(user, &path).await.1["days"],
            json!(["mon", "fri"]),
            "untouched"
        );
    }
}
