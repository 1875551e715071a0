//! Content calendars (seed 000): generation streamed entry by entry, persistence and
//! reload, manual edits that survive regeneration, the timeout, the one-active-run limit,
//! the legacy path behind `CALENDAR_SERVICE_ENABLED`, and export.

use std::{collections::HashSet, time::Duration};

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    Behaviour, FakeAi, TestApp, TestOptions, eventually, spawn_app, spawn_app_with,
    stream::{EventReader, Frame},
};

pub(crate) fn request(days: i64, topic: &str) -> Value {
    let start = chrono::NaiveDate::from_ymd_opt(2027, 3, 1).unwrap();
    let end = start + chrono::Duration::days(days - 1);
    json!({
        "channels": ["tiktok", "instagram", "linkedin"],
        "cadence": "daily",
        "start": start.to_string(),
        "end": end.to_string(),
        "constraints": { "topic": topic, "timesOfDay": ["18:00"], "timezone": "Europe/Paris" },
    })
}

impl TestApp {
    /// `POST /v1/ai/calendar` answered as a stream (`base`: another API's address).
    pub(crate) async fn calendar_stream_at(
        &self,
        base: &str,
        user: Uuid,
        body: &Value,
    ) -> Vec<Frame> {
        let response = self
            .client
            .post(format!("{base}/v1/ai/calendar"))
            .bearer_auth(self.token(user))
            .header("accept", "text/event-stream")
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        EventReader::from_response(response, false).rest().await
    }

    pub(crate) async fn calendar_stream(&self, user: Uuid, body: &Value) -> Vec<Frame> {
        self.calendar_stream_at(&self.address, user, body).await
    }

    pub(crate) async fn calendar(&self, user: Uuid, id: &str) -> Value {
        let (status, body) = self.get_json(user, &format!("/v1/calendars/{id}")).await;
        assert_eq!(status, 200, "{body}");
        body["data"].clone()
    }
}

pub(crate) fn entries(frames: &[Frame]) -> Vec<&Value> {
    frames
        .iter()
        .filter(|f| f.kind == "entry")
        .map(|f| &f.data["data"])
        .collect()
}

/// The final frame: `done`, with the envelope's `meta.done` and the summary.
pub(crate) fn summary(frames: &[Frame]) -> &Value {
    let done = frames.last().expect("frames");
    assert_eq!(done.kind, "done", "{frames:#?}");
    assert_eq!(done.data["meta"]["done"], true);
    assert_eq!(frames.iter().filter(|f| f.kind == "done").count(), 1);
    &done.data
}

