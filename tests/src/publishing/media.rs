//! Publishing uploaded media: a platform that pulls fetches the post's media from its
//! signed address once per post, in the copy it takes (a PNG reaches Instagram as its JPEG
//! copy); LinkedIn's image is read from the media store, never through the address; an
//! upload no copy of which a platform takes is refused at `media` before anything is sent.

use serde_json::json;
use uuid::Uuid;

use super::{Entry, setup};
use crate::helpers::fake_platforms::{IG_USER, LI_MEMBER};
use crate::media::{mp4, multipart, png};

#[tokio::test]
async fn a_png_reaches_instagram_as_its_jpeg_copy_fetched_once_and_linkedin_from_the_store() {
    let s = setup().await;
    s.connect("instagram", IG_USER, "ig-token", None, 5_184_000)
        .await;
    s.connect("linkedin", LI_MEMBER, "li-token", None, 5_184_000)
        .await;
    let picture = png(40, 20, 0);
    let (status, uploaded) = s
        .app
        .upload(
            s.user,
            multipart("cat.png", "image/png", &picture, Some("A red cat")),
        )
        .await;
    assert_eq!(status, 201, "{uploaded}");
    let media: Uuid = uploaded["data"]["id"].as_str().unwrap().parse().unwrap();
    let s = &s;
    let with_media = |channel| {
        let entry = Entry {
            media: None,
            ..Entry::on(channel, "Our cat")
        };
        async move {
            let id = s.entry(entry).await;
            sqlx::query("update calendar_entries set media_ids = array[$1] where id = $2")
                .bind(media)
                .bind(id)
                .execute(&s.app.db)
                .await
                .unwrap();
            id
        }
    };
    let (on_instagram, on_linkedin) = (with_media("instagram").await, with_media("linkedin").await);
    let (status, answer) = s
        .publish(json!({ "entryIds": [on_instagram, on_linkedin], "dryRun": false, "when": "now" }))
        .await;
    assert_eq!(status, 200, "{answer}");
    for intent in answer["data"]["intents"].as_array().unwrap() {
        s.settled(intent["id"].as_str().unwrap(), "published").await;
    }

    // Instagram fetched the JPEG copy from the post's signed address, once.
    let pulled = s.fake.with(|f| f.pulled.clone());
    assert_eq!(pulled.len(), 1, "{pulled:?}");
    assert_eq!(pulled[0].status, 200);
    assert_eq!(pulled[0].content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(&pulled[0].bytes[..3], &[0xFF, 0xD8, 0xFF]);
    let posts = s.fake.posts();
    let container = posts.iter().find(|p| p.platform == "instagram").unwrap();
    assert_eq!(container.body["image_url"], pulled[0].url.as_str());

    // LinkedIn got the PNG it takes, read from the store: the bytes uploaded, and with
    // the upload's alternative text.
    let uploads: Vec<Option<usize>> = s.fake.with(|f| f.li_images.values().cloned().collect());
    assert_eq!(uploads, [Some(picture.len())]);
    let created: Vec<serde_json::Value> = s
        .fake
        .calls_to("/rest/posts")
        .iter()
        .filter(|c| c.method == "POST")
        .map(|c| serde_json::from_str(&c.body).unwrap())
        .collect();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["content"]["media"]["altText"], "A red cat");

    // Used by published posts only: the media may go now.
    assert_eq!(
        s.app.delete(s.user, &format!("/v1/media/{media}")).await,
        204
    );
}

#[tokio::test]
async fn an_upload_a_platform_takes_in_no_copy_is_refused_at_media_in_the_dry_run() {
    let s = setup().await;
    s.connect("linkedin", LI_MEMBER, "li-token", None, 5_184_000)
        .await;
    let (status, uploaded) = s
        .app
        .upload(s.user, multipart("clip.mp4", "video/mp4", &mp4(), None))
        .await;
    assert_eq!(status, 201, "{uploaded}");
    assert_eq!(uploaded["data"]["kind"], "video");
    let entry = s
        .entry(Entry {
            media: None,
            ..Entry::on("linkedin", "A clip")
        })
        .await;
    sqlx::query("update calendar_entries set media_ids = array[$1::uuid] where id = $2")
        .bind(uploaded["data"]["id"].as_str().unwrap())
        .bind(entry)
        .execute(&s.app.db)
        .await
        .unwrap();
    let (status, answer) = s.publish(json!({ "entryIds": [entry] })).await;
    assert_eq!(status, 200, "{answer}");
    let intent = &answer["data"]["intents"][0];
    let problems = intent["error"]["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["code"] == "MEDIA_FORMAT_UNSUPPORTED" && p["field"] == "media"),
        "{intent}"
    );
    assert!(s.fake.with(|f| f.pulled.is_empty()));
}
