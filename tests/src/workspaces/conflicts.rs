//! Two members edit one entry: the second change made on an older version is refused (412
//! `EDIT_CONFLICT`) with the first's change, who made it and when, and nothing is lost;
//! without `If-Match` (the seed's clients) the last change wins as before.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Person, app, join, team, team_calendar};
use crate::helpers::{TestApp, outbox::Outbox};

/// `method path` as `person`, with `If-Match` when given: status, `ETag` and body.
async fn send(
    app: &TestApp,
    person: &Person,
    method: Method,
    path: &str,
    if_match: Option<&str>,
    body: Option<&Value>,
) -> (u16, Option<String>, Value) {
    app.versioned(method, &person.token, path, if_match, body)
        .await
}

/// Ana, who owns the team Acme, and Eve, an editor there, on a calendar of Acme's with one
/// entry Ana made: the calendar's and the entry's paths.
struct OneEntry {
    app: TestApp,
    _outbox: Outbox,
    ana: Person,
    eve: Person,
    calendar: String,
    entry: String,
}

async fn one_entry() -> OneEntry {
    let outbox = Outbox::new();
    let app = app(&outbox).await;
    let (ana, eve) = (Person::new(&app, "ana"), Person::new(&app, "eve"));
    let acme = team(&app, &ana, "Acme").await;
    join(&app, &outbox, acme, &ana, &eve, "editor").await;
    let calendar = format!("/v1/calendars/{}", team_calendar(&app, &ana, acme).await);
    let body = json!({ "channel": "bluesky", "date": "2030-01-07", "title": "Teaser" });
    let path = format!("{calendar}/entries");
    let (status, etag, added) = send(&app, &ana, Method::POST, &path, None, Some(&body)).await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(
        etag,
        Some(format!("\"{}\"", added["data"]["version"])),
        "a new entry's ETag is its version"
    );
    let entry = format!("{path}/{}", added["data"]["id"].as_str().unwrap());
    OneEntry {
        app,
        _outbox: outbox,
        ana,
        eve,
        calendar,
        entry,
    }
}

#[tokio::test]
async fn a_change_on_an_older_version_is_refused_with_the_teammates_change() {
    let OneEntry {
        app,
        ana,
        eve,
        calendar,
        entry,
        ..
    } = one_entry().await;

    // Both read the entry at the same version.
    let (status, _, read) = send(&app, &ana, Method::GET, &calendar, None, None).await;
    assert_eq!(status, 200, "{read}");
    let version = read["data"]["entries"][0]["version"].as_i64().unwrap();
    let seen = format!("\"{version}\"");

    // Eve saves first, at the version she read.
    let eves = json!({ "title": "Teaser (Eve)", "caption": "Eve's caption" });
    let (status, etag, saved) =
        send(&app, &eve, Method::PATCH, &entry, Some(&seen), Some(&eves)).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["data"]["version"], version + 1);
    assert_eq!(etag, Some(format!("\"{}\"", version + 1)));

    // Ana saves on the version she read: refused, with Eve's change.
    let anas = json!({ "title": "Teaser (Ana)" });
    let (status, _, refused) =
        send(&app, &ana, Method::PATCH, &entry, Some(&seen), Some(&anas)).await;
    assert_eq!(status, 412, "{refused}");
    let error = &refused["error"];
    assert_eq!(error["code"], "EDIT_CONFLICT");
    assert_eq!(error["details"]["current"]["title"], "Teaser (Eve)");
    assert_eq!(error["details"]["current"]["caption"], "Eve's caption");
    assert_eq!(error["details"]["current"]["version"], version + 1);
    assert_eq!(error["details"]["changedBy"]["userId"], eve.id.to_string());
    assert_eq!(error["details"]["changedBy"]["email"], eve.email);
    assert_eq!(
        error["details"]["changedAt"],
        error["details"]["current"]["updatedAt"]
    );

    // A weak tag never matches; `*` matches whatever the version.
    let weak = format!("W/\"{}\"", version + 1);
    let (status, _, _) = send(&app, &ana, Method::PATCH, &entry, Some(&weak), Some(&anas)).await;
    assert_eq!(status, 412);
    let (_, _, read) = send(&app, &ana, Method::GET, &calendar, None, None).await;
    assert_eq!(
        read["data"]["entries"][0]["title"], "Teaser (Eve)",
        "nothing refused was saved"
    );

    // Keeping hers on purpose: at the version the conflict named, her change is saved.
    let now = format!("\"{}\"", version + 1);
    let (status, _, kept) = send(&app, &ana, Method::PATCH, &entry, Some(&now), Some(&anas)).await;
    assert_eq!(status, 200, "{kept}");
    assert_eq!(kept["data"]["title"], "Teaser (Ana)");
    assert_eq!(
        kept["data"]["caption"], "Eve's caption",
        "a field she left is Eve's"
    );

    // Without If-Match (a client of the seed), the last change wins.
    let (status, _, last) = send(&app, &eve, Method::PATCH, &entry, None, Some(&eves)).await;
    assert_eq!(status, 200, "{last}");
    assert_eq!(last["data"]["title"], "Teaser (Eve)");
}