fn keys<'a>(items: impl IntoIterator<Item = &'a Value>) -> Vec<String> {
    items
        .into_iter()
        .map(|e| e["key"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_daily_calendar_streams_every_entry_then_the_final_frame_and_reloads_the_same() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let frames = app.calendar_stream(user, &request(30, "green tea")).await;

    let streamed = entries(&frames);
    assert_eq!(streamed.len(), 90);
    let streamed_keys = keys(streamed.iter().copied());
    assert_eq!(
        streamed_keys.iter().collect::<HashSet<_>>().len(),
        90,
        "no key twice"
    );
    let first = &frames.iter().find(|f| f.kind == "entry").unwrap().data;
    assert_eq!(first["meta"]["mode"], "service");
    assert!(first["error"].is_null());
    for field in [
        "title",
        "caption",
        "format",
        "hashtags",
        "callToAction",
        "scheduledAt",
    ] {
        assert!(
            !first["data"][field].is_null(),
            "entries carry {field}: {first}"
        );
    }
    let done = summary(&frames);
    assert_eq!(done["status"], "succeeded");
    let data = &done["data"];
    assert_eq!(data["status"], "succeeded");
    assert_eq!(data["entries"], 90);
    assert_eq!(data["version"], 1);
    assert_eq!(data["mode"], "service");
    assert!(data["latencyMs"].as_u64().is_some() && data["tokens"].as_u64().unwrap() > 0);
    assert!(done["error"].is_null());
    // 18:00 in Paris in March is 17:00 UTC.
    assert!(
        streamed[0]["scheduledAt"]
            .as_str()
            .unwrap()
            .contains("T17:00:00")
    );

    // Reloaded, the calendar holds exactly what was streamed.
    let calendar = app
        .calendar(user, data["calendarId"].as_str().unwrap())
        .await;
    let saved = calendar["entries"].as_array().unwrap();
    assert_eq!(saved.len(), 90);
    let mut saved_keys = keys(saved);
    let mut expected = streamed_keys.clone();
    saved_keys.sort();
    expected.sort();
    assert_eq!(saved_keys, expected);
    let by_key = |key: &str| saved.iter().find(|e| e["key"] == key).unwrap().clone();
    assert_eq!(by_key(&streamed_keys[0])["title"], streamed[0]["title"]);
    assert_eq!(calendar["calendar"]["currentVersion"], 1);
    assert_eq!(calendar["runs"][0]["status"], "succeeded");
    assert_eq!(calendar["runs"][0]["entries"], 90);

    // Listed, and another user sees none of it.
    let (_, list) = app.get_json(user, "/v1/calendars").await;
    assert_eq!(list["data"]["items"].as_array().unwrap().len(), 1);
    let stranger = Uuid::new_v4();
    let id = data["calendarId"].as_str().unwrap();
    assert_eq!(
        app.get_json(stranger, &format!("/v1/calendars/{id}"))
            .await
            .0,
        404
    );
    let entry = saved[0]["id"].as_str().unwrap();
    let (status, _) = app
        .send_json(
            Method::PATCH,
            stranger,
            &format!("/v1/calendars/{id}/entries/{entry}"),
            &json!({ "title": "x" }),
        )
        .await;
    assert_eq!(status, 404);
    let mut foreign = request(3, "x");
    foreign["calendarId"] = json!(id);
    let (status, _) = app
        .send_json(Method::POST, stranger, "/v1/ai/calendar", &foreign)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn requests_are_validated_in_the_envelope() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let request = |channels: Value, cadence: &str, start: &str, end: &str| json!({ "channels": channels, "cadence": cadence, "start": start, "end": end });
    let mut too_large = request(json!(["a"]), "daily", "2027-01-01", "2027-01-02");
    too_large["constraints"] = json!({ "notes": "x".repeat(17 * 1024) });
    // What the schema states is 400; what only the calendar's rules can judge is 422.
    let cases = [
        (
            request(json!([]), "daily", "2027-01-01", "2027-01-02"),
            400,
            "channels",
        ),
        (
            request(json!(["a", "a"]), "daily", "2027-01-01", "2027-01-02"),
            400,
            "channels",
        ),
        (
            request(json!([" a"]), "daily", "2027-01-01", "2027-01-02"),
            400,
            "channels[0]",
        ),
        (
            request(json!(["a"]), "hourly", "2027-01-01", "2027-01-02"),
            400,
            "cadence",
        ),
        (
            request(json!(["a"]), "daily", "2027-1-1", "2027-01-02"),
            400,
            "start",
        ),
        (
            request(json!(["a"]), "daily", "2027-02-30", "2027-03-02"),
            422,
            "start",
        ),
        (
            request(json!(["a"]), "daily", "2027-01-05", "2027-01-02"),
            422,
            "end",
        ),
        (
            request(json!(["a"]), "daily", "2027-01-01", "2028-01-02"),
            422,
            "end",
        ),
        (too_large, 422, "constraints"),
    ];
    for (body, expected, field) in cases {
        let (status, answer) = app
            .send_json(Method::POST, user, "/v1/ai/calendar", &body)
            .await;
        assert_eq!(status, expected, "{body}: {answer}");
        assert_eq!(answer["error"]["details"]["field"], field, "{answer}");
        assert!(answer["data"].is_null() && answer["meta"]["requestId"].is_string());
    }
}

/// Waits for a 202-accepted run's job to end; returns the job.
async fn finished_job(app: &TestApp, user: Uuid, job: &str) -> Value {
    eventually(
        Duration::from_secs(20),
        "the calendar job to end",
        || async {
            let (_, body) = app.get_json(user, &format!("/v1/jobs/{job}")).await;
            matches!(
                body["data"]["status"].as_str(),
                Some("succeeded" | "failed" | "timeout" | "cancelled")
            )
            .then(|| body["data"].clone())
        },
    )
    .await
}

#[tokio::test]
async fn edits_survive_a_regeneration_whose_diff_is_accepted() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let (status, accepted) = app
        .send_json(
            Method::POST,
            user,
            "/v1/ai/calendar",
            &request(30, "green tea"),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    let run = &accepted["data"];
    assert_eq!(run["status"], "pending");
    assert_eq!(run["version"], 1);
    let job = finished_job(&app, user, run["jobId"].as_str().unwrap()).await;
    assert_eq!(job["status"], "succeeded");
    let id = run["calendarId"].as_str().unwrap().to_owned();
    let saved = app.calendar(user, &id).await["entries"]
        .as_array()
        .unwrap()
        .clone();

    // Two edits and a deletion.
    let edited: Vec<&Value> = vec![&saved[3], &saved[40]];
    for (i, entry) in edited.iter().enumerate() {
        let path = format!(
            "/v1/calendars/{id}/entries/{}",
            entry["id"].as_str().unwrap()
        );
        let (status, body) = app
            .send_json(
                Method::PATCH,
                user,
                &path,
                &json!({ "title": format!("My own title {i}"), "hashtags": ["mine"] }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["edited"], true);
        assert_eq!(body["data"]["hashtags"], json!(["#mine"]));
    }
    let deleted = saved[10]["key"].as_str().unwrap().to_owned();
    let path = format!(
        "/v1/calendars/{id}/entries/{}",
        saved[10]["id"].as_str().unwrap()
    );
    assert_eq!(app.delete(user, &path).await, 204);
    let (status, body) = app
        .send_json(
            Method::PATCH,
            user,
            &format!(
                "/v1/calendars/{id}/entries/{}",
                saved[3]["id"].as_str().unwrap()
            ),
            &json!({ "caption": "x".repeat(2201) }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["details"]["field"].clone()),
        (400, json!("caption"))
    );

    // Regenerate: new topic, two more days.
    let mut again = request(32, "black coffee");
    again["calendarId"] = json!(id);
    let frames = app.calendar_stream(user, &again).await;
    assert_eq!(entries(&frames).len(), 96);
    let diff = &frames
        .iter()
        .find(|f| f.kind == "diff")
        .expect("a diff event")
        .data["data"];
    let done = summary(&frames);
    assert_eq!(done["data"]["version"], 2);
    let conflicts: Vec<&Value> = ["added", "updated", "removed"]
        .iter()
        .flat_map(|kind| diff[kind].as_array().unwrap())
        .filter(|c| c["conflict"] == true)
        .collect();
    let mut conflict_keys = keys(conflicts.iter().copied());
    conflict_keys.sort();
    let mut edited_keys = keys(edited.iter().copied());
    edited_keys.sort();
    assert_eq!(
        conflict_keys, edited_keys,
        "exactly the edited entries conflict"
    );
    assert_eq!(
        diff["counts"],
        json!({ "added": 6, "updated": 89, "removed": 0, "conflicts": 2 })
    );
    let all_changes: Vec<&Value> = ["added", "updated", "removed"]
        .iter()
        .flat_map(|k| diff[k].as_array().unwrap())
        .collect();
    assert!(
        all_changes.iter().all(|c| c["key"] != deleted.as_str()),
        "the deleted entry is not resurrected"
    );
    assert!(
        all_changes.iter().all(|c| c["id"].is_string()),
        "every change has an id"
    );
    // Nothing changes before the user accepts.
    let before_accept = app.calendar(user, &id).await;
    assert_eq!(before_accept["entries"].as_array().unwrap().len(), 89);

    let run_id = done["data"]["runId"].as_str().unwrap();
    let accept = format!("/v1/calendars/{id}/runs/{run_id}/accept");
    let (status, body) = app
        .send_json(Method::POST, user, &accept, &json!({ "all": true }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["applied"].as_array().unwrap().len(), 87 + 6);
    let (_, twice) = app
        .send_json(Method::POST, user, &accept, &json!({ "all": true }))
        .await;
    assert_eq!(
        twice["data"]["applied"],
        json!([]),
        "accepting twice changes nothing"
    );

    let calendar = app.calendar(user, &id).await;
    let now = calendar["entries"].as_array().unwrap();
    assert_eq!(now.len(), 89 + 6);
    let now_keys = keys(now);
    assert_eq!(
        now_keys.iter().collect::<HashSet<_>>().len(),
        now.len(),
        "no key twice"
    );
    assert!(!now_keys.contains(&deleted));
    for (i, entry) in edited.iter().enumerate() {
        let kept = now.iter().find(|e| e["key"] == entry["key"]).unwrap();
        assert_eq!(
            kept["title"],
            format!("My own title {i}"),
            "the edit is kept"
        );
        assert_eq!(kept["edited"], true);
    }
    assert!(
        now.iter()
            .filter(|e| e["edited"] == false)
            .all(|e| e["title"].as_str().unwrap().contains("black coffee"))
    );

    // A conflict applies only when accepted by id; then the AI's version replaces the edit.
    let conflict_id = conflicts[0]["id"].as_str().unwrap();
    let (_, body) = app
        .send_json(
            Method::POST,
            user,
            &accept,
            &json!({ "changeIds": [conflict_id] }),
        )
        .await;
    assert_eq!(body["data"]["applied"], json!([conflict_id]));
    let calendar = app.calendar(user, &id).await;
    let replaced = calendar["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == conflicts[0]["key"])
        .unwrap()
        .clone();
    assert_eq!(replaced["edited"], false);
    assert!(replaced["title"].as_str().unwrap().contains("black coffee"));
    // Neither `changeIds` nor `all`: each field is valid, together they say nothing.
    let (status, _) = app.send_json(Method::POST, user, &accept, &json!({})).await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn a_slow_provider_hits_the_timeout_and_keeps_the_partial_calendar() {
    let fake = FakeAi::start(
        vec![Behaviour::Ok],
        Behaviour::Delay(Duration::from_secs(60)),
    )
    .await;
    let app = spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        env: vec![
            ("CALENDAR_TIMEOUT_SECS", "1.5".into()),
            ("CALENDAR_AI_CONCURRENCY", "1".into()),
        ],
        ..Default::default()
    })
    .await;
    app.expect_unfinished_jobs();
    let user = Uuid::new_v4();
    let frames = app.calendar_stream(user, &request(30, "tea")).await;
    let streamed = entries(&frames);
    assert_eq!(
        streamed.len(),
        6,
        "the first batch arrived before the timeout"
    );
    let done = summary(&frames);
    assert_eq!(done["status"], "timeout");
    assert_eq!(done["data"]["status"], "timeout");
    assert_eq!(done["data"]["entries"], 6);
    assert_eq!(done["error"]["code"], "CALENDAR_TIMEOUT");
    let message = done["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("6 of 90") && message.contains("saved"),
        "{message}"
    );

    let calendar = app
        .calendar(user, done["data"]["calendarId"].as_str().unwrap())
        .await;
    assert_eq!(calendar["entries"].as_array().unwrap().len(), 6);
    assert_eq!(calendar["runs"][0]["status"], "timeout");
    // The slow call was abandoned, and the user may generate again at once.
    eventually(
        Duration::from_secs(5),
        "the slow AI call to be aborted",
        || async { (fake.aborted() >= 1).then_some(()) },
    )
    .await;
    let (status, body) = app
        .send_json(Method::POST, user, "/v1/ai/calendar", &request(2, "tea"))
        .await;
    assert_eq!(status, 202, "{body}");
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("calendar_runs_total{status=\"timeout\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn twenty_simultaneous_requests_start_exactly_one_run() {
    let mut app = spawn_app_with(TestOptions {
        worker: false,
        ..Default::default()
    })
    .await;
    app.expect_unfinished_jobs();
    let replica = app.start_api_replica().await;
    let user = Uuid::new_v4();
    let token = app.token(user);
    let body = request(7, "tea");
    let answers = futures::future::join_all((0..20).map(|i| {
        let base = if i % 2 == 0 {
            app.address.clone()
        } else {
            replica.clone()
        };
        let request = app
            .client
            .post(format!("{base}/v1/ai/calendar"))
            .bearer_auth(&token)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    }))
    .await;
    let started: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 202)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(started.len(), 1, "{answers:#?}");
    let run_id = &started[0]["data"]["runId"];
    for (status, body) in answers.iter().filter(|(s, _)| *s != 202) {
        assert_eq!(*status, 409, "{body}");
        assert_eq!(body["error"]["code"], "GENERATION_IN_PROGRESS");
        assert_eq!(&body["error"]["details"]["runId"], run_id);
    }
    let runs: i64 = sqlx::query_scalar("select count(*) from calendar_runs")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(runs, 1);
    // Another user is not limited by it.
    let (status, _) = app
        .send_json(Method::POST, Uuid::new_v4(), "/v1/ai/calendar", &body)
        .await;
    assert_eq!(status, 202);
    // Once the run ends (here: cancelled), the user may start another.
    let job = started[0]["data"]["jobId"].as_str().unwrap();
    let (status, _) = app
        .send_json(
            Method::POST,
            user,
            &format!("/v1/jobs/{job}/cancel"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .send_json(Method::POST, user, "/v1/ai/calendar", &body)
        .await;
    assert_eq!(status, 202, "{body}");
}
