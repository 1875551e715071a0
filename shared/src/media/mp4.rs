//! A video's length and frame size, read from its MP4 file's `moov` box (ISO/IEC 14496-12):
//! the top-level boxes are walked by their headers, a few bytes each, so a `moov` behind
//! the media data (a file not made "fast start") costs no more than one in front; only the
//! `moov` itself is read whole, and only when it is smaller than [`MOVIE_MAX_BYTES`].

use super::MediaStore;

/// The largest `moov` box read (an hour of video at 60 frames a second holds a few MiB of
/// sample tables).
pub const MOVIE_MAX_BYTES: u64 = 32 * 1024 * 1024;

/// The most top-level boxes walked before the `moov` is given up on.
const TOP_LEVEL_BOXES_MAX: usize = 64;

/// What a video is, as its file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoInfo {
    /// `None` when the file does not say (a fragmented MP4 leaves it to its fragments).
    pub duration_ms: Option<u32>,
    /// The frame as it is shown (a phone's portrait video, stored sideways and turned by
    /// its track's matrix, is taller than wide).
    pub width: u32,
    pub height: u32,
}

/// Why a video's header could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mp4Problem {
    #[error("is not a playable MP4 video: it has no movie header (`moov` box)")]
    NoMovie,
    #[error("is not a playable MP4 video: its movie header is larger than 32 MiB")]
    MovieTooLarge,
    #[error("is not a playable MP4 video: its movie header is damaged ({0})")]
    Damaged(&'static str),
    #[error("holds no video track")]
    NoVideo,
}

/// A box's header: its type, where its body starts and where it ends (`None`: at the
/// file's end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    kind: [u8; 4],
    body: u64,
    end: Option<u64>,
}

/// The header of the box at `at`, from `bytes` (at least 8 of them, 16 for a 64-bit size).
fn header(bytes: &[u8], at: u64) -> Result<Header, Mp4Problem> {
    let short = || Mp4Problem::Damaged("a box header is cut short");
    let size = u32::from_be_bytes(
        bytes
            .get(..4)
            .ok_or_else(short)?
            .try_into()
            .unwrap_or_default(),
    );
    let kind: [u8; 4] = bytes
        .get(4..8)
        .ok_or_else(short)?
        .try_into()
        .unwrap_or_default();
    let (header_len, size) = match size {
        0 => {
            return Ok(Header {
                kind,
                body: at + 8,
                end: None,
            });
        }
        1 => {
            let large = bytes.get(8..16).ok_or_else(short)?;
            (16, u64::from_be_bytes(large.try_into().unwrap_or_default()))
        }
        size => (8, u64::from(size)),
    };
    if size < header_len {
        return Err(Mp4Problem::Damaged("a box is smaller than its header"));
    }
    Ok(Header {
        kind,
        body: at + header_len,
        end: Some(at.checked_add(size).ok_or_else(short)?),
    })
}

/// The video `key` (of `size` bytes) in `store`: its length and frame size.
pub async fn read(store: &MediaStore, key: &str, size: u64) -> Result<VideoInfo, ReadError> {
    let mut at = 0;
    for _ in 0..TOP_LEVEL_BOXES_MAX {
        if at + 8 > size {
            break;
        }
        let bytes = store.read_range(key, at..size.min(at + 16)).await?;
        let found = header(&bytes, at)?;
        let end = found.end.unwrap_or(size).min(size);
        if &found.kind == b"moov" {
            if end - found.body > MOVIE_MAX_BYTES {
                return Err(Mp4Problem::MovieTooLarge.into());
            }
            let movie = store.read_range(key, found.body..end).await?;
            return Ok(movie_info(&movie)?);
        }
        if end <= at {
            break;
        }
        at = end;
    }
    Err(Mp4Problem::NoMovie.into())
}

/// Why [`read`] failed: the file, or the store.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    File(#[from] Mp4Problem),
    #[error(transparent)]
    Store(#[from] object_store::Error),
}

