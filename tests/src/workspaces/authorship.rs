//! A team plans one calendar: what one member adds, the others read and edit, and every
//! entry names who made it and who last changed it.

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use super::{Person, app, join, team, team_calendar};
use crate::helpers::outbox::Outbox;

#[tokio::test]
async fn members_edit_one_calendar_and_each_entry_names_who_changed_it() {
    let outbox = Outbox::new();
    let app = app(&outbox).await;
    let (ana, eve, vic) = (
        Person::new(&app, "ana"),
        Person::new(&app, "eve"),
        Person::new(&app, "vic"),
    );
    let acme = team(&app, &ana, "Acme").await;
    join(&app, &outbox, acme, &ana, &eve, "editor").await;
    join(&app, &outbox, acme, &ana, &vic, "viewer").await;
    let calendar = team_calendar(&app, &ana, acme).await;

    let entries = format!("/v1/calendars/{calendar}/entries");
    let body = json!({ "channel": "bluesky", "date": "2030-01-07", "title": "Teaser" });
    let (status, added) = ana
        .call(&app, Method::POST, &entries, None, Some(&body))
        .await;
    assert_eq!(status, 201, "{added}");
    let made = &added["data"];
    assert_eq!(made["createdBy"], ana.id.to_string());
    assert_eq!(made["updatedBy"], ana.id.to_string());

    let entry = format!("{entries}/{}", made["id"].as_str().unwrap());
    let (status, edited) = eve
        .call(
            &app,
            Method::PATCH,
            &entry,
            None,
            Some(&json!({ "title": "Teaser, shorter" })),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["data"]["createdBy"], ana.id.to_string());
    assert_eq!(edited["data"]["updatedBy"], eve.id.to_string());

    // Every member reads the same entry, with its author and its last editor.
    for person in [&ana, &eve, &vic] {
        let (status, read) = person
            .call(
                &app,
                Method::GET,
                &format!("/v1/calendars/{calendar}"),
                None,
                None,
            )
            .await;
        assert_eq!(status, 200, "{read}");
        let saved = read["data"]["entries"].as_array().unwrap();
        assert_eq!(saved.len(), 1, "{read}");
        assert_eq!(saved[0]["title"], "Teaser, shorter");
        assert_eq!(saved[0]["createdBy"], ana.id.to_string());
        assert_eq!(saved[0]["updatedBy"], eve.id.to_string());
    }
    let (maker, editor): (Uuid, Uuid) =
        sqlx::query_as("select user_id, updated_by from calendar_entries where calendar_id = $1")
            .bind(calendar)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((maker, editor), (ana.id, eve.id));
}
