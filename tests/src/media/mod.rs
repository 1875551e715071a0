//! Uploaded media (issue 55): the format read from the bytes, a PNG's JPEG copy, served
//! by signed addresses that a forged or expired token cannot open, the size limits read no
//! further than needed, the owner's quota, entries naming only their owner's media, and
//! media a scheduled post uses kept from deletion.

mod library;
mod limits;
mod s3;

use almanac_shared::media::{Copy, MediaUrlKey};
use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, media_dir, spawn_app};
use crate::publishing::launch_calendar;

const BOUNDARY: &str = "almanac-test-boundary-7MA4YWxkTrZu0gW";

/// A PNG of `width`×`height`, half red and half transparent, padded with a text chunk of
/// `padding` bytes (a larger file of the same picture).
pub(crate) fn png(width: u32, height: u32, padding: usize) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        if padding > 0 {
            encoder
                .add_text_chunk("Comment".into(), "x".repeat(padding))
                .unwrap();
        }
        let mut writer = encoder.write_header().unwrap();
        let pixels: Vec<u8> = (0..width * height)
            .flat_map(|i| {
                if i % width < width / 2 {
                    [200, 30, 30, 255]
                } else {
                    [0, 0, 0, 0]
                }
            })
            .collect();
        writer.write_image_data(&pixels).unwrap();
    }
    out
}

/// A 30-second portrait video, 1080×1920.
pub(crate) fn mp4() -> Vec<u8> {
    video(30_000, 1080, 1920)
}

pub(crate) use almanac_tests::mp4::video;

/// A `multipart/form-data` body with `file` (named `name`, declared `declared`) and
/// `altText` when given.
pub(crate) fn multipart(name: &str, declared: &str, bytes: &[u8], alt: Option<&str>) -> Vec<u8> {
    let mut body = Vec::new();
    if let Some(alt) = alt {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"altText\"\r\n\r\n{alt}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {declared}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

impl TestApp {
    /// `POST /v1/media` as `user` with `body` (a [`multipart`] body): status and answer.
    pub(crate) async fn upload(&self, user: Uuid, body: Vec<u8>) -> (u16, Value) {
        let response = self
            .client
            .post(self.url("/v1/media"))
            .bearer_auth(self.token(user))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A PNG uploaded by `user`: the answer's `data`.
    pub(crate) async fn uploaded_png(&self, user: Uuid, padding: usize) -> Value {
        let (status, answer) = self
            .upload(
                user,
                multipart("cat.png", "image/png", &png(40, 20, padding), None),
            )
            .await;
        assert_eq!(status, 201, "{answer}");
        answer["data"].clone()
    }

    /// The files in the app's media directory.
    fn stored_files(&self) -> Vec<String> {
        let mut files = Vec::new();
        let mut dirs = vec![media_dir(&self.db_name)];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry.file_type().unwrap().is_dir() {
                    dirs.push(entry.path());
                } else {
                    files.push(entry.file_name().to_string_lossy().into_owned());
                }
            }
        }
        files.sort();
        files
    }
}

/// A scheduled Instagram post of `entry` (an intent as a publish leaves it); its id.
pub(crate) async fn scheduled_post(app: &TestApp, user: Uuid, calendar: Uuid, entry: Uuid) -> Uuid {
    let intent = Uuid::now_v7();
    sqlx::query(
        "insert into publish_intents (id, user_id, calendar_id, entry_id, channel, mode, dry_run,
                                      timing, status)
         values ($1, $2, $3, $4, 'instagram', 'publish', false, 'scheduled', 'scheduled')",
    )
    .bind(intent)
    .bind(user)
    .bind(calendar)
    .bind(entry)
    .execute(&app.db)
    .await
    .unwrap();
    intent
}

