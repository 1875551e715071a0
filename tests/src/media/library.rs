//! Media you manage (issue 84): a video's length and frame read from its file, its poster
//! frame kept and served; the library searched by words and tags, each medium saying where
//! it is used; a medium entries still to go out name kept from deletion, naming them.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{fetch, multipart, png, video};
use crate::helpers::TestApp;
use crate::publishing::launch_calendar;

/// A JPEG of `width`×`height` (what the web app sends as a poster frame).
fn jpeg(width: u32, height: u32) -> Vec<u8> {
    use almanac_shared::media::{MediaFormat, image};
    image::jpeg_copy(MediaFormat::Png, &png(width, height, 0)).unwrap()
}

/// `POST /v1/media/{id}/poster` with `bytes` as `content_type`: status and answer.
async fn poster(
    app: &TestApp,
    user: Uuid,
    id: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(&format!("/v1/media/{id}/poster")))
        .bearer_auth(app.token(user))
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn uploaded(app: &TestApp, user: Uuid, name: &str, bytes: &[u8]) -> Value {
    let declared = if name.ends_with(".mp4") {
        "video/mp4"
    } else {
        "image/png"
    };
    let (status, answer) = app
        .upload(user, multipart(name, declared, bytes, None))
        .await;
    assert_eq!(status, 201, "{name}: {answer}");
    answer["data"].clone()
}

/// A video says its length and its frame as shown (read from its `moov`, wherever it is
/// in the file); an MP4 without one is refused at the file. Its poster frame is kept,
/// served as a JPEG, replaced in place and deleted with it; a picture takes none, and
/// anything but a JPEG is refused at the body.
#[tokio::test]
async fn a_video_says_its_length_and_frame_and_keeps_the_poster_frame_taken_from_it() {
    let app = crate::helpers::spawn_app().await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let clip = uploaded(&app, alice, "clip.mp4", &video(95_500, 1080, 1920)).await;
    assert_eq!(
        (
            &clip["kind"],
            &clip["durationMs"],
            &clip["width"],
            &clip["height"]
        ),
        (&json!("video"), &json!(95_500), &json!(1080), &json!(1920)),
        "{clip}"
    );
    assert_eq!(clip["posterUrl"], Value::Null);
    let picture = uploaded(&app, alice, "cat.png", &png(40, 20, 0)).await;
    assert_eq!(picture["durationMs"], Value::Null);
    assert_eq!(
        (&picture["width"], &picture["height"]),
        (&json!(40), &json!(20))
    );

    let mut headless = almanac_tests::mp4::FILE_TYPE.to_vec();
    headless.extend_from_slice(&almanac_tests::mp4::boxed(b"mdat", &[0; 2048]));
    let (status, refused) = app
        .upload(alice, multipart("broken.mp4", "video/mp4", &headless, None))
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["details"]["field"], "file", "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("moov"),
        "{refused}"
    );

    let id = clip["id"].as_str().unwrap();
    let frame = jpeg(64, 36);
    let (status, kept) = poster(&app, alice, id, "image/jpeg", frame.clone()).await;
    assert_eq!(status, 200, "{kept}");
    let (status, kind, bytes) = fetch(kept["data"]["posterUrl"].as_str().unwrap()).await;
    assert_eq!((status, kind.as_deref()), (200, Some("image/jpeg")));
    assert_eq!(bytes, frame);
    let (_, list) = app.get_json(alice, "/v1/media").await;
    let listed = &list["data"]["items"][1];
    assert_eq!(listed["id"], id);
    assert!(listed["posterUrl"].is_string(), "{listed}");
    // Taken again: the new frame replaces the old, one object kept.
    let again = jpeg(32, 18);
    let (status, replaced) = poster(&app, alice, id, "image/jpeg", again.clone()).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(
        fetch(replaced["data"]["posterUrl"].as_str().unwrap())
            .await
            .2,
        again
    );
    let files = app.stored_files();
    assert_eq!(
        files.iter().filter(|f| f.ends_with(".poster.jpg")).count(),
        1,
        "{files:?}"
    );

    for (content_type, bytes, field) in [
        ("image/jpeg", png(8, 8, 0), "body"),
        ("image/jpeg", b"\xFF\xD8\xFF not really".to_vec(), "body"),
    ] {
        let (status, answer) = poster(&app, alice, id, content_type, bytes).await;
        assert_eq!(
            (status, &answer["error"]["details"]["field"]),
            (422, &json!(field)),
            "{answer}"
        );
    }
    let (status, answer) = poster(
        &app,
        alice,
        picture["id"].as_str().unwrap(),
        "image/jpeg",
        jpeg(8, 8),
    )
    .await;
    assert_eq!(
        (status, &answer["error"]["details"]["field"]),
        (422, &json!("id")),
        "{answer}"
    );
    assert_eq!(
        poster(&app, alice, id, "image/png", png(8, 8, 0)).await.0,
        415
    );
    assert_eq!(poster(&app, bob, id, "image/jpeg", jpeg(8, 8)).await.0, 404);

    // Deleted with its video: nothing of either left.
    assert_eq!(app.delete(alice, &format!("/v1/media/{id}")).await, 204);
    let files = app.stored_files();
    assert!(files.iter().all(|f| !f.starts_with(id)), "{files:?}");
}

