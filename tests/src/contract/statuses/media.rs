//! Media's refusals: an upload's body that is no multipart (400), over the image limit
//! (413), not multipart (415), bytes that are no picture (422); a media an entry still to
//! go out uses (409); a tag holding a control character (422); a poster frame past the
//! body limit (413), of another type than JPEG (415), for a picture (422).

use serde_json::json;
use uuid::Uuid;

use super::{Payload, Probe};
use crate::helpers::TestApp;
use crate::publishing::launch_calendar;

pub(crate) const MULTIPART: &str = "multipart/form-data; boundary=probe-boundary";

fn body(file: &[u8]) -> Vec<u8> {
    let mut body = b"--probe-boundary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n".to_vec();
    body.extend_from_slice(file);
    body.extend_from_slice(b"\r\n--probe-boundary--\r\n");
    body
}

/// A valid upload's body: a small PNG.
pub(crate) fn picture() -> Vec<u8> {
    body(&crate::media::png(4, 4, 0))
}

pub(super) async fn body_refusals(probe: &Probe) {
    let upload = || probe.call("uploadMedia", &[]);
    let broken = Payload::Raw(MULTIPART, b"--probe-boundary\r\nno headers".to_vec());
    probe.expect(400, upload().with(broken)).await;
    let mut huge = crate::media::png(4, 4, 0);
    huge.resize(8 * 1024 * 1024 + 1, 0);
    probe
        .expect(413, upload().with(Payload::Raw(MULTIPART, body(&huge))))
        .await;
    probe
        .expect(415, upload().with(Payload::Raw("text/plain", picture())))
        .await;
    let text = Payload::Raw(MULTIPART, body(b"not a picture at all, just words"));
    probe.expect(422, upload().with(text)).await;
}

/// A poster frame: a small JPEG.
pub(crate) fn frame() -> Vec<u8> {
    use almanac_shared::media::{MediaFormat, image};
    image::jpeg_copy(MediaFormat::Png, &crate::media::png(4, 4, 0)).unwrap()
}

/// A poster frame's body past `limit` (413), or not a JPEG's type (415).
pub(super) async fn poster_body_refusals(probe: &Probe, limit: usize) {
    let poster = || probe.call("setMediaPoster", &[Uuid::now_v7()]);
    let huge = Payload::Raw("image/jpeg", vec![0xFF; limit + 1]);
    probe.expect(413, poster().with(huge)).await;
    let text = Payload::Raw("text/plain", frame());
    probe.expect(415, poster().with(text)).await;
}

pub(super) async fn refusals(app: &TestApp, probe: &Probe, user: Uuid) {
    let made = probe.succeed(201, probe.call("uploadMedia", &[])).await;
    let media: Uuid = made["data"]["id"].as_str().unwrap().parse().unwrap();
    let calendar = launch_calendar(app, user).await;
    let entry = probe
        .succeed(
            201,
            probe.call("addCalendarEntry", &[calendar]).json(json!({
                "channel": "instagram", "date": "2030-01-08", "title": "A", "mediaIds": [media]
            })),
        )
        .await;
    let entry: Uuid = entry["data"]["id"].as_str().unwrap().parse().unwrap();
    crate::media::scheduled_post(app, user, calendar, entry).await;
    probe.expect(409, probe.call("deleteMedia", &[media])).await;
    // A picture takes no poster frame.
    probe
        .expect(422, probe.call("setMediaPoster", &[media]))
        .await;
    let bell = json!({ "tags": ["ding\u{7}"] });
    probe
        .expect(422, probe.call("updateMedia", &[media]).json(bell))
        .await;
}