async fn fetch(url: &str) -> (u16, Option<String>, Vec<u8>) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, kind, response.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn an_upload_is_read_from_its_bytes_served_by_its_signed_address_and_deleted() {
    let app = spawn_app().await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let picture = png(40, 20, 0);
    // Named and declared as a JPEG: the bytes say PNG.
    let (status, answer) = app
        .upload(
            alice,
            multipart(
                "holiday.jpg",
                "image/jpeg",
                &picture,
                Some("A red half, and nothing"),
            ),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    let media = answer["data"].clone();
    assert_eq!(media["mime"], "image/png");
    assert_eq!(media["kind"], "photo");
    assert_eq!(media["bytes"], picture.len());
    assert_eq!(
        (media["width"].clone(), media["height"].clone()),
        (json!(40), json!(20))
    );
    assert_eq!(media["altText"], "A red half, and nothing");
    assert_eq!(media["fileName"], "holiday.jpg");
    let id = media["id"].as_str().unwrap().to_owned();

    // The address serves the bytes as uploaded, and the JPEG copy as a JPEG.
    let (status, kind, bytes) = fetch(media["url"].as_str().unwrap()).await;
    assert_eq!((status, kind.as_deref()), (200, Some("image/png")));
    assert_eq!(bytes, picture);
    let (status, kind, jpeg) = fetch(media["jpegUrl"].as_str().unwrap()).await;
    assert_eq!((status, kind.as_deref()), (200, Some("image/jpeg")));
    assert_eq!(&jpeg[..3], &[0xFF, 0xD8, 0xFF]);
    assert_eq!(app.stored_files(), [id.clone(), format!("{id}.jpg")]);

    // Listed for its owner, with the bytes kept; nobody else sees it.
    let (status, list) = app.get_json(alice, "/v1/media").await;
    assert_eq!(status, 200);
    assert_eq!(list["data"]["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"]["items"][0]["id"], id.as_str());
    assert_eq!(list["data"]["usedBytes"], picture.len());
    assert_eq!(list["data"]["maxBytes"], 1u64 << 30);
    let (_, theirs) = app.get_json(bob, "/v1/media").await;
    assert_eq!(theirs["data"]["items"], json!([]));
    assert_eq!(app.delete(bob, &format!("/v1/media/{id}")).await, 404);

    // A token edited, signed with another key, or expired opens nothing.
    let url = media["url"].as_str().unwrap();
    let token = url.rsplit('/').next().unwrap();
    let base = url.trim_end_matches(token);
    let mut edited = token.to_owned().into_bytes();
    edited[3] = if edited[3] == b'A' { b'B' } else { b'A' };
    let key = MediaUrlKey::derive(app.settings.jwt_secret.expose().as_bytes());
    let media_id: Uuid = id.parse().unwrap();
    let expired = key.token(media_id, Copy::Original, Utc::now() - Duration::seconds(1));
    let foreign = MediaUrlKey::derive(b"another deployment's secret").token(
        media_id,
        Copy::Original,
        Utc::now() + Duration::hours(1),
    );
    let fresh = key.token(media_id, Copy::Original, Utc::now() + Duration::hours(1));
    for bad in [
        String::from_utf8(edited).unwrap(),
        expired,
        foreign,
        "nope".into(),
    ] {
        let (status, _, _) = fetch(&format!("{base}{bad}")).await;
        assert_eq!(status, 404, "{bad}");
    }
    assert_eq!(fetch(&format!("{base}{fresh}")).await.0, 200);

    // Deleted: gone from the list, the store and every address.
    assert_eq!(app.delete(alice, &format!("/v1/media/{id}")).await, 204);
    assert_eq!(fetch(&format!("{base}{fresh}")).await.0, 404);
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
    let (_, list) = app.get_json(alice, "/v1/media").await;
    assert_eq!(list["data"]["items"], json!([]));
    assert_eq!(list["data"]["usedBytes"], 0);
}

/// A media's alternative text and tags change; the next publish of an entry naming it sends
/// the new text. A tag that is empty, too long or more than one line is refused at the tag,
/// another workspace's media is 404.
#[tokio::test]
async fn alt_text_and_tags_change_and_the_next_publish_sends_the_new_text() {
    let s = crate::publishing::setup().await;
    s.connect_both().await;
    let media = s.app.uploaded_png(s.user, 0).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/media/{media}");
    let patch = json!({ "altText": "  A cat asleep on a sofa ", "tags": ["cats", " spring "] });
    let (status, changed) = s.app.send_json(Method::PATCH, s.user, &path, &patch).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["data"]["altText"], "A cat asleep on a sofa");
    assert_eq!(changed["data"]["tags"], json!(["cats", "spring"]));
    // Only what is given changes.
    let (_, kept) = s
        .app
        .send_json(Method::PATCH, s.user, &path, &json!({ "tags": [] }))
        .await;
    assert_eq!(kept["data"]["altText"], "A cat asleep on a sofa", "{kept}");
    assert_eq!(kept["data"]["tags"], json!([]));
    // Out of the document's bounds (400 at the tag), or not one line of plain text (422).
    for (tags, status, field) in [
        (json!([""]), 400, "tags[0]"),
        (json!(["cats", "x".repeat(41)]), 400, "tags[1]"),
        (json!(["line\nbreak"]), 422, "tags"),
    ] {
        let (answered, refused) = s
            .app
            .send_json(Method::PATCH, s.user, &path, &json!({ "tags": tags }))
            .await;
        assert_eq!(answered, status, "{refused}");
        assert_eq!(refused["error"]["details"]["field"], field, "{refused}");
    }
    let (stranger, _) = s.another_user().await;
    let (status, _) = s
        .app
        .send_json(
            Method::PATCH,
            stranger,
            &path,
            &json!({ "altText": "Mine" }),
        )
        .await;
    assert_eq!(status, 404);

    let entry = s
        .entry(crate::publishing::Entry {
            media: None,
            ..crate::publishing::Entry::on("instagram", "Our cat")
        })
        .await;
    sqlx::query("update calendar_entries set media_ids = array[$1::uuid] where id = $2")
        .bind(&media)
        .bind(entry)
        .execute(&s.app.db)
        .await
        .unwrap();
    let (status, dry) = s.publish(json!({ "entryIds": [entry] })).await;
    assert_eq!(status, 200, "{dry}");
    let post = &dry["data"]["intents"][0]["payload"]["post"];
    assert_eq!(post["upload"]["altText"], "A cat asleep on a sofa", "{dry}");
}

