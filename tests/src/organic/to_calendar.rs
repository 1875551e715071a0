//! An organic week added to a calendar: each placement an entry with its caption,
//! hashtags and time, marked with its placement; adding the week again updates those
//! entries (one its owner edited stays as edited) and adds none; refusals say why.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{daily, generate, library};
use crate::helpers::spawn_app;

const PATH: &str = "/api/organic/brands/brand_123/weeks/2026-01-26/calendar";

fn week_entries(calendar: &Value) -> Vec<Value> {
    let mut entries: Vec<Value> = calendar["data"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["placementId"].is_null())
        .cloned()
        .collect();
    entries.sort_by_key(|e| e["placementId"].as_str().unwrap().to_owned());
    entries
}

#[tokio::test]
async fn a_week_reaches_a_calendar_once_and_again_updates_what_it_added() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    library(&app, user).await;
    let generated = generate(&app, user, &daily(&["p1", "p2", "p3"])).await;
    assert_eq!(generated.status, 200, "{}", generated.error);

    // Into a new calendar, named after the brand and the week.
    let (status, added) = app.send_json(Method::POST, user, PATH, &json!({})).await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(
        (added["added"].clone(), added["updated"].clone()),
        (json!(3), json!(0))
    );
    let calendar = added["calendarId"].as_str().unwrap().to_owned();
    let (status, saved) = app
        .get_json(user, &format!("/v1/calendars/{calendar}"))
        .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(
        saved["data"]["calendar"]["name"],
        "Leafy · week of 2026-01-26"
    );
    let entries = week_entries(&saved);
    assert_eq!(entries.len(), 3, "{saved}");
    let (_, week) = app
        .get_json(user, "/api/organic/brands/brand_123/weeks/2026-01-26")
        .await;
    let first = &week["placements"][0];
    assert_eq!(entries[0]["placementId"], "p1");
    assert_eq!(entries[0]["channel"], "instagram");
    assert_eq!(entries[0]["caption"], first["copy"]["caption"]);
    assert_eq!(
        entries[0]["scheduledAt"].as_str().unwrap()[..16],
        first["schedule"]["scheduledAt"].as_str().unwrap()[..16]
    );
    // 17:00 UTC is 09:00 in Los Angeles, the brand's zone and the new calendar's.
    assert_eq!(
        (entries[0]["date"].clone(), entries[0]["time"].clone()),
        (json!("2026-01-27"), json!("09:00"))
    );
    assert!(
        !entries[0]["hashtags"].as_array().unwrap().is_empty(),
        "{}",
        entries[0]
    );

    // Edited in the calendar, then the week added again: nothing added, the two others
    // updated, the edit kept.
    let edited = entries[1]["id"].as_str().unwrap();
    let (status, _) = app
        .send_json(
            Method::PATCH,
            user,
            &format!("/v1/calendars/{calendar}/entries/{edited}"),
            &json!({ "caption": "My own words" }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, again) = app
        .send_json(Method::POST, user, PATH, &json!({ "calendarId": calendar }))
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (again["added"].clone(), again["updated"].clone()),
        (json!(0), json!(2))
    );
    let (_, saved) = app
        .get_json(user, &format!("/v1/calendars/{calendar}"))
        .await;
    let entries = week_entries(&saved);
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[1]["caption"], "My own words");

    // Refusals: both a calendar and a name; another user's calendar; not a Monday; a
    // week with nothing saved.
    let both = json!({ "calendarId": calendar, "name": "Twice" });
    let (status, answer) = app.send_json(Method::POST, user, PATH, &both).await;
    assert_eq!(
        (status, answer["error"]["details"]["field"].clone()),
        (422, json!("name"))
    );
    let other = Uuid::new_v4();
    library(&app, other).await;
    let (status, _) = app
        .send_json(
            Method::POST,
            other,
            PATH,
            &json!({ "calendarId": calendar }),
        )
        .await;
    assert_eq!(status, 422, "the other user's week is empty first");
    let tuesday = PATH.replace("2026-01-26", "2026-01-27");
    let (status, _) = app
        .send_json(Method::POST, user, &tuesday, &json!({}))
        .await;
    assert_eq!(status, 422);
    let generated = generate(&app, other, &daily(&["q1"])).await;
    assert_eq!(generated.status, 200);
    let (status, answer) = app
        .send_json(
            Method::POST,
            other,
            PATH,
            &json!({ "calendarId": calendar }),
        )
        .await;
    assert_eq!(status, 404, "another user's calendar: {answer}");
    let (_, theirs) = app
        .get_json(user, &format!("/v1/calendars/{calendar}"))
        .await;
    assert_eq!(
        week_entries(&theirs).len(),
        3,
        "nothing of theirs added to it"
    );
}

#[tokio::test]
async fn a_week_exports_as_the_same_ics_and_csv_every_time() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    library(&app, user).await;
    let generated = generate(&app, user, &daily(&["p1", "p2"])).await;
    assert_eq!(generated.status, 200, "{}", generated.error);
    let export = |format: &'static str| {
        let request = app
            .client
            .get(app.url(&format!(
                "/api/organic/brands/brand_123/weeks/2026-01-26/export?format={format}"
            )))
            .bearer_auth(app.token(user))
            .send();
        async move {
            let response = request.await.unwrap();
            let status = response.status().as_u16();
            let kind = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            (status, kind, response.text().await.unwrap())
        }
    };
    let (status, kind, ics) = export("ics").await;
    assert_eq!(
        (status, kind.as_str()),
        (200, "text/calendar; charset=utf-8")
    );
    assert_eq!(ics.matches("BEGIN:VEVENT").count(), 2, "{ics}");
    assert!(
        ics.contains("X-WR-CALNAME:Leafy · week of 2026-01-26"),
        "{ics}"
    );
    assert!(ics.contains("DTSTART:20260127T170000Z"), "{ics}");
    assert_eq!(export("ics").await.2, ics, "the same week, the same bytes");
    let (status, kind, csv) = export("csv").await;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"));
    assert_eq!(
        csv.trim_end().lines().count(),
        3,
        "a header and two rows: {csv}"
    );
    let (status, _, _) = export("pdf").await;
    assert_eq!(status, 400);
}
