//! Content calendars (seed 000): generation streamed entry by entry, persistence and
//! reload, validation, the timeout and the one-active-run limit. Manual edits through a
//! regeneration are `calendar_edits.rs`; the legacy path `calendar_legacy.rs`; export
//! `calendar_export.rs`.

pub(crate) mod continuation;
mod edits;
mod export;
mod feed;
mod legacy;

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
    /// `POST /v1/ai/calendar` answered as a stream, read to its end (`base`: another API's
    /// address).
    pub(crate) async fn calendar_stream_at(
        &self,
        base: &str,
        user: Uuid,
        body: &Value,
    ) -> Vec<Frame> {
        self.open_calendar_stream(base, user, body)
            .await
            .rest()
            .await
    }

    /// `POST /v1/ai/calendar` answered as a stream, to read frame by frame.
    pub(crate) async fn open_calendar_stream(
        &self,
        base: &str,
        user: Uuid,
        body: &Value,
    ) -> EventReader {
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
        EventReader::from_response(response, false)
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

pub(crate) fn keys<'a>(items: impl IntoIterator<Item = &'a Value>) -> Vec<String> {
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
            request(json!(["a b"]), "daily", "2027-01-01", "2027-01-02"),
            400,
            "channels[0]",
        ),
        (
            request(json!(["ok", "-a"]), "daily", "2027-01-01", "2027-01-02"),
            400,
            "channels[1]",
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
            .header("prefer", "respond-async")
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

/// Seed 000's endpoint streams: a client that sends only `Authorization` and
/// `Content-Type` (or `Accept: */*`) reads the run's stream to its final frame; one that
/// prefers `respond-async` gets 202 and is told the preference was applied.
#[tokio::test]
async fn a_client_that_names_no_answer_gets_the_stream_and_prefer_gives_202() {
    let app = spawn_app().await;
    // The last run is only accepted: what becomes of it is not this test's concern.
    app.expect_unfinished_jobs();
    let user = Uuid::new_v4();
    // Raw HTTP, so that no `Accept` at all is sent.
    let host = app.address.trim_start_matches("http://").to_owned();
    let body = request(2, "tea").to_string();
    let head = format!(
        "POST /v1/ai/calendar HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        app.token(user),
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, head.as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer)
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(answer.starts_with("http/1.1 200"), "{answer}");
    assert!(
        answer.contains("content-type: text/event-stream"),
        "{answer}"
    );
    assert!(answer.contains("vary: accept, prefer"), "{answer}");
    assert_eq!(answer.matches("event: entry").count(), 6, "{answer}");
    assert!(answer.contains("\"done\":true"), "{answer}");

    // `Accept: */*` (what curl and most clients send): the stream too.
    let frames = {
        let response = app
            .client
            .post(app.url("/v1/ai/calendar"))
            .bearer_auth(app.token(Uuid::new_v4()))
            .header("accept", "*/*")
            .json(&request(2, "tea"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        EventReader::from_response(response, false).rest().await
    };
    assert_eq!(entries(&frames).len(), 6);

    let response = app
        .client
        .post(app.url("/v1/ai/calendar"))
        .bearer_auth(app.token(Uuid::new_v4()))
        .header("accept", "text/event-stream")
        .header("prefer", "respond-async")
        .json(&request(2, "tea"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(response.headers()["preference-applied"], "respond-async");
    assert_eq!(response.headers()["vary"], "Accept, Prefer");
    let accepted: Value = response.json().await.unwrap();
    assert!(
        accepted["data"]["links"]["stream"].is_string(),
        "{accepted}"
    );
}

/// Seed 000 types `channels` as `string[]` and `start`/`end` as `string`: names in any
/// case are one channel each, kept lowercase, and date-time bounds count as their dates in
/// the calendar's time zone; a `calendarId` that names none of the caller's calendars is
/// 404 whatever its shape.
#[tokio::test]
async fn channel_names_in_any_case_and_date_time_bounds_are_taken_as_the_seed_types_them() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let body = json!({
        "channels": ["Instagram", " TikTok", "instagram"],
        "cadence": "daily",
        "start": "2027-01-03T23:30:00Z",
        "end": "2027-01-05T08:00:00+01:00",
        "constraints": { "timezone": "Europe/Paris" },
    });
    let frames = app.calendar_stream(user, &body).await;
    let streamed = entries(&frames);
    let channels: HashSet<&str> = streamed
        .iter()
        .map(|e| e["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, HashSet::from(["instagram", "tiktok"]));
    let days: HashSet<&str> = streamed
        .iter()
        .map(|e| e["date"].as_str().unwrap())
        .collect();
    assert_eq!(days, HashSet::from(["2027-01-04", "2027-01-05"]));
    assert_eq!(streamed.len(), 4, "2 days x 2 channels");
    for calendar_id in ["not-a-uuid", "01a1fd46-946e-77ad-ab0c-a6e19450bdd4"] {
        let mut regenerate = body.clone();
        regenerate["calendarId"] = json!(calendar_id);
        let (status, refused) = app
            .send_json(Method::POST, user, "/v1/ai/calendar", &regenerate)
            .await;
        assert_eq!(status, 404, "{calendar_id}: {refused}");
    }
}

/// A calendar followed the web app's way (202, then `/v1/jobs/{id}/events`) counts as a
/// calendar stream, which is what the calendar stream alert watches.
#[tokio::test]
async fn a_calendar_followed_through_the_jobs_route_counts_as_a_calendar_stream() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let series = "stream_outcomes_total{route=\"/v1/jobs/{id}/events\",kind=\"calendar\",outcome=\"succeeded\"}";
    let before = app.metric(series).await;
    let (status, accepted) = app
        .send_json(Method::POST, user, "/v1/ai/calendar", &request(2, "tea"))
        .await;
    assert_eq!(status, 202, "{accepted}");
    let job: Uuid = accepted["data"]["jobId"].as_str().unwrap().parse().unwrap();
    let frames = app
        .all_events(user, job, crate::helpers::stream::Open::default())
        .await;
    assert_eq!(frames.last().unwrap().data["status"], "succeeded");
    let after = eventually(
        Duration::from_secs(5),
        "the stream's outcome counted",
        || async {
            let after = app.metric(series).await;
            (after > before).then_some(after)
        },
    )
    .await;
    assert!(after >= before + 1.0);
}

/// Seed 000's 30 s is wall-clock from the request. With no worker at all, the run's own
/// stream ends at the deadline with the final frame (`timeout`, nothing written, the
/// seed's friendly message), and the poll view says so too.
#[tokio::test]
async fn a_run_no_worker_takes_ends_at_its_deadline_with_its_final_frame() {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let app = spawn_app_with(TestOptions {
        worker: false,
        fake_ai: Some(fake.clone()),
        env: vec![("CALENDAR_TIMEOUT_SECS", "1".into())],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    let frames = app.calendar_stream(user, &request(2, "tea")).await;
    let done = frames.last().unwrap();
    assert_eq!(done.kind, "done");
    assert_eq!(done.data["status"], "timeout", "{:?}", done.data);
    assert_eq!(done.data["data"]["entries"], 0);
    assert_eq!(done.data["meta"]["done"], true);
    assert_eq!(done.data["error"]["code"], "CALENDAR_TIMEOUT");
    let message = done.data["error"]["message"].as_str().unwrap();
    assert!(message.contains("0 of 6 entries"), "{message}");
    let job = done.data["meta"]["runId"].as_str().unwrap().to_owned();
    let (_, run) = app
        .get_json(
            user,
            &format!(
                "/v1/calendars/{}/runs/{job}",
                done.data["meta"]["calendarId"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(run["data"]["run"]["status"], "timeout", "{run}");
    assert_eq!(fake.calls(), 0);
}

/// The deadline holds across attempts: a run whose worker died is taken up again past its
/// deadline, and ends `timeout` at once, asking the AI nothing more.
#[tokio::test]
async fn the_deadline_counts_across_a_retried_attempt() {
    let fake = FakeAi::start(vec![], Behaviour::Hang).await;
    let mut app = spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        env: vec![("CALENDAR_TIMEOUT_SECS", "2".into())],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    let (status, accepted) = app
        .send_json(Method::POST, user, "/v1/ai/calendar", &request(2, "tea"))
        .await;
    assert_eq!(status, 202, "{accepted}");
    let job: Uuid = accepted["data"]["jobId"].as_str().unwrap().parse().unwrap();
    fake.wait_for_calls(1).await;
    let asked = fake.calls();
    // The worker dies mid-call; its job is taken up again once the deadline has passed.
    app.kill_worker(0);
    eventually(Duration::from_secs(10), "the deadline to pass", || async {
        let past: bool =
            sqlx::query_scalar("select deadline_at < now() from calendar_runs where job_id = $1")
                .bind(job)
                .fetch_one(&app.db)
                .await
                .unwrap();
        past.then_some(())
    })
    .await;
    app.start_worker().await;
    let (status, attempts): (String, i32) = eventually(
        Duration::from_secs(20),
        "the retried attempt to end",
        || async {
            let row: (String, i32) =
                sqlx::query_as("select status, attempts from jobs where id = $1")
                    .bind(job)
                    .fetch_one(&app.db)
                    .await
                    .unwrap();
            (row.0 != "pending" && row.0 != "running").then_some(row)
        },
    )
    .await;
    assert_eq!((status.as_str(), attempts), ("timeout", 2));
    assert_eq!(
        fake.calls(),
        asked,
        "the second attempt asked the AI nothing"
    );
}
