//! A calendar's live feed (issue 34): a secret address calendar applications subscribe to,
//! parsed by two independent RFC 5545 parsers (Python's `icalendar` and `vobject`), with
//! the export's `UID`s, `SEQUENCE` raised by an edit, `ETag` / `If-None-Match`, and nothing
//! of any other calendar.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    calendars::{request, summary},
    helpers::{TestApp, spawn_app},
};

/// What both parsers read of a feed: per `UID`, its summary, `SEQUENCE`, description and
/// start, and the calendar's refresh properties.
fn parsed(ics: &str) -> Value {
    let script = r#"
import sys, json, icalendar, vobject
text = sys.stdin.read()
cal = icalendar.Calendar.from_ical(text)
one = {str(e['UID']): {'summary': str(e['SUMMARY']), 'sequence': int(e.get('SEQUENCE', 0)),
        'description': str(e['DESCRIPTION']), 'start': e.decoded('DTSTART').isoformat(),
        'duration': str(e.decoded('DURATION'))}
       for e in cal.walk('VEVENT')}
other = vobject.readOne(text)
two = {e.uid.value: {'summary': e.summary.value, 'sequence': int(e.sequence.value) if 'sequence' in e.contents else 0,
        'description': e.description.value, 'start': e.dtstart.value.isoformat(),
        'duration': str(e.duration.value)}
       for e in other.vevent_list}
print(json.dumps({'icalendar': one, 'vobject': two,
    'refresh': str(cal.get('REFRESH-INTERVAL').to_ical().decode()) if cal.get('REFRESH-INTERVAL') else None,
    'ttl': str(cal.get('X-PUBLISHED-TTL'))}))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ics.as_bytes())
            .unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "a parser refused the feed (`make test-deps` installs them): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A saved calendar of the user's: its id.
