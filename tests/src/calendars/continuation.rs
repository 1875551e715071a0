//! Big plans finish: a run that hit seed 000's timeout is completed by
//! `POST /v1/calendars/{id}/runs/{runId}/continue`, which asks the AI only for the slots the
//! calendar lacks and saves them straight into it.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

use crate::{
    calendars::{entries, request},
    helpers::{
        Behaviour, FakeAi, TestApp, TestOptions, spawn_app_with,
        stream::{EventReader, Frame},
    },
};

impl TestApp {
    /// `POST /v1/calendars/{id}/runs/{run}/continue` answered as a stream, read to its end.
    async fn continue_stream(&self, user: Uuid, calendar: &str, run: &str) -> Vec<Frame> {
        let response = self
            .client
            .post(format!(
                "{}/v1/calendars/{calendar}/runs/{run}/continue",
                self.address
            ))
            .bearer_auth(self.token(user))
            .header("accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
        EventReader::from_response(response, false).rest().await
    }
}

/// The slot keys each calendar prompt asked the provider for, in order.
fn asked(requests: &[Value]) -> Vec<Vec<String>> {
    requests
        .iter()
        .filter_map(|request| {
            let user = request["messages"][1]["content"].as_str()?;
            let (_, rest) = user.split_once("<slots>")?;
            let (slots, _) = rest.split_once("</slots>")?;
            let slots: Vec<Value> = serde_json::from_str(slots).ok()?;
            Some(
                slots
                    .iter()
                    .map(|s| s["key"].as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

/// The continuation's calls (`requests`) asked for each of the `missing` slots exactly
/// once, and for none the calendar (or the proposal) had (`saved`): the slots asked for.
fn each_missing_slot_asked_once(
    requests: &[Value],
    saved: &HashSet<String>,
    missing: usize,
) -> HashMap<String, usize> {
    let mut times_asked: HashMap<String, usize> = HashMap::new();
    for key in asked(requests).into_iter().flatten() {
        *times_asked.entry(key).or_default() += 1;
    }
    assert_eq!(
        times_asked.len(),
        missing,
        "every missing slot was asked for"
    );
    assert!(times_asked.values().all(|n| *n == 1), "no slot asked twice");
    assert!(
        times_asked.keys().all(|key| !saved.contains(key)),
        "no slot already written was asked for again"
    );
    times_asked
}

/// Nothing is left to continue (`second`), the run it continued is superseded (`first`),
/// and another user finds no such calendar.
async fn nothing_is_left_to_continue(
    app: &TestApp,
    user: Uuid,
    calendar_id: &str,
    first_run: &str,
    second_run: &str,
) {
    for (run, code) in [
        (second_run, "CALENDAR_COMPLETE"),
        (first_run, "RUN_SUPERSEDED"),
    ] {
        let (status, refused) = app
            .send_empty(
                Method::POST,
                user,
                &format!("/v1/calendars/{calendar_id}/runs/{run}/continue"),
            )
            .await;
        assert_eq!(status, 409, "{refused}");
        assert_eq!(refused["error"]["code"], code, "{refused}");
    }
    let stranger = Uuid::new_v4();
    let (status, _) = app
        .send_empty(
            Method::POST,
            stranger,
            &format!("/v1/calendars/{calendar_id}/runs/{second_run}/continue"),
        )
        .await;
    assert_eq!(status, 404, "another user's calendar is not found");
}

#[tokio::test]
async fn a_plan_that_timed_out_is_completed_by_continue_asking_only_for_missing_slots() {
    // Two calls answer; every later one waits on the gate, so the run times out with
    // exactly the first two batches saved.
    let gate = Arc::new(tokio::sync::watch::channel(false).0);
    let fake = FakeAi::start(
        vec![Behaviour::Ok, Behaviour::Ok],
        Behaviour::Gate(gate.clone()),
    )
    .await;
    let app = spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        env: vec![
            ("CALENDAR_TIMEOUT_SECS", "3".into()),
            ("CALENDAR_AI_CONCURRENCY", "2".into()),
        ],
        ..Default::default()
    })
    .await;
    app.expect_unfinished_jobs();
    let user = Uuid::new_v4();
    // Three channels, 182 days: 546 slots.
    let frames = app.calendar_stream(user, &request(182, "tea")).await;
    let first = frames.last().unwrap();
    assert_eq!(first.data["status"], "timeout", "{:?}", first.data);
    let saved_first: HashSet<String> = entries(&frames)
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_owned())
        .collect();
    // A first batch of 6 and a full one of 40.
    assert_eq!(saved_first.len(), 46);
    let message = first.data["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("46 of 546") && message.contains("Continue to write the 500"),
        "the message counts once and offers Continue: {message}"
    );
    let calendar_id = first.data["data"]["calendarId"]
        .as_str()
        .unwrap()
        .to_owned();
    let first_run = first.data["data"]["runId"].as_str().unwrap().to_owned();
    let calendar = app.calendar(user, &calendar_id).await;
    assert_eq!(calendar["entries"].as_array().unwrap().len(), 46);

    gate.send_replace(true);
    let asked_before = fake.requests().len();
    let frames = app.continue_stream(user, &calendar_id, &first_run).await;
    let done = frames.last().unwrap();
    assert_eq!(done.data["status"], "succeeded", "{:?}", done.data);
    assert_eq!(done.data["data"]["entries"], 500);
    assert_eq!(done.data["data"]["version"], 2);
    let second_run = done.data["data"]["runId"].as_str().unwrap().to_owned();
    assert_ne!(second_run, first_run, "a new run, with its own id");

    each_missing_slot_asked_once(&fake.requests()[asked_before..], &saved_first, 500);
    // Its diff holds only what it added; it needs no accept.
    let diff = frames.iter().find(|f| f.kind == "diff").expect("a diff");
    assert_eq!(diff.data["data"]["added"].as_array().unwrap().len(), 500);
    assert_eq!(diff.data["data"]["counts"]["updated"], 0);
    assert_eq!(diff.data["data"]["counts"]["removed"], 0);

    // Every slot is filled exactly once.
    let calendar = app.calendar(user, &calendar_id).await;
    let saved = calendar["entries"].as_array().unwrap();
    assert_eq!(saved.len(), 546);
    let keys: HashSet<&str> = saved.iter().map(|e| e["key"].as_str().unwrap()).collect();
    assert_eq!(keys.len(), 546);
    assert_eq!(calendar["calendar"]["currentVersion"], 2);
    assert_eq!(calendar["runs"][0]["id"], second_run.as_str());
    assert_eq!(calendar["runs"][0]["continues"], first_run.as_str());
    assert_eq!(calendar["runs"][0]["diff"]["added"], 500);
    let (status, run) = app
        .get_json(
            user,
            &format!("/v1/calendars/{calendar_id}/runs/{second_run}"),
        )
        .await;
    assert_eq!(status, 200, "{run}");
    let changes = run["data"]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 500);
    assert!(
        changes
            .iter()
            .all(|c| c["kind"] == "added" && c["appliedAt"].is_string())
    );

    nothing_is_left_to_continue(&app, user, &calendar_id, &first_run, &second_run).await;
}

/// A continuation answers like the calendar POST: 202 with the run's ids and links when
/// only JSON is accepted; and while it runs, the user's other generations wait.
#[tokio::test]
async fn a_continuation_answers_202_and_keeps_the_one_active_run_guard() {
    let gate = Arc::new(tokio::sync::watch::channel(false).0);
    let fake = FakeAi::start(vec![Behaviour::Ok], Behaviour::Gate(gate.clone())).await;
    let app = spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        env: vec![
            ("CALENDAR_TIMEOUT_SECS", "1".into()),
            ("CALENDAR_AI_CONCURRENCY", "1".into()),
        ],
        ..Default::default()
    })
    .await;
    app.expect_unfinished_jobs();
    let user = Uuid::new_v4();
    let frames = app.calendar_stream(user, &request(30, "tea")).await;
    let first = frames.last().unwrap();
    assert_eq!(first.data["status"], "timeout");
    let calendar_id = first.data["data"]["calendarId"].as_str().unwrap();
    let run = first.data["data"]["runId"].as_str().unwrap();
    let (status, accepted) = app
        .send_empty(
            Method::POST,
            user,
            &format!("/v1/calendars/{calendar_id}/runs/{run}/continue"),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["data"]["calendarId"], calendar_id);
    assert_eq!(accepted["data"]["version"], 2);
    assert_eq!(accepted["data"]["status"], "pending");
    let continuation = accepted["data"]["runId"].as_str().unwrap();
    // The continuation is active (its calls wait on the gate): another is refused.
    let (status, refused) = app
        .send_json(Method::POST, user, "/v1/ai/calendar", &request(2, "tea"))
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "GENERATION_IN_PROGRESS");
    assert_eq!(refused["error"]["details"]["runId"], continuation);
    let (status, refused) = app
        .send_empty(
            Method::POST,
            user,
            &format!("/v1/calendars/{calendar_id}/runs/{continuation}/continue"),
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "RUN_NOT_FINISHED");
}

