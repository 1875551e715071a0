//! Content calendars (seed 000) edited by hand: edits, additions and deletions survive a
//! regeneration, whose diff marks conflicts with them and applies only what is accepted.

use std::{collections::HashSet, time::Duration};

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    calendars::{entries, keys, request, summary},
    helpers::{TestApp, eventually, spawn_app},
};

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

/// Two entries edited (`saved[3]` and `saved[40]`: a title each and a hashtag), one deleted
/// (`saved[10]`), and an edit past the caption's limit refused naming the field: the deleted
/// entry's key.
async fn edit_two_and_delete_one(app: &TestApp, user: Uuid, id: &str, saved: &[Value]) -> String {
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
    deleted
}

/// After accepting all: the two conflicts still wait, the edits are kept, the deleted
/// entry stays deleted and every other entry is the new topic's.
fn the_edits_are_kept(calendar: &Value, edited: &[&Value], deleted: &String) {
    assert_eq!(
        calendar["pendingRun"]["changes"], 2,
        "the two conflicts still wait for an answer"
    );
    let now = calendar["entries"].as_array().unwrap();
    assert_eq!(now.len(), 89 + 6);
    let now_keys = keys(now);
    assert_eq!(
        now_keys.iter().collect::<HashSet<_>>().len(),
        now.len(),
        "no key twice"
    );
    assert!(!now_keys.contains(deleted));
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

    let edited: Vec<&Value> = vec![&saved[3], &saved[40]];
    let deleted = edit_two_and_delete_one(&app, user, &id, &saved).await;

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
    // Nothing changes before the user accepts; the calendar names the proposal waiting.
    let before_accept = app.calendar(user, &id).await;
    assert_eq!(before_accept["entries"].as_array().unwrap().len(), 89);
    let run_id = done["data"]["runId"].as_str().unwrap();
    assert_eq!(
        before_accept["pendingRun"],
        json!({ "runId": run_id, "version": 2, "changes": 6 + 89 })
    );

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

    the_edits_are_kept(&app.calendar(user, &id).await, &edited, &deleted);

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
    assert_eq!(calendar["pendingRun"]["changes"], 1);
    // Neither `changeIds` nor `all`: each field is valid, together they say nothing.
    let (status, _) = app.send_json(Method::POST, user, &accept, &json!({})).await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn a_calendar_is_named_after_its_topic_until_its_user_names_it() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let generate = async |body: Value| -> String {
        let (status, accepted) = app
            .send_json(Method::POST, user, "/v1/ai/calendar", &body)
            .await;
        assert_eq!(status, 202, "{accepted}");
        let job = accepted["data"]["jobId"].as_str().unwrap();
        assert_eq!(finished_job(&app, user, job).await["status"], "succeeded");
        accepted["data"]["calendarId"].as_str().unwrap().to_owned()
    };
    let name =
        async |id: &str| -> Value { app.calendar(user, id).await["calendar"]["name"].clone() };
    let id = generate(request(2, "green tea")).await;
    assert_eq!(name(&id).await, "Green tea");
    // A default name follows the request.
    let mut again = request(2, "matcha latte");
    again["calendarId"] = json!(id);
    generate(again.clone()).await;
    assert_eq!(name(&id).await, "Matcha latte");
    // A name the user gives is kept by every regeneration.
    let path = format!("/v1/calendars/{id}");
    let (status, renamed) = app
        .send_json(
            Method::PATCH,
            user,
            &path,
            &json!({ "name": "  Spring plan " }),
        )
        .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["data"]["name"], "Spring plan");
    assert_eq!(renamed["data"]["id"], json!(id));
    again["constraints"]["topic"] = json!("sencha");
    generate(again).await;
    assert_eq!(name(&id).await, "Spring plan");
    // Without a topic: the channels and dates.
    let mut plain = request(2, "x");
    plain["constraints"]
        .as_object_mut()
        .unwrap()
        .remove("topic");
    let other = generate(plain).await;
    assert_eq!(
        name(&other).await,
        "TikTok, Instagram, LinkedIn: 2027-03-01 to 2027-03-02"
    );
    // Refusals: a blank name, and another user's calendar.
    let (status, _) = app
        .send_json(Method::PATCH, user, &path, &json!({ "name": "   " }))
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .send_json(
            Method::PATCH,
            Uuid::new_v4(),
            &path,
            &json!({ "name": "Mine" }),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(name(&id).await, "Spring plan");
}
