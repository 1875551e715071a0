//! Calendar export (seed 000): ICS that an independent RFC 5545 parser reads, CSV, JSON.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    calendars::{request, summary},
    helpers::spawn_app,
};

#[tokio::test]
async fn exports_hold_the_saved_entries_and_the_ics_parses() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let frames = app
        .calendar_stream(user, &request(4, "tea, \"quoted\"; semi"))
        .await;
    let id = summary(&frames)["data"]["calendarId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, manual) = app
        .send_json(
            Method::POST,
            user,
            &format!("/v1/calendars/{id}/entries"),
            &json!({ "channel": "youtube", "date": "2027-03-02", "time": "12:30", "title": "Launch, live; é ✓", "caption": "Line one\nLine two" }),
        )
        .await;
    assert_eq!(status, 201, "{manual}");
    assert_eq!(manual["data"]["origin"], "manual");

    let export = |format: &str| {
        let url = app.url(&format!("/v1/calendars/{id}/export?format={format}"));
        let request = app.client.get(url).bearer_auth(app.token(user));
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            let content_type = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            (content_type, response.text().await.unwrap())
        }
    };
    let (content_type, ics) = export("ics").await;
    assert!(content_type.starts_with("text/calendar"));
    let dir = std::env::temp_dir().join(format!("almanac-ics-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("calendar.ics");
    std::fs::write(&file, &ics).unwrap();
    let script = "import sys, json, icalendar\n\
cal = icalendar.Calendar.from_ical(open(sys.argv[1], 'rb').read())\n\
events = [e for e in cal.walk('VEVENT')]\n\
print(json.dumps({'count': len(events), 'summaries': [str(e['SUMMARY']) for e in events],\n\
  'descriptions': [str(e['DESCRIPTION']) for e in events],\n\
  'starts': [e.decoded('DTSTART').isoformat() for e in events],\n\
  'uids': [str(e['UID']) for e in events]}))\n";
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&file)
        .output()
        .expect("python3 runs");
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        output.status.success(),
        "icalendar refused the export: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let parsed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(parsed["count"], 13);
    assert!(
        parsed["summaries"]
            .as_array()
            .unwrap()
            .contains(&json!("[youtube] Launch, live; é ✓"))
    );
    assert!(
        parsed["descriptions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d.as_str().unwrap().starts_with("Line one\nLine two"))
    );
    assert!(
        parsed["starts"]
            .as_array()
            .unwrap()
            .contains(&json!("2027-03-02T11:30:00+00:00")),
        "12:30 Paris time: {parsed}"
    );
    assert_eq!(
        parsed["uids"]
            .as_array()
            .unwrap()
            .iter()
            .collect::<HashSet<_>>()
            .len(),
        13
    );

    let (content_type, csv) = export("csv").await;
    assert!(content_type.starts_with("text/csv"));
    assert!(csv.starts_with("id,key,channel,date,time,scheduledAt,title"));
    assert!(csv.contains("\"Launch, live; é ✓\""));
    let (_, body) = export("json").await;
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["data"]["entries"].as_array().unwrap().len(), 13);
    assert_eq!(json["meta"]["calendarId"], json["data"]["calendar"]["id"]);
    // The same saved calendar exports to the same bytes, whatever the format.
    for format in ["json", "ics", "csv"] {
        assert_eq!(export(format).await.1, export(format).await.1, "{format}");
    }
    let response = app
        .client
        .get(app.url(&format!("/v1/calendars/{id}/export?format=pdf")))
        .bearer_auth(app.token(user))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = app
        .client
        .get(app.url(&format!("/v1/calendars/{id}/export?format=ics")))
        .bearer_auth(app.token(Uuid::new_v4()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}