/// An app answered by `fake`, whose calendar runs end `timeout` two seconds after they are
/// asked for, two AI calls at a time (a gated call is left unfinished).
pub(crate) async fn two_second_runs(fake: &FakeAi) -> TestApp {
    let app = spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        env: vec![
            ("CALENDAR_TIMEOUT_SECS", "2".into()),
            ("CALENDAR_AI_CONCURRENCY", "2".into()),
        ],
        ..Default::default()
    })
    .await;
    app.expect_unfinished_jobs();
    app
}

/// A regeneration that reached the time limit is continued: the new run asks only for the
/// slots its proposal lacks, each once, and their changes join that same proposal (read
/// and accepted through either run), so accepting it leaves no slot empty. A regeneration
/// whose proposal was accepted is not continued.
/// A regeneration whose proposal was accepted is not continued; nor is one that ended
/// otherwise than at the time limit.
async fn an_accepted_regeneration_is_not_continued(app: &TestApp, user: Uuid, calendar_id: &str) {
    let mut regenerate = request(20, "tea");
    regenerate["start"] = "2027-04-01".into();
    regenerate["end"] = "2027-04-20".into();
    regenerate["calendarId"] = calendar_id.into();
    let frames = app.calendar_stream(user, &regenerate).await;
    let timed_out = frames.last().unwrap();
    assert_eq!(timed_out.data["status"], "timeout", "{:?}", timed_out.data);
    let again = timed_out.data["data"]["runId"].as_str().unwrap().to_owned();
    let (status, accepted) = app
        .send_json(
            Method::POST,
            user,
            &format!("/v1/calendars/{calendar_id}/runs/{again}/accept"),
            &serde_json::json!({ "all": true }),
        )
        .await;
    assert_eq!(status, 200, "{accepted}");
    let written = timed_out.data["error"]["details"]["written"]
        .as_u64()
        .unwrap();
    assert!(written > 0, "{:?}", timed_out.data);
    assert_eq!(
        accepted["data"]["applied"].as_array().unwrap().len() as u64,
        written,
        "each slot it wrote is a new entry"
    );
    let (status, refused) = app
        .send_empty(
            Method::POST,
            user,
            &format!("/v1/calendars/{calendar_id}/runs/{again}/continue"),
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "RUN_NOT_CONTINUABLE", "{refused}");
}

