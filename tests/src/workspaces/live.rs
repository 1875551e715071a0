//! Two members on one calendar (`GET /v1/calendars/{id}/live`): an edit in one appears in
//! the other's stream, each sees who else has it open, a closed stream leaves at once, and
//! a stream resumed with `Last-Event-ID` gets what it missed.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Person, app, join, team, team_calendar};
use crate::helpers::{
    TestApp,
    outbox::Outbox,
    stream::{EventReader, Frame},
};

/// Opens the calendar's live stream as `person` (resuming after `last` when given).
async fn open(app: &TestApp, person: &Person, calendar: Uuid, last: Option<u64>) -> EventReader {
    let mut request = app
        .client
        .get(app.url(&format!("/v1/calendars/{calendar}/live")))
        .bearer_auth(&person.token);
    if let Some(last) = last {
        request = request.header("last-event-id", last.to_string());
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"].to_str().unwrap();
    assert!(kind.starts_with("text/event-stream"), "{kind}");
    EventReader::from_response(response, false)
}

/// Reads `reader` until an event `kind` for which `wanted` holds (the reader fails the
/// test when nothing comes for 15 s).
async fn until(reader: &mut EventReader, kind: &str, wanted: impl Fn(&Value) -> bool) -> Frame {
    loop {
        let frame = reader.next_event().await.expect("the stream stays open");
        if frame.kind == kind && wanted(&frame.data) {
            return frame;
        }
    }
}

/// The people a `presence` event lists.
fn viewers(data: &Value) -> Vec<String> {
    let mut ids: Vec<String> = data["viewers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["userId"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn an_edit_in_one_copy_appears_in_the_other_with_who_is_looking() {
    let outbox = Outbox::new();
    let app = app(&outbox).await;
    let (ana, eve, out) = (
        Person::new(&app, "ana"),
        Person::new(&app, "eve"),
        Person::new(&app, "out"),
    );
    let acme = team(&app, &ana, "Acme").await;
    join(&app, &outbox, acme, &ana, &eve, "editor").await;
    let calendar = team_calendar(&app, &ana, acme).await;
    let entries = format!("/v1/calendars/{calendar}/entries");
    let body = json!({ "channel": "bluesky", "date": "2030-01-07", "title": "Teaser" });
    let (status, added) = ana
        .call(&app, Method::POST, &entries, None, Some(&body))
        .await;
    assert_eq!(status, 201, "{added}");
    let entry = format!("{entries}/{}", added["data"]["id"].as_str().unwrap());

    let mut anas = open(&app, &ana, calendar, None).await;
    assert_eq!(anas.next_event().await.unwrap().kind, "ready");
    let mut eves = open(&app, &eve, calendar, None).await;
    assert_eq!(eves.next_event().await.unwrap().kind, "ready");
    let both = {
        let mut ids = vec![ana.id.to_string(), eve.id.to_string()];
        ids.sort();
        ids
    };
    until(&mut anas, "presence", |data| viewers(data) == both).await;
    let seen = until(&mut eves, "presence", |data| viewers(data) == both).await;
    assert!(
        seen.data["viewers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["email"] == ana.email.as_str()),
        "{:?}",
        seen.data
    );

    // Eve's edit appears in Ana's copy, with the entry as it is now and who changed it.
    let edit = json!({ "title": "Teaser (Eve)" });
    let (status, edited) = eve
        .call(&app, Method::PATCH, &entry, None, Some(&edit))
        .await;
    assert_eq!(status, 200, "{edited}");
    let changed = until(&mut anas, "entry.changed", |_| true).await;
    assert!(changed.id.is_some(), "a change is resumable: it has an id");
    assert_eq!(changed.data["change"], "updated");
    assert_eq!(changed.data["entry"]["title"], "Teaser (Eve)");
    assert_eq!(changed.data["version"], edited["data"]["version"]);
    assert_eq!(changed.data["by"]["userId"], eve.id.to_string());

    // Eve closes her tab: Ana sees her leave.
    drop(eves);
    let alone = vec![ana.id.to_string()];
    until(&mut anas, "presence", |data| viewers(data) == alone).await;

    // Ana's connection drops; a change meanwhile reaches her when she resumes.
    let last = changed.id.unwrap();
    drop(anas);
    let (status, _) = eve.call(&app, Method::DELETE, &entry, None, None).await;
    assert_eq!(status, 204);
    let mut resumed = open(&app, &ana, calendar, Some(last)).await;
    let deleted = until(&mut resumed, "entry.changed", |_| true).await;
    assert_eq!(deleted.data["change"], "deleted");
    assert!(deleted.id.unwrap() > last);

    // Someone outside the workspace finds no such calendar.
    let response = app
        .client
        .get(app.url(&format!("/v1/calendars/{calendar}/live")))
        .bearer_auth(&out.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}
