//! Streamed AI answers, against the local fake OpenAI-compatible server writing
//! at a set token rate: items saved and streamed as their objects close, cut streams
//! resumed with only the missing slots, a timeout mid-call, structured output with `auto`,
//! fallback models and the daily token budget.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    calendars::{entries, keys, request, summary},
    helpers::{
        Behaviour, FakeAi, TestApp, spawn_app_with_ai_env,
        stream::{Frame, Open},
    },
    syntheses::themes::{tea_site, tea_theme},
};

/// The slot keys a calendar request asked the AI for.
fn asked_keys(request: &Value) -> Vec<String> {
    let user = request["messages"][1]["content"].as_str().unwrap();
    let slots = user
        .split_once("<slots>")
        .and_then(|(_, rest)| rest.split_once("</slots>"))
        .map(|(json, _)| serde_json::from_str::<Vec<Value>>(json).unwrap())
        .unwrap();
    slots
        .iter()
        .map(|s| s["key"].as_str().unwrap().to_owned())
        .collect()
}

/// A calendar's saved entries, as comparable text (key, title, caption, hashtags).
async fn saved(app: &TestApp, user: Uuid, calendar_id: &str) -> Vec<String> {
    let calendar = app.calendar(user, calendar_id).await;
    let mut saved: Vec<String> = calendar["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} | {} | {} | {} | {}",
                e["key"], e["title"], e["caption"], e["format"], e["hashtags"]
            )
        })
        .collect();
    saved.sort();
    saved
}

#[tokio::test]
async fn a_streamed_calendar_shows_entries_before_the_first_answer_ends_and_saves_what_a_whole_answer_does()
 {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    fake.set_token_rate(200);
    // A 40-slot answer takes about 8 s at this rate: the production timeout, not the tests'.
    let app = spawn_app_with_ai_env(&fake, &[("AI_TIMEOUT_MS", "30000")]).await;
    let user = Uuid::new_v4();
    let body = request(30, "tea");
    let mut reader = app.open_calendar_stream(&app.address, user, &body).await;
    let mut frames: Vec<Frame> = Vec::new();
    let completed_at_first_entry = loop {
        let frame = reader.next_event().await.expect("the stream goes on");
        let entry = frame.kind == "entry";
        frames.push(frame);
        if entry {
            break fake.completed();
        }
    };
    // No answer had been written to its end when the first entry reached the client.
    assert_eq!(completed_at_first_entry, 0);
    frames.extend(reader.rest().await);
    let streamed = entries(&frames);
    let streamed_keys = keys(streamed.iter().copied());
    assert_eq!(streamed.len(), 90, "every entry streams");
    assert_eq!(
        streamed_keys.iter().collect::<HashSet<_>>().len(),
        90,
        "and once"
    );
    let done = summary(&frames);
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["data"]["entries"], 90);
    // The first call asked for 6 slots, then batches of 40: each streamed in pieces.
    assert_eq!(fake.calls(), 4);
    assert!(fake.requests().iter().all(|r| r["stream"] == true));
    let streamed_calendar = saved(&app, user, done["data"]["calendarId"].as_str().unwrap()).await;

    // The same request with whole answers saves the same calendar.
    let whole = FakeAi::start(vec![], Behaviour::Ok).await;
    let other = spawn_app_with_ai_env(&whole, &[("AI_STREAM", "false")]).await;
    let frames = other.calendar_stream(user, &body).await;
    let done = summary(&frames);
    assert_eq!(done["status"], "succeeded");
    assert!(whole.requests().iter().all(|r| r.get("stream").is_none()));
    let whole_calendar = saved(&other, user, done["data"]["calendarId"].as_str().unwrap()).await;
    assert_eq!(streamed_calendar.len(), 90);
    assert_eq!(streamed_calendar, whole_calendar);
}