#[tokio::test]
async fn of_two_changes_racing_on_one_version_exactly_one_is_saved() {
    let OneEntry {
        app,
        ana,
        eve,
        calendar,
        entry,
        ..
    } = one_entry().await;
    for round in 0..10 {
        let (_, _, read) = send(&app, &ana, Method::GET, &calendar, None, None).await;
        let tag = format!("\"{}\"", read["data"]["entries"][0]["version"]);
        let (anas, eves) = (
            json!({ "title": format!("Ana {round}") }),
            json!({ "title": format!("Eve {round}") }),
        );
        let (a, e) = tokio::join!(
            send(&app, &ana, Method::PATCH, &entry, Some(&tag), Some(&anas)),
            send(&app, &eve, Method::PATCH, &entry, Some(&tag), Some(&eves)),
        );
        let mut statuses = [a.0, e.0];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 412], "round {round}: {} / {}", a.2, e.2);
        let winner = if a.0 == 200 { &a.2 } else { &e.2 };
        let (_, _, read) = send(&app, &ana, Method::GET, &calendar, None, None).await;
        assert_eq!(
            read["data"]["entries"][0]["title"], winner["data"]["title"],
            "round {round}: the saved change is the one answered 200"
        );
    }
}

#[tokio::test]
async fn a_calendar_renamed_on_an_older_version_is_refused() {
    let OneEntry {
        app,
        ana,
        eve,
        calendar,
        entry,
        ..
    } = one_entry().await;
    let (status, etag, read) = send(&app, &ana, Method::GET, &calendar, None, None).await;
    assert_eq!(status, 200, "{read}");
    let seen = etag.expect("a calendar answers its ETag");
    assert_eq!(seen, format!("\"{}\"", read["data"]["calendar"]["version"]));

    // An entry's change changes its calendar's version.
    let edit = json!({ "title": "Changed" });
    let (status, _, _) = send(&app, &eve, Method::PATCH, &entry, None, Some(&edit)).await;
    assert_eq!(status, 200);
    let rename = json!({ "name": "Launch week" });
    let (status, _, refused) = send(
        &app,
        &ana,
        Method::PATCH,
        &calendar,
        Some(&seen),
        Some(&rename),
    )
    .await;
    assert_eq!(status, 412, "{refused}");
    assert_eq!(refused["error"]["code"], "EDIT_CONFLICT");
    assert_eq!(refused["error"]["details"]["current"]["name"], "Launch");
    assert_eq!(
        refused["error"]["details"]["changedBy"]["userId"],
        eve.id.to_string()
    );
    let current = refused["error"]["details"]["current"]["version"].to_string();
    let (status, etag, renamed) = send(
        &app,
        &ana,
        Method::PATCH,
        &calendar,
        Some(&format!("\"{current}\"")),
        Some(&rename),
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["data"]["name"], "Launch week");
    assert_eq!(
        etag,
        Some(format!("\"{}\"", renamed["data"]["version"])),
        "the answer's ETag is the new version"
    );
}