#[tokio::test]
async fn a_regeneration_that_timed_out_is_continued_into_its_own_proposal() {
    // The first run (30 slots: a batch of 6 and one of 24) and the regeneration's first two
    // batches (6 and 40 of 60) answer; its third waits on the gate, as do the
    // continuation's, which it lets through. Of the last regeneration, what the script has
    // left answers and the rest waits for ever.
    let gate = Arc::new(tokio::sync::watch::channel(false).0);
    let never = Arc::new(tokio::sync::watch::channel(false).0);
    let mut script = vec![Behaviour::Ok; 4];
    script.extend(std::iter::repeat_n(Behaviour::Gate(gate.clone()), 3));
    script.push(Behaviour::Ok);
    let fake = FakeAi::start(script, Behaviour::Gate(never.clone())).await;
    let app = two_second_runs(&fake).await;
    let user = Uuid::new_v4();
    let frames = app.calendar_stream(user, &request(10, "tea")).await;
    let first = frames.last().unwrap();
    assert_eq!(first.data["status"], "succeeded", "{:?}", first.data);
    let calendar_id = first.data["data"]["calendarId"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut regenerate = request(20, "tea");
    regenerate["calendarId"] = calendar_id.clone().into();
    let frames = app.calendar_stream(user, &regenerate).await;
    let timed_out = frames.last().unwrap();
    assert_eq!(timed_out.data["status"], "timeout", "{:?}", timed_out.data);
    let details = &timed_out.data["error"]["details"];
    assert_eq!(
        (&details["written"], &details["slots"], &details["missing"]),
        (&46.into(), &60.into(), &14.into()),
        "the run's own counts: {details}"
    );
    let regeneration = timed_out.data["data"]["runId"].as_str().unwrap().to_owned();
    let proposed: HashSet<String> = entries(&frames)
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(proposed.len(), 46);
    let calendar = app.calendar(user, &calendar_id).await;
    assert_eq!(
        calendar["entries"].as_array().unwrap().len(),
        30,
        "a proposal only"
    );
    let (_, before) = app
        .get_json(
            user,
            &format!("/v1/calendars/{calendar_id}/runs/{regeneration}"),
        )
        .await;
    let changes_before = before["data"]["changes"].as_array().unwrap().len();

    gate.send_replace(true);
    let asked_before = fake.requests().len();
    let frames = app.continue_stream(user, &calendar_id, &regeneration).await;
    let done = frames.last().unwrap();
    assert_eq!(done.data["status"], "succeeded", "{:?}", done.data);
    assert_eq!(done.data["data"]["entries"], 14);
    let continuation = done.data["data"]["runId"].as_str().unwrap().to_owned();
    let times_asked = each_missing_slot_asked_once(&fake.requests()[asked_before..], &proposed, 14);
    // The fourteen slots are new to the calendar: added to the proposal, as the run's diff.
    let diff = frames.iter().find(|f| f.kind == "diff").expect("a diff");
    assert_eq!(diff.data["data"]["counts"]["added"], 14, "{:?}", diff.data);
    // The calendar is untouched until the proposal is accepted.
    let calendar = app.calendar(user, &calendar_id).await;
    assert_eq!(calendar["entries"].as_array().unwrap().len(), 30);
    assert_eq!(calendar["runs"][0]["id"], continuation.as_str());
    assert_eq!(calendar["runs"][0]["proposalRunId"], regeneration.as_str());
    assert_eq!(calendar["runs"][0]["continues"], regeneration.as_str());
    assert_eq!(calendar["pendingRun"]["runId"], continuation.as_str());

    // One proposal, read through either run: the regeneration's changes and the fourteen.
    let mut read = Vec::new();
    for run in [&regeneration, &continuation] {
        let (status, detail) = app
            .get_json(user, &format!("/v1/calendars/{calendar_id}/runs/{run}"))
            .await;
        assert_eq!(status, 200, "{detail}");
        read.push(detail["data"]["changes"].clone());
    }
    assert_eq!(read[0], read[1]);
    let changes = read[0].as_array().unwrap();
    assert_eq!(changes.len(), changes_before + 14);
    let keys: HashSet<&str> = changes.iter().map(|c| c["key"].as_str().unwrap()).collect();
    assert_eq!(keys.len(), changes.len(), "no slot twice in the proposal");
    let added: HashSet<&str> = changes
        .iter()
        .filter(|c| times_asked.contains_key(c["key"].as_str().unwrap()))
        .map(|c| {
            assert_eq!(c["kind"], "added", "{c}");
            c["key"].as_str().unwrap()
        })
        .collect();
    assert_eq!(added.len(), 14);

    // Accepting it leaves no slot of the request empty.
    let (status, accepted) = app
        .send_json(
            Method::POST,
            user,
            &format!("/v1/calendars/{calendar_id}/runs/{regeneration}/accept"),
            &serde_json::json!({ "all": true }),
        )
        .await;
    assert_eq!(status, 200, "{accepted}");
    let calendar = app.calendar(user, &calendar_id).await;
    let saved = calendar["entries"].as_array().unwrap();
    let keys: HashSet<&str> = saved.iter().map(|e| e["key"].as_str().unwrap()).collect();
    assert_eq!((saved.len(), keys.len()), (60, 60));
    assert!(
        calendar["pendingRun"].is_null(),
        "{}",
        calendar["pendingRun"]
    );

    an_accepted_regeneration_is_not_continued(&app, user, &calendar_id).await;
}