/// The children of a box body `bytes`: each one's type and body.
fn children(bytes: &[u8]) -> impl Iterator<Item = Result<([u8; 4], &[u8]), Mp4Problem>> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        if at + 8 > bytes.len() {
            return None;
        }
        let found = match header(&bytes[at..], at as u64) {
            Ok(found) => found,
            Err(problem) => {
                at = bytes.len();
                return Some(Err(problem));
            }
        };
        let end = found.end.map_or(bytes.len(), |end| end as usize);
        let Some(body) = bytes.get(found.body as usize..end) else {
            at = bytes.len();
            return Some(Err(Mp4Problem::Damaged("a box runs past its parent")));
        };
        at = end;
        Some(Ok((found.kind, body)))
    })
}

/// The first child of `bytes` of type `kind`.
fn child<'a>(bytes: &'a [u8], kind: &[u8; 4]) -> Result<Option<&'a [u8]>, Mp4Problem> {
    for found in children(bytes) {
        let (found_kind, body) = found?;
        if &found_kind == kind {
            return Ok(Some(body));
        }
    }
    Ok(None)
}

fn be_u32(bytes: &[u8], at: usize) -> Result<u32, Mp4Problem> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_be_bytes(b.try_into().unwrap_or_default()))
        .ok_or(Mp4Problem::Damaged("a header is cut short"))
}

fn be_u64(bytes: &[u8], at: usize) -> Result<u64, Mp4Problem> {
    bytes
        .get(at..at + 8)
        .map(|b| u64::from_be_bytes(b.try_into().unwrap_or_default()))
        .ok_or(Mp4Problem::Damaged("a header is cut short"))
}

/// A `moov` body's length (its `mvhd`) and its first video track's frame (`tkhd`).
fn movie_info(movie: &[u8]) -> Result<VideoInfo, Mp4Problem> {
    let header = child(movie, b"mvhd")?.ok_or(Mp4Problem::Damaged("no `mvhd` box"))?;
    let (timescale, duration) = match header.first() {
        Some(1) => (be_u32(header, 20)?, be_u64(header, 24)?),
        _ => (be_u32(header, 12)?, u64::from(be_u32(header, 16)?)),
    };
    let unknown = duration == 0 || duration == u64::MAX || duration == u64::from(u32::MAX);
    let duration_ms = (timescale > 0 && !unknown)
        .then(|| u32::try_from(u128::from(duration) * 1000 / u128::from(timescale)).ok())
        .flatten();
    for found in children(movie) {
        let (kind, track) = found?;
        if &kind != b"trak" || !is_video(track)? {
            continue;
        }
        let track_header = child(track, b"tkhd")?.ok_or(Mp4Problem::Damaged("no `tkhd` box"))?;
        let (width, height) = frame(track_header)?;
        return Ok(VideoInfo {
            duration_ms,
            width,
            height,
        });
    }
    Err(Mp4Problem::NoVideo)
}

/// Whether a `trak` body's handler is video's (`mdia/hdlr` of type `vide`).
fn is_video(track: &[u8]) -> Result<bool, Mp4Problem> {
    let Some(media) = child(track, b"mdia")? else {
        return Ok(false);
    };
    let Some(handler) = child(media, b"hdlr")? else {
        return Ok(false);
    };
    Ok(handler.get(8..12) == Some(b"vide"))
}