#[tokio::test]
async fn a_stream_cut_after_ten_entries_keeps_them_and_asks_only_for_the_missing_slots() {
    // One call at a time: the first batch (6 slots) is whole, the second (40) is cut after
    // its 10th entry, the third asks for its 30 missing slots.
    let fake = FakeAi::start(vec![Behaviour::Ok, Behaviour::CutAfter(10)], Behaviour::Ok).await;
    let app = spawn_app_with_ai_env(&fake, &[("CALENDAR_AI_CONCURRENCY", "1")]).await;
    let user = Uuid::new_v4();
    let frames = app.calendar_stream(user, &request(30, "tea")).await;
    let done = summary(&frames);
    assert_eq!(done["status"], "succeeded", "{done}");
    let streamed = keys(entries(&frames));
    assert_eq!(streamed.len(), 90);
    assert_eq!(streamed.iter().collect::<HashSet<_>>().len(), 90);

    let requests = fake.requests();
    let asked: Vec<Vec<String>> = requests.iter().map(asked_keys).collect();
    assert_eq!(asked[0].len(), 6);
    assert_eq!(asked[1].len(), 40);
    // Exactly the 30 slots the cut stream did not write.
    assert_eq!(asked[2], asked[1][10..].to_vec());
    assert_eq!(asked.len(), 5, "6, 40, the 30 missing, 40, 4");
    let calendar = app
        .calendar(user, done["data"]["calendarId"].as_str().unwrap())
        .await;
    assert_eq!(calendar["entries"].as_array().unwrap().len(), 90);
}

#[tokio::test]
async fn a_timeout_in_the_middle_of_a_call_keeps_and_counts_the_entries_written_before_it() {
    let fake = FakeAi::start(vec![Behaviour::StallAfter(4)], Behaviour::Ok).await;
    let app = spawn_app_with_ai_env(
        &fake,
        &[
            ("CALENDAR_AI_CONCURRENCY", "1"),
            ("CALENDAR_TIMEOUT_SECS", "1"),
            ("AI_TIMEOUT_MS", "30000"),
        ],
    )
    .await;
    app.expect_unfinished_jobs();
    let user = Uuid::new_v4();
    let frames = app.calendar_stream(user, &request(30, "tea")).await;
    assert_eq!(
        entries(&frames).len(),
        4,
        "the entries written before the stall"
    );
    let done = summary(&frames);
    assert_eq!(done["status"], "timeout");
    assert_eq!(done["data"]["entries"], 4);
    let message = done["error"]["message"].as_str().unwrap();
    assert!(message.contains("4 of 90"), "{message}");
    let calendar = app
        .calendar(user, done["data"]["calendarId"].as_str().unwrap())
        .await;
    assert_eq!(calendar["entries"].as_array().unwrap().len(), 4);
    assert_eq!(fake.calls(), 1);
}

#[tokio::test]
async fn structured_output_is_asked_for_until_the_provider_refuses_it_then_text_for_that_model() {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let app = spawn_app_with_ai_env(&fake, &[]).await;
    let user = Uuid::new_v4();
    let (first, _) = app.submit_job(user, 1500).await;
    assert_eq!(app.wait_finished(user, first).await["status"], "succeeded");
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let format = &requests[0]["response_format"];
    assert_eq!(format["type"], "json_schema");
    assert_eq!(format["json_schema"]["strict"], true);
    assert_eq!(
        format["json_schema"]["schema"]["properties"]["suggestions"]["items"]["required"],
        json!(["front", "back"])
    );

    fake.refuse_response_format();
    let (second, _) = app.submit_job(user, 1500).await;
    let generation = app.wait_finished(user, second).await;
    assert_eq!(generation["status"], "succeeded");
    assert_eq!(generation["suggestions"]["proposed"], 3);
    let (third, _) = app.submit_job(user, 1500).await;
    assert_eq!(app.wait_finished(user, third).await["status"], "succeeded");
    // One refusal; the same call asked again in text, and so was every later one.
    assert_eq!(fake.format_refusals(), 1);
    let requests = fake.requests();
    assert_eq!(requests.len(), 4);
    assert!(requests[1].get("response_format").is_some());
    assert!(
        requests[2..]
            .iter()
            .all(|r| r.get("response_format").is_none())
    );
}

