//! An entry's uploaded media on a platform: the first upload, in the copy the platform
//! takes (as uploaded, else its JPEG copy), addressed by a signed URL for platforms that
//! fetch it and by its store key for adapters that upload the bytes themselves.

use super::Adapter;
use crate::{
    domain::publish::{Post, post::PostMedia},
    media::{Copy, Media},
    store::calendars::Publishable,
};

/// The post `entry` makes on `adapter`'s platform.
pub fn post(entry: &Publishable, adapter: &dyn Adapter, media: &Media) -> Post {
    let post = entry.post();
    let Some(upload) = entry.uploads.0.first() else {
        return post;
    };
    let kind = upload.kind;
    let taken = adapter.profile().media_formats.of(kind);
    let copy = if taken.contains(&upload.mime.as_str()) {
        Some((Copy::Original, upload.mime.as_str(), &upload.object_key))
    } else {
        upload
            .jpeg_key
            .as_ref()
            .filter(|_| taken.contains(&"image/jpeg"))
            .map(|key| (Copy::Jpeg, "image/jpeg", key))
    };
    let copy = copy.map(|(copy, mime, key)| {
        let sent = PostMedia {
            id: upload.id,
            mime: mime.to_owned(),
            alt_text: upload.alt_text.clone(),
            key: key.clone(),
        };
        (sent, media.url(upload.id, copy))
    });
    post.with_upload(kind, &upload.mime, copy)
}