/// A `tkhd` body's frame as shown: its width and height (16.16 fixed point), swapped when
/// its matrix turns it a quarter.
fn frame(track_header: &[u8]) -> Result<(u32, u32), Mp4Problem> {
    // After version and flags: times, track id, reserved, duration (wider in version 1),
    // then 8 reserved bytes, layer, group, volume, 2 reserved, the 36-byte matrix.
    let matrix = match track_header.first() {
        Some(1) => 4 + 8 + 8 + 4 + 4 + 8 + 8 + 8,
        _ => 4 + 4 + 4 + 4 + 4 + 4 + 8 + 8,
    };
    let (a, d) = (
        be_u32(track_header, matrix)?,
        be_u32(track_header, matrix + 16)?,
    );
    let width = be_u32(track_header, matrix + 36)? >> 16;
    let height = be_u32(track_header, matrix + 40)? >> 16;
    if width == 0 || height == 0 {
        return Err(Mp4Problem::Damaged("the video track has no frame size"));
    }
    Ok(if a == 0 && d == 0 {
        (height, width)
    } else {
        (width, height)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    fn mvhd(timescale: u32, duration: u32) -> Vec<u8> {
        let mut body = vec![0; 12];
        body.extend_from_slice(&timescale.to_be_bytes());
        body.extend_from_slice(&duration.to_be_bytes());
        body.resize(100, 0);
        boxed(b"mvhd", &body)
    }

    fn tkhd(width: u32, height: u32, turned: bool) -> Vec<u8> {
        let mut body = vec![0; 40];
        let (a, b): (u32, u32) = if turned {
            (0, 0x0001_0000)
        } else {
            (0x0001_0000, 0)
        };
        for value in [a, b, 0, b.wrapping_neg(), a, 0, 0, 0, 0x4000_0000u32] {
            body.extend_from_slice(&value.to_be_bytes());
        }
        body.extend_from_slice(&(width << 16).to_be_bytes());
        body.extend_from_slice(&(height << 16).to_be_bytes());
        boxed(b"tkhd", &body)
    }

    fn track(handler: &[u8; 4], header: Vec<u8>) -> Vec<u8> {
        let mut hdlr = vec![0; 8];
        hdlr.extend_from_slice(handler);
        hdlr.resize(24, 0);
        let media = boxed(b"mdia", &boxed(b"hdlr", &hdlr));
        boxed(b"trak", &[header, media].concat())
    }

    #[test]
    fn a_movie_says_its_length_and_its_video_track_s_frame() {
        let movie = [
            mvhd(600, 600 * 95 / 2),
            track(b"soun", tkhd(0, 0, false)),
            track(b"vide", tkhd(1920, 1080, false)),
        ]
        .concat();
        assert_eq!(
            movie_info(&movie),
            Ok(VideoInfo {
                duration_ms: Some(47_500),
                width: 1920,
                height: 1080
            })
        );
    }

    #[test]
    fn a_phone_s_turned_video_is_taller_than_wide() {
        let movie = [mvhd(1000, 3000), track(b"vide", tkhd(1920, 1080, true))].concat();
        let info = movie_info(&movie).unwrap();
        assert_eq!((info.width, info.height), (1080, 1920));
    }

    #[test]
    fn a_fragmented_movie_s_length_is_unknown_and_sound_alone_is_no_video() {
        let movie = [mvhd(1000, 0), track(b"vide", tkhd(640, 360, false))].concat();
        assert_eq!(movie_info(&movie).unwrap().duration_ms, None);
        let sound = [mvhd(1000, 5000), track(b"soun", tkhd(0, 0, false))].concat();
        assert_eq!(movie_info(&sound), Err(Mp4Problem::NoVideo));
    }

    #[test]
    fn damaged_boxes_are_refused_without_panicking() {
        let mut movie = mvhd(1000, 5000);
        movie.extend_from_slice(&[0, 0, 0x10, 0, b't', b'r', b'a', b'k', 1, 2]);
        assert!(matches!(movie_info(&movie), Err(Mp4Problem::Damaged(_))));
        assert!(matches!(
            movie_info(&[0, 0, 0, 4, b'm']),
            Err(Mp4Problem::Damaged(_))
        ));
        assert_eq!(
            header(
                &[0, 0, 0, 1, b'm', b'd', b'a', b't', 0, 0, 0, 0, 0, 0, 0, 1],
                0
            ),
            Err(Mp4Problem::Damaged("a box is smaller than its header"))
        );
        for cut in 0..40 {
            let movie = [mvhd(1000, 5000), track(b"vide", tkhd(640, 360, false))].concat();
            let _ = movie_info(&movie[..movie.len() * cut / 40]);
        }
    }
}
