//! An upload's limits: the format's size, refused as soon as the bytes pass it (the rest
//! is not read, the connection closes); the owner's quota, counted before and while the
//! bytes arrive and again under the owner's lock.

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use super::{BOUNDARY, multipart, png};
use crate::helpers::{TestApp, TestOptions, spawn_app, spawn_app_with};

const MIB: usize = 1024 * 1024;

/// Sends a request declaring `declared` bytes of a PNG's file part over a raw connection,
/// writing until the server answers (or everything was sent); the answer's status and
/// body, and how many body bytes were written before it came.
async fn send_until_answered(app: &TestApp, user: Uuid, declared: usize) -> (u16, Value, usize) {
    let head_part = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n"
    );
    let address = app.address.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /v1/media HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {declared}\r\n\r\n",
        app.token(user)
    );
    let answer = tokio::spawn(async move {
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
        raw
    });
    writer.write_all(head.as_bytes()).await.unwrap();
    let mut first = head_part.into_bytes();
    first.extend_from_slice(&png(8, 8, 0)[..16]);
    writer.write_all(&first).await.unwrap();
    let mut written = first.len();
    let chunk = vec![0u8; 64 * 1024];
    while written + chunk.len() <= declared && !answer.is_finished() {
        if writer.write_all(&chunk).await.is_err() {
            break;
        }
        written += chunk.len();
    }
    let raw = answer.await.unwrap();
    let text = String::from_utf8_lossy(&raw);
    let status: u16 = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    let json = body
        .find('{')
        .and_then(|at| serde_json::from_str(body[at..].trim_end_matches(|c| c != '}')).ok())
        .unwrap_or(Value::Null);
    (status, json, written)
}

#[tokio::test]
async fn an_image_over_8_mib_is_refused_413_without_the_rest_being_read() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let declared = 200 * MIB;
    let (status, answer, written) = send_until_answered(&app, user, declared).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error"]["code"], "MEDIA_TOO_LARGE", "{answer}");
    // The answer came after the 8 MiB limit, long before the 200 MiB declared: what was
    // written past the limit sat in the sockets' buffers.
    assert!(written >= 8 * MIB, "answered after {written} bytes");
    assert!(
        written < 64 * MIB,
        "{written} bytes were written before the answer"
    );
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
    let (_, list) = app.get_json(user, "/v1/media").await;
    assert_eq!(list["data"]["usedBytes"], 0);
}

#[tokio::test]
async fn uploads_past_the_owner_s_quota_are_refused_and_others_are_not() {
    let quota = 300_000;
    let app = spawn_app_with(TestOptions {
        env: vec![("MEDIA_MAX_BYTES_PER_USER", quota.to_string())],
        ..Default::default()
    })
    .await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let picture = png(40, 20, 120_000);
    let upload = || multipart("cat.png", "image/png", &picture, None);
    assert_eq!(app.upload(alice, upload()).await.0, 201);
    assert_eq!(app.upload(alice, upload()).await.0, 201);
    // A third would pass the quota while its bytes arrive.
    let (status, answer) = app.upload(alice, upload()).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "MEDIA_QUOTA_EXCEEDED");
    let (_, list) = app.get_json(alice, "/v1/media").await;
    assert_eq!(list["data"]["items"].as_array().unwrap().len(), 2);
    assert_eq!(list["data"]["usedBytes"], 2 * picture.len());
    // Someone else's quota is their own.
    assert_eq!(app.upload(bob, upload()).await.0, 201);

    // Concurrent uploads that each fit but not together: the lock lets one in.
    let carol = Uuid::now_v7();
    let big = png(40, 20, 200_000);
    let (first, second) = tokio::join!(
        app.upload(carol, multipart("a.png", "image/png", &big, None)),
        app.upload(carol, multipart("b.png", "image/png", &big, None)),
    );
    let mut statuses = [first.0, second.0];
    statuses.sort();
    assert_eq!(statuses, [201, 422], "{first:?} {second:?}");
    let (_, list) = app.get_json(carol, "/v1/media").await;
    assert_eq!(list["data"]["usedBytes"], big.len());
    // Every refused upload left nothing in the store: two of Alice's, one of Bob's, one of
    // Carol's, each with its JPEG copy.
    assert_eq!(app.stored_files().len(), 8, "{:?}", app.stored_files());
}

/// A PNG of `width`×`height` in one colour, written row by row (small on disk, `width` ×
/// `height` × 3 bytes once decoded).
pub(crate) fn flat_png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        let mut header = encoder.write_header().unwrap();
        let mut writer = header.stream_writer().unwrap();
        let row = [200u8, 120, 40].repeat(width as usize);
        for _ in 0..height {
            std::io::Write::write_all(&mut writer, &row).unwrap();
        }
        writer.finish().unwrap();
        header.finish().unwrap();
    }
    out
}

/// Decoding is bounded (issue 73): eight 40-megapixel PNGs uploaded at once each get their
/// JPEG copy, but never more than `MEDIA_DECODE_CONCURRENCY` are decoded at a time (the
/// decodes are counted as they start and end); an image whose headers pass the limits is
/// refused before a pixel is allocated.
#[tokio::test]
async fn eight_forty_megapixel_uploads_are_decoded_two_at_a_time() {
    let app = spawn_app_with(TestOptions {
        worker: false,
        env: vec![("MEDIA_DECODE_CONCURRENCY", "2".into())],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    let big = flat_png(8_000, 5_000);
    let uploads = (0..8).map(|n| {
        let body = multipart(&format!("wide-{n}.png"), "image/png", &big, None);
        app.upload(user, body)
    });
    for (status, answer) in futures::future::join_all(uploads).await {
        assert_eq!(status, 201, "{answer}");
        assert_eq!(answer["data"]["width"], 8_000, "{answer}");
    }
    let peak = app.api_platforms.media.decodes.peak();
    assert!((1..=2).contains(&peak), "{peak} decodes ran at once");
    // Past the limits by its headers: refused, nothing decoded.
    let (status, refused) = app
        .upload(
            user,
            multipart("huge.png", "image/png", &flat_png(10_001, 1), None),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(app.api_platforms.media.decodes.peak(), peak);
}