#[tokio::test]
async fn bytes_that_are_no_picture_or_video_are_refused_at_the_file_field() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    for (name, bytes) in [
        (
            "notes.png",
            b"just some text, not a picture at all".to_vec(),
        ),
        ("tiny.jpg", vec![0xFF, 0xD8]),
        (
            "anim.gif",
            b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00".to_vec(),
        ),
    ] {
        let (status, answer) = app
            .upload(user, multipart(name, "image/png", &bytes, None))
            .await;
        assert_eq!(status, 422, "{name}: {answer}");
        assert_eq!(answer["error"]["code"], "VALIDATION_FAILED");
        assert_eq!(answer["error"]["details"]["field"], "file", "{answer}");
    }
    // A PNG whose header holds but whose pixels do not.
    let mut broken = png(40, 20, 0);
    broken.truncate(40);
    let (status, answer) = app
        .upload(user, multipart("cut.png", "image/png", &broken, None))
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["details"]["field"], "file");
    // No file part at all.
    let body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"altText\"\r\n\r\nhi\r\n--{BOUNDARY}--\r\n"
    );
    let (status, answer) = app.upload(user, body.into_bytes()).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["details"]["field"], "file");
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
    let (_, list) = app.get_json(user, "/v1/media").await;
    assert_eq!(list["data"]["items"], json!([]));
}

#[tokio::test]
async fn entries_name_their_owner_s_media_and_media_a_scheduled_post_uses_is_kept() {
    let app = spawn_app().await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let calendar = launch_calendar(&app, alice).await;
    let mine = app.uploaded_png(alice, 0).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = app.uploaded_png(alice, 10).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let theirs = app.uploaded_png(bob, 0).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let entries = format!("/v1/calendars/{calendar}/entries");
    let (status, answer) = app
        .send_json(
            Method::POST,
            alice,
            &entries,
            &json!({ "channel": "instagram", "date": "2030-01-08", "title": "Cat", "mediaIds": [mine, theirs] }),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "VALIDATION_FAILED");
    assert_eq!(answer["error"]["details"]["field"], "mediaIds");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&theirs),
        "{answer}"
    );

    let (status, entry) = app
        .send_json(
            Method::POST,
            alice,
            &entries,
            &json!({ "channel": "instagram", "date": "2030-01-08", "title": "Cat", "mediaIds": [second, mine] }),
        )
        .await;
    assert_eq!(status, 201, "{entry}");
    assert_eq!(
        entry["data"]["mediaIds"],
        json!([second, mine]),
        "kept in order"
    );
    let entry_id = entry["data"]["id"].as_str().unwrap().to_owned();
    let entry_path = format!("{entries}/{entry_id}");
    let (status, answer) = app
        .send_json(
            Method::PATCH,
            alice,
            &entry_path,
            &json!({ "mediaIds": [theirs] }),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["details"]["field"].clone()),
        (422, json!("mediaIds"))
    );
    // More media than any platform takes in one post (TikTok's 35).
    let too_many: Vec<String> = (0..36).map(|_| Uuid::now_v7().to_string()).collect();
    let (status, answer) = app
        .send_json(
            Method::PATCH,
            alice,
            &entry_path,
            &json!({ "mediaIds": too_many }),
        )
        .await;
    assert_eq!(status, 400, "{answer}");

    // A scheduled post of the entry keeps its media from deletion.
    let intent = scheduled_post(&app, alice, calendar, entry_id.parse().unwrap()).await;
    let (status, answer) = app
        .request_json(
            Method::DELETE,
            app.url(&format!("/v1/media/{mine}")),
            Some(&app.token(alice)),
            None,
        )
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "MEDIA_IN_USE");

    // Once it went out, the media may go; the entry that named it no longer does.
    sqlx::query("update publish_intents set status = 'published' where id = $1")
        .bind(intent)
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(app.delete(alice, &format!("/v1/media/{mine}")).await, 204);
    let (_, calendar_now) = app
        .get_json(alice, &format!("/v1/calendars/{calendar}"))
        .await;
    let saved = calendar_now["data"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == entry_id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(saved["mediaIds"], json!([second]));
}