async fn calendar(app: &TestApp, user: Uuid, theme: &str) -> String {
    let frames = app.calendar_stream(user, &request(2, theme)).await;
    summary(&frames)["data"]["calendarId"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn fetch(app: &TestApp, url: &str, etag: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(url);
    if let Some(etag) = etag {
        request = request.header("if-none-match", etag);
    }
    request.send().await.unwrap()
}

/// The feed (`ics`) has the same UIDs as the calendar's ICS export, and nothing of the
/// `foreign` calendars (the user's other one, anyone else's).
async fn the_feed_holds_what_the_export_holds(
    app: &TestApp,
    user: Uuid,
    id: &str,
    ics: &str,
    foreign: &[&String],
) {
    let events = parsed(ics)["icalendar"].as_object().unwrap().clone();
    let export = app
        .client
        .get(app.url(&format!("/v1/calendars/{id}/export?format=ics")))
        .bearer_auth(app.token(user))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let exported = parsed(&export)["icalendar"].as_object().unwrap().clone();
    let mut uids: Vec<&String> = events.keys().collect();
    let mut exported_uids: Vec<&String> = exported.keys().collect();
    uids.sort();
    exported_uids.sort();
    assert_eq!(uids, exported_uids);
    for foreign in foreign {
        assert!(
            !ics.contains(foreign.as_str()),
            "{foreign} leaked into the feed"
        );
    }
}

/// A new address replaces the old (`url`, made by `made`); a revoked one, or one never
/// made, is 404.
async fn a_new_address_replaces_the_old(
    app: &TestApp,
    user: Uuid,
    path: &str,
    url: &str,
    made: &Value,
) {
    let (_, remade) = app.send_empty(Method::POST, user, path).await;
    assert_ne!(remade["data"]["url"], made["data"]["url"]);
    assert_eq!(fetch(app, url, None).await.status(), 404);
    let new_path = remade["data"]["url"].as_str().unwrap();
    let new_url = app.url(&format!(
        "/feeds/{}",
        new_path.split_once("/feeds/").unwrap().1
    ));
    assert_eq!(fetch(app, &new_url, None).await.status(), 200);
    assert_eq!(app.delete(user, path).await, 204);
    assert_eq!(fetch(app, &new_url, None).await.status(), 404);
    assert_eq!(app.delete(user, path).await, 404);
    let random = app.url(&format!("/feeds/{}.ics", "A".repeat(43)));
    assert_eq!(fetch(app, &random, None).await.status(), 404);
    assert_eq!(
        fetch(app, &app.url("/feeds/not-a-token.ics"), None)
            .await
            .status(),
        404
    );
}

/// Each event of a fresh feed: version 0, half an hour, in UTC, not yet scheduled.
fn each_event_is_a_half_hour_utc_post_not_scheduled(feed: &Value) {
    let events = feed["icalendar"].as_object().unwrap().clone();
    assert!(!events.is_empty());
    for event in events.values() {
        assert_eq!(event["sequence"], 0);
        assert_eq!(event["duration"], "0:30:00");
        assert!(
            event["start"].as_str().unwrap().ends_with("+00:00"),
            "UTC: {event}"
        );
        assert!(
            event["description"]
                .as_str()
                .unwrap()
                .ends_with("Publishing: not scheduled"),
            "{event}"
        );
    }
}

/// A publish of `entry` scheduled on TikTok.
async fn schedule_a_publish(app: &TestApp, user: Uuid, calendar: &str, entry: &str) {
    sqlx::query(
        "insert into publish_intents (id, user_id, calendar_id, entry_id, channel, mode, dry_run,
             timing, status)
         values ($1, $2, $3, $4, 'tiktok', 'publish', false, 'scheduled', 'scheduled')",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(calendar.parse::<Uuid>().unwrap())
    .bind(entry.parse::<Uuid>().unwrap())
    .execute(&app.db)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_feed_is_the_calendar_as_it_stands_for_whoever_holds_its_address() {
    let app = spawn_app().await;
    let (user, stranger) = (Uuid::now_v7(), Uuid::now_v7());
    let id = calendar(&app, user, "tea").await;
    let other = calendar(&app, user, "coffee").await;
    let theirs = calendar(&app, stranger, "juice").await;

    // Only the owner makes a feed; the address is shown once, on this server's base URL.
    let path = format!("/v1/calendars/{id}/feed");
    assert_eq!(app.send_empty(Method::POST, stranger, &path).await.0, 404);
    let (status, made) = app.send_empty(Method::POST, user, &path).await;
    assert_eq!(status, 201, "{made}");
    let url = made["data"]["url"].as_str().unwrap().to_owned();
    let (_, read) = app.get_json(user, &path).await;
    assert_eq!(read["data"]["url"], Value::Null);
    assert_eq!(read["data"]["createdAt"], made["data"]["createdAt"]);
    let feed_path = url.split_once("/feeds/").map(|(_, p)| p).unwrap();
    let url = app.url(&format!("/feeds/{feed_path}"));

    // No header needed; private to its subscriber.
    let response = fetch(&app, &url, None).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("private")
    );
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let ics = response.text().await.unwrap();
    let feed = parsed(&ics);
    assert_eq!(feed["icalendar"], feed["vobject"], "the two parsers agree");
    assert_eq!(feed["refresh"], "PT1H");
    assert_eq!(feed["ttl"], "PT1H");
    each_event_is_a_half_hour_utc_post_not_scheduled(&feed);
    the_feed_holds_what_the_export_holds(&app, user, &id, &ics, &[&other, &theirs]).await;

    // Unchanged: 304 for the current ETag.
    let response = fetch(&app, &url, Some(&etag)).await;
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(response.headers()["etag"].to_str().unwrap(), etag);

    // An edit raises its entry's SEQUENCE and changes the ETag; the others stay.
    let (_, saved) = app.get_json(user, &format!("/v1/calendars/{id}")).await;
    let edited = saved["data"]["entries"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("an entry: {saved}"))
        .to_owned();
    let (status, _) = app
        .send_json(
            Method::PATCH,
            user,
            &format!("/v1/calendars/{id}/entries/{edited}"),
            &json!({ "title": "Retitled by hand" }),
        )
        .await;
    assert_eq!(status, 200);
    let response = fetch(&app, &url, Some(&etag)).await;
    assert_eq!(response.status(), 200);
    let new_etag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_etag, etag);
    let after = parsed(&response.text().await.unwrap());
    assert_eq!(after["icalendar"], after["vobject"]);
    let changed: Vec<(&String, &Value)> = after["icalendar"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, e)| e["sequence"] != 0)
        .collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(changed[0].0.starts_with(&edited));
    assert_eq!(changed[0].1["sequence"], 1);
    assert!(
        changed[0].1["summary"]
            .as_str()
            .unwrap()
            .ends_with("Retitled by hand")
    );

    // Its publishing's progress shows, and raises its SEQUENCE again.
    schedule_a_publish(&app, user, &id, &edited).await;
    let response = fetch(&app, &url, Some(&new_etag)).await;
    assert_eq!(response.status(), 200);
    let scheduled = parsed(&response.text().await.unwrap());
    let event = scheduled["icalendar"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(uid, _)| uid.starts_with(&edited))
        .unwrap()
        .1
        .clone();
    assert_eq!(event["sequence"], 2);
    assert!(
        event["description"]
            .as_str()
            .unwrap()
            .ends_with("Publishing: scheduled"),
        "{event}"
    );

    a_new_address_replaces_the_old(&app, user, &path, &url, &made).await;
}

/// A subscriber in a loop is told to slow down (`FEED_RATE_*`), with `Retry-After`.
#[tokio::test]
async fn a_feed_fetched_in_a_loop_is_rate_limited() {
    let app = crate::helpers::spawn_app_with(crate::helpers::TestOptions {
        env: vec![("FEED_RATE_LIMIT", "3".into())],
        ..Default::default()
    })
    .await;
    let user = Uuid::now_v7();
    let id = calendar(&app, user, "tea").await;
    let (_, made) = app
        .send_empty(Method::POST, user, &format!("/v1/calendars/{id}/feed"))
        .await;
    let url = made["data"]["url"].as_str().unwrap();
    let url = app.url(&format!("/feeds/{}", url.split_once("/feeds/").unwrap().1));
    for _ in 0..3 {
        assert_eq!(fetch(&app, &url, None).await.status(), 200);
    }
    let limited = fetch(&app, &url, None).await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
}
