//! A video's poster frame: a JPEG the web app takes from the video in the browser (no
//! video is decoded on the server), checked to be one and kept beside the video.

use almanac_shared::media::{MediaFormat, image};

use crate::error::ApiError;

/// The widest and tallest a poster frame may be.
const SIDE_MAX: u32 = 4_096;

/// `bytes` are a JPEG of at most [`SIDE_MAX`] pixels a side (read from its header), or
/// the refusal at `body`.
pub fn check(bytes: &[u8]) -> Result<(), ApiError> {
    let refused = |reason: String| ApiError::unprocessable_field("body", reason);
    if MediaFormat::sniff(bytes) != Some(MediaFormat::Jpeg) {
        return Err(refused("a poster frame is a JPEG image".to_owned()));
    }
    let dimensions = image::dimensions(MediaFormat::Jpeg, bytes)
        .map_err(|problem| refused(format!("the JPEG cannot be read: {problem}")))?;
    if dimensions.width > SIDE_MAX || dimensions.height > SIDE_MAX {
        return Err(refused(format!(
            "a poster frame is at most {SIDE_MAX} pixels a side; this one is {}×{}",
            dimensions.width, dimensions.height
        )));
    }
    Ok(())
}