#[tokio::test]
async fn a_model_failing_twice_gives_way_to_the_fallback_which_is_recorded() {
    let fake = FakeAi::start(
        vec![Behaviour::Status(503), Behaviour::Status(503)],
        Behaviour::Ok,
    )
    .await;
    let app = spawn_app_with_ai_env(
        &fake,
        &[
            ("AI_MAX_RETRIES", "1"),
            ("AI_FALLBACK_MODELS", "fake-model-2, fake-model-3"),
        ],
    )
    .await;
    let user = Uuid::new_v4();
    let (id, _) = app.submit_job(user, 1500).await;
    let generation = app.wait_finished(user, id).await;
    assert_eq!(generation["status"], "succeeded", "{generation}");
    let models: Vec<Value> = fake.requests().iter().map(|r| r["model"].clone()).collect();
    assert_eq!(
        models,
        [
            json!("fake-model-1"),
            json!("fake-model-1"),
            json!("fake-model-2")
        ]
    );
    assert_eq!(generation["ai_metadata"]["model"], "fake-model-2");
    assert_eq!(generation["ai_metadata"]["provider_attempts"], 3);

    // A refusal that is the caller's (400) is not passed on to another model.
    let refused = FakeAi::start(vec![], Behaviour::Status(400)).await;
    let app = spawn_app_with_ai_env(&refused, &[("AI_FALLBACK_MODELS", "fake-model-2")]).await;
    app.expect_failed_jobs();
    let (id, _) = app.submit_job(user, 1500).await;
    let generation = app.wait_finished(user, id).await;
    assert_eq!(generation["status"], "failed");
    assert_eq!(refused.calls(), 1);
}

#[tokio::test]
async fn the_call_that_crosses_the_daily_budget_is_the_last_and_usage_adds_up() {
    // Each call of the fake uses 120 + 45 tokens: the second crosses 300.
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let app = spawn_app_with_ai_env(&fake, &[("AI_USER_DAILY_TOKENS", "300")]).await;
    app.expect_failed_jobs();
    let user = Uuid::new_v4();
    let (id, job) = app.submit_job(user, 7000).await;
    let generation = app.wait_finished(user, id).await;
    assert_eq!(generation["status"], "failed", "{generation}");
    assert_eq!(generation["error"]["code"], "BUDGET_EXCEEDED");
    assert_eq!(fake.calls(), 2, "no call after the one that crossed it");
    // The cards both calls wrote are kept.
    assert_eq!(app.suggestions(user, id).await.len(), 6);
    let (_, body) = app.get_json(user, &format!("/v1/jobs/{job}")).await;
    assert_eq!(body["data"]["status"], "failed");
    assert_eq!(body["data"]["error"]["code"], "BUDGET_EXCEEDED");
    assert_eq!(body["data"]["attempts"], 1, "not retried");

    // Every submission is refused now, with the reset time.
    let response = app
        .post_generation(
            user,
            &json!({ "source_text": crate::helpers::source_text(1500), "reuse": false }),
        )
        .await;
    let refusal = TestApp::assert_too_many(response, 86_400, "BUDGET_EXCEEDED").await;
    let reset = refusal["error"]["details"]["resetAt"].as_str().unwrap();
    let tomorrow = chrono::Utc::now().date_naive() + chrono::Days::new(1);
    assert_eq!(reset, format!("{tomorrow}T00:00:00Z"));
    let (status, body) = app
        .send_json(Method::POST, user, "/v1/ai/calendar", &request(2, "tea"))
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "BUDGET_EXCEEDED");
    assert_eq!(fake.calls(), 2);

    // The usage report adds up: two calls of 120 + 45 tokens, at the fake's cost.
    let (status, body) = app.get_json(user, "/v1/usage").await;
    assert_eq!(status, 200, "{body}");
    let usage = &body["data"];
    let days = usage["days"].as_array().unwrap();
    assert_eq!(days.len(), 1, "{usage}");
    assert_eq!(days[0]["kind"], "generation");
    assert_eq!(days[0]["calls"], 2);
    assert_eq!(days[0]["tokensInput"], 240);
    assert_eq!(days[0]["tokensOutput"], 90);
    assert_eq!(days[0]["tokens"], 330);
    assert!((days[0]["costUsd"].as_f64().unwrap() - 0.00246).abs() < 1e-9);
    assert_eq!(usage["totals"]["tokens"], 330);
    assert_eq!(usage["today"]["tokens"], 330);
    assert_eq!(usage["today"]["limit"], 300);
    assert_eq!(usage["today"]["remaining"], 0);
    // Another user's usage is their own.
    let (_, body) = app.get_json(Uuid::new_v4(), "/v1/usage").await;
    assert_eq!(body["data"]["days"], json!([]));
    assert_eq!(body["data"]["today"]["tokens"], 0);
}

/// A job's final `done` event (the job event stream's, not the calendar stream's).
fn finished(frames: &[Frame]) -> &Value {
    let done = frames.last().expect("frames");
    assert_eq!(done.kind, "done", "{frames:#?}");
    &done.data
}

