//! A channel's posting slots (issue 57): set with an IANA zone, answered sorted from Monday
//! and each once, read back as kept; a zone or time that is not one refused naming its
//! field; another user's channel not found. (Which key scope each takes is
//! `api_keys::scopes`'s, for every operation.)

use reqwest::Method;
use serde_json::{Value, json};

use super::setup;
use crate::helpers::fake_platforms::TIKTOK_OPEN_ID;

#[tokio::test]
async fn slots_are_kept_sorted_once_and_read_back_in_their_zone() {
    let s = setup().await;
    let channel = s
        .connect("tiktok", TIKTOK_OPEN_ID, "tt-token", None, 86_400)
        .await;
    let path = format!("/v1/channels/{channel}/slots");
    let (status, unset) = s.app.get_json(s.user, &path).await;
    assert_eq!(status, 200, "{unset}");
    // Without slots, TikTok's general best hour of each weekday is suggested.
    let suggested = [
        "mon 08", "tue 14", "wed 14", "thu 14", "fri 08", "sat 09", "sun 09",
    ]
    .map(|slot| {
        let (weekday, hour) = slot.split_once(' ').unwrap();
        json!({ "weekday": weekday, "time": format!("{hour}:00") })
    });
    assert_eq!(
        unset["data"],
        json!({ "timezone": "UTC", "slots": [], "suggested": suggested })
    );

    let body = json!({ "timezone": "Europe/Madrid", "slots": [
        { "weekday": "fri", "time": "18:30" },
        { "weekday": "mon", "time": "09:00" },
        { "weekday": "mon", "time": "07:45" },
        { "weekday": "fri", "time": "18:30" },
    ] });
    let (status, kept) = s.app.send_json(Method::PUT, s.user, &path, &body).await;
    assert_eq!(status, 200, "{kept}");
    let expected = json!({ "timezone": "Europe/Madrid", "slots": [
        { "weekday": "mon", "time": "07:45" },
        { "weekday": "mon", "time": "09:00" },
        { "weekday": "fri", "time": "18:30" },
    ], "suggested": [] });
    assert_eq!(kept["data"], expected);
    let (status, read) = s.app.get_json(s.user, &path).await;
    assert_eq!(status, 200);
    assert_eq!(read["data"], expected);

    // Replaced whole: an empty list leaves none.
    let (status, emptied) = s
        .app
        .send_json(
            Method::PUT,
            s.user,
            &path,
            &json!({ "timezone": "UTC", "slots": [] }),
        )
        .await;
    assert_eq!(status, 200, "{emptied}");
    assert_eq!(emptied["data"]["slots"], json!([]));
}

#[tokio::test]
async fn a_zone_or_time_that_is_not_one_is_refused_naming_it_and_others_channels_are_not_found() {
    let s = setup().await;
    let channel = s
        .connect("tiktok", TIKTOK_OPEN_ID, "tt-token", None, 86_400)
        .await;
    let path = format!("/v1/channels/{channel}/slots");
    let put = |body: Value| {
        let path = path.clone();
        let s = &s;
        async move { s.app.send_json(Method::PUT, s.user, &path, &body).await }
    };
    let (status, refused) = put(json!({ "timezone": "Mars/Olympus", "slots": [] })).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["details"]["field"], "timezone");
    assert_eq!(
        refused["error"]["message"],
        "timezone: `Mars/Olympus` is not an IANA time zone"
    );
    let (status, refused) = put(json!({ "timezone": "UTC",
        "slots": [{ "weekday": "mon", "time": "09:00" }, { "weekday": "tue", "time": "24:00" }] }))
    .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["code"], "VALIDATION_FAILED", "{refused}");
    assert!(refused.to_string().contains("time"), "{refused}");
    let (status, refused) =
        put(json!({ "timezone": "UTC", "slots": [{ "weekday": "funday", "time": "09:00" }] }))
            .await;
    assert_eq!(status, 400, "{refused}");
    let too_many: Vec<Value> = (0..169)
        .map(|i| json!({ "weekday": "mon", "time": format!("{:02}:{:02}", i / 60 % 24, i % 60) }))
        .collect();
    let (status, refused) = put(json!({ "timezone": "UTC", "slots": too_many })).await;
    assert_eq!(status, 400, "{refused}");
    let (_, read) = s.app.get_json(s.user, &path).await;
    assert_eq!(read["data"]["slots"], json!([]), "nothing refused was kept");

    // Another user's channel: not found, read or written.
    let (other, _) = s.another_user().await;
    let (status, _) = s.app.get_json(other, &path).await;
    assert_eq!(status, 404);
    let (status, _) = s
        .app
        .send_json(
            Method::PUT,
            other,
            &path,
            &json!({ "timezone": "UTC", "slots": [] }),
        )
        .await;
    assert_eq!(status, 404);
}