/// The library narrowed by words (in a name, an alternative text or a tag; `%` and `_`
/// are letters) and by a tag; a filter out of bounds is 400.
async fn searched_by_words_and_tags(app: &TestApp, alice: Uuid) {
    let names = |list: &Value| -> Vec<String> {
        list["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["fileName"].as_str().unwrap().to_owned())
            .collect()
    };
    for (query, expected) in [
        ("q=DOG", vec!["walk.mp4", "garden.png"]),
        ("q=Garden", vec!["garden.png"]),
        ("q=walk", vec!["walk.mp4"]),
        ("q=100%25", vec!["garden.png"]),
        ("q=_on_", vec!["cat_on_sofa.png"]),
        ("q=a_b", vec![]),
        ("tag=dogs", vec!["walk.mp4", "garden.png"]),
        ("tag=dog", vec![]),
        ("tag=dogs&q=garden", vec!["garden.png"]),
    ] {
        let (status, list) = app.get_json(alice, &format!("/v1/media?{query}")).await;
        assert_eq!(status, 200, "{query}: {list}");
        assert_eq!(names(&list), expected, "{query}");
    }
    for query in [
        "q=%07".to_owned(),
        "tag=".to_owned(),
        format!("q={}", "x".repeat(201)),
    ] {
        let (status, answer) = app.get_json(alice, &format!("/v1/media?{query}")).await;
        assert_eq!(status, 400, "{query}: {answer}");
    }
}

/// The library searched (`searched_by_words_and_tags`); each medium lists the live entries
/// naming it. A medium an entry still to go out names is kept, the refusal naming the
/// entry; once that entry is published it may go.
#[tokio::test]
async fn the_library_is_searched_says_where_media_are_used_and_keeps_a_used_one() {
    let app = crate::helpers::spawn_app().await;
    let alice = Uuid::now_v7();
    let cat = uploaded(&app, alice, "cat_on_sofa.png", &png(40, 20, 0)).await;
    let dog = uploaded(&app, alice, "garden.png", &png(40, 20, 5)).await;
    let clip = uploaded(&app, alice, "walk.mp4", &video(10_000, 1920, 1080)).await;
    let id = |item: &Value| item["id"].as_str().unwrap().to_owned();
    for (item, patch) in [
        (&cat, json!({ "tags": ["cats", "home"] })),
        (
            &dog,
            json!({ "altText": "A dog in the garden, 100% happy", "tags": ["dogs"] }),
        ),
        (&clip, json!({ "tags": ["dogs", "walks"] })),
    ] {
        let path = format!("/v1/media/{}", id(item));
        let (status, answer) = app.send_json(Method::PATCH, alice, &path, &patch).await;
        assert_eq!(status, 200, "{answer}");
    }
    searched_by_words_and_tags(&app, alice).await;

    let calendar = launch_calendar(&app, alice).await;
    let entries = format!("/v1/calendars/{calendar}/entries");
    let mut named = Vec::new();
    for (title, date) in [("Sofa day", "2030-01-09"), ("Cat again", "2030-01-08")] {
        let body =
            json!({ "channel": "instagram", "date": date, "title": title, "mediaIds": [id(&cat)] });
        let (status, entry) = app.send_json(Method::POST, alice, &entries, &body).await;
        assert_eq!(status, 201, "{entry}");
        named.push(entry["data"]["id"].as_str().unwrap().to_owned());
    }
    let (_, list) = app.get_json(alice, "/v1/media?tag=cats").await;
    let listed = &list["data"]["items"][0];
    assert_eq!(listed["usedByCount"], 2, "{listed}");
    let used: Vec<(&str, &str)> = listed["usedBy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["title"].as_str().unwrap(), u["entryId"].as_str().unwrap()))
        .collect();
    assert_eq!(
        used,
        [
            ("Cat again", named[1].as_str()),
            ("Sofa day", named[0].as_str())
        ]
    );
    assert_eq!(listed["usedBy"][0]["calendarId"], calendar.to_string());
    assert_eq!(listed["usedBy"][0]["published"], false);
    let (_, unused) = app.get_json(alice, "/v1/media?q=garden").await;
    assert_eq!(unused["data"]["items"][0]["usedByCount"], 0);
    assert_eq!(unused["data"]["items"][0]["usedBy"], json!([]));

    let path = format!("/v1/media/{}", id(&cat));
    let (status, refused) = app
        .request_json(
            Method::DELETE,
            app.url(&path),
            Some(&app.token(alice)),
            None,
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    let error = &refused["error"];
    assert_eq!(error["code"], "MEDIA_IN_USE");
    assert_eq!(error["details"]["usedByCount"], 2, "{refused}");
    assert_eq!(
        error["details"]["usedBy"][0]["title"], "Cat again",
        "{refused}"
    );
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("“Cat again”") && message.contains("“Sofa day”"),
        "{message}"
    );

    // One entry drops it and the other goes out: the medium may go, the published entry
    // loses it.
    let (status, answer) = app
        .send_json(
            Method::PATCH,
            alice,
            &format!("{entries}/{}", named[0]),
            &json!({ "mediaIds": [] }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let intent = super::scheduled_post(&app, alice, calendar, named[1].parse().unwrap()).await;
    assert_eq!(
        app.request_json(
            Method::DELETE,
            app.url(&path),
            Some(&app.token(alice)),
            None
        )
        .await
        .1["error"]["details"]["usedByCount"],
        1
    );
    sqlx::query("update publish_intents set status = 'published' where id = $1")
        .bind(intent)
        .execute(&app.db)
        .await
        .unwrap();
    let (_, list) = app.get_json(alice, "/v1/media?tag=cats").await;
    assert_eq!(list["data"]["items"][0]["usedBy"][0]["published"], true);
    assert_eq!(app.delete(alice, &path).await, 204);
    let media_ids: Vec<Uuid> =
        sqlx::query_scalar("select media_ids from calendar_entries where id = $1")
            .bind(named[1].parse::<Uuid>().unwrap())
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(media_ids, Vec::<Uuid>::new());
}