#[tokio::test]
async fn a_cut_flashcard_answer_is_asked_again_whole_and_its_cards_are_saved_and_streamed_once() {
    // The first answer is cut after its second card; the whole batch is asked again.
    let fake = FakeAi::start(vec![Behaviour::CutAfter(2)], Behaviour::Ok).await;
    let app = spawn_app_with_ai_env(&fake, &[]).await;
    let user = Uuid::new_v4();
    let (id, job) = app.submit_job(user, 1500).await;
    let generation = app.wait_finished(user, id).await;
    assert_eq!(generation["status"], "succeeded", "{generation}");
    assert_eq!(fake.calls(), 2);
    let fronts: Vec<String> = app
        .suggestions(user, id)
        .await
        .iter()
        .map(|s| s["front"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        fronts,
        [
            "What does chlorophyll absorb?",
            "What does the Calvin cycle do?",
            "What are stomata for?"
        ],
        "the two cards of the cut answer are not saved again"
    );
    assert_eq!(generation["suggestions"]["proposed"], 3);
    let frames = app.all_events(user, job, Open::default()).await;
    let streamed: Vec<&str> = frames
        .iter()
        .filter(|f| f.kind == "suggestions")
        .flat_map(|f| f.data["suggestions"].as_array().unwrap())
        .map(|s| s["front"].as_str().unwrap())
        .collect();
    assert_eq!(streamed, fronts, "each card streams once, in order");
    assert_eq!(finished(&frames)["result"]["suggestions"], 3);
}

#[tokio::test]
async fn a_cut_synthesis_answer_is_asked_again_whole_and_its_sections_are_kept_once() {
    let fake = FakeAi::start(vec![Behaviour::CutAfter(2)], Behaviour::Ok).await;
    let app = spawn_app_with_ai_env(&fake, &[]).await;
    let user = Uuid::new_v4();
    let site = tea_site().await;
    let theme = app.create_theme(user, &tea_theme(&site)).await;
    let mut written = Vec::new();
    // The first run's answer is cut after two sections; the second run's is whole.
    for _ in 0..2 {
        let accepted = app.request_synthesis(user, &theme).await;
        let job: Uuid = accepted["job_id"].as_str().unwrap().parse().unwrap();
        let frames = app.all_events(user, job, Open::default()).await;
        assert_eq!(finished(&frames)["status"], "succeeded");
        let steps = frames
            .iter()
            .filter(|f| f.kind == "progress" && f.data["step"] == "writing")
            .filter(|f| f.data["message"].as_str().unwrap().starts_with("section "))
            .count();
        let id = accepted["synthesis_id"].as_str().unwrap();
        let (_, synthesis) = app.get_json(user, &format!("/api/v1/syntheses/{id}")).await;
        written.push((
            steps,
            synthesis["title"].clone(),
            synthesis["sections"].clone(),
        ));
    }
    assert_eq!(fake.calls(), 3, "the cut answer, its retry, the second run");
    let (cut, whole) = (&written[0], &written[1]);
    // A section per source that answered.
    assert_eq!(whole.2.as_array().unwrap().len(), 3, "{}", whole.2);
    assert_eq!(
        cut, whole,
        "the same sections, each once, each reported once"
    );
    assert_eq!(cut.0, 3);
}

#[tokio::test]
async fn a_calendar_whose_call_crosses_the_budget_keeps_its_entries_and_starts_no_other_call() {
    // One call at a time, 165 tokens each: the second (40 slots) crosses 300.
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let app = spawn_app_with_ai_env(
        &fake,
        &[
            ("CALENDAR_AI_CONCURRENCY", "1"),
            ("AI_USER_DAILY_TOKENS", "300"),
        ],
    )
    .await;
    app.expect_failed_jobs();
    let user = Uuid::new_v4();
    let frames = app.calendar_stream(user, &request(30, "tea")).await;
    let done = summary(&frames);
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"]["code"], "BUDGET_EXCEEDED");
    assert_eq!(fake.calls(), 2, "the third batch is never asked for");
    let streamed = keys(entries(&frames));
    assert_eq!(streamed.len(), 46, "the first two batches' entries");
    assert_eq!(streamed.iter().collect::<HashSet<_>>().len(), 46);
    let calendar = app
        .calendar(user, done["data"]["calendarId"].as_str().unwrap())
        .await;
    assert_eq!(calendar["entries"].as_array().unwrap().len(), 46);
}
