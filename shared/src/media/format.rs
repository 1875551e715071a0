//! What an upload is, read from its first bytes (never its name or declared type): the
//! four formats Almanac keeps, their kinds and their size limits.

use crate::domain::publish::post::MediaKind;

/// How many leading bytes [`MediaFormat::sniff`] needs to decide.
pub const SNIFF_BYTES: usize = 16;

const MIB: u64 = 1024 * 1024;

/// A format Almanac stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaFormat {
    Jpeg,
    Png,
    Webp,
    Mp4,
}

/// ISO base media brands of MP4 files (`ftyp`'s major brand). HEIF/AVIF images and
/// QuickTime movies share the container but not these brands.
const MP4_BRANDS: [&[u8; 4]; 13] = [
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ",
    b"dash", b"mmp4", b"MSNV",
];

impl MediaFormat {
    pub const ALL: [MediaFormat; 4] = [Self::Jpeg, Self::Png, Self::Webp, Self::Mp4];

    /// The format of a file starting with `head` (at least [`SNIFF_BYTES`] of it, or the
    /// whole file when shorter); `None` for anything else.
    pub fn sniff(head: &[u8]) -> Option<Self> {
        if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            return Some(Self::Jpeg);
        }
        if head.starts_with(b"\x89PNG\r\n\x1a\n") {
            return Some(Self::Png);
        }
        if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
            return Some(Self::Webp);
        }
        if head.len() >= 12
            && &head[4..8] == b"ftyp"
            && MP4_BRANDS.iter().any(|brand| &head[8..12] == *brand)
        {
            return Some(Self::Mp4);
        }
        None
    }

    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Mp4 => "video/mp4",
        }
    }

    pub fn from_mime(mime: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|format| format.mime() == mime)
    }

    /// What it is on a post.
    pub fn kind(self) -> MediaKind {
        match self {
            Self::Mp4 => MediaKind::Video,
            _ => MediaKind::Photo,
        }
    }

    /// The largest file of the format: 8 MiB for an image, 256 MiB for a video.
    pub fn max_bytes(self) -> u64 {
        match self.kind() {
            MediaKind::Photo => 8 * MIB,
            MediaKind::Video => 256 * MIB,
        }
    }

    /// Whether a JPEG copy is made at upload (for the platforms that take only JPEG).
    pub fn has_rendition(self) -> bool {
        matches!(self, Self::Png | Self::Webp)
    }

    /// The largest any format may be: what an upload may read before its format is known.
    pub fn largest() -> u64 {
        Self::ALL
            .into_iter()
            .map(Self::max_bytes)
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_read_from_their_bytes() {
        assert_eq!(
            MediaFormat::sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]),
            Some(MediaFormat::Jpeg)
        );
        assert_eq!(
            MediaFormat::sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some(MediaFormat::Png)
        );
        assert_eq!(
            MediaFormat::sniff(b"RIFF\x10\0\0\0WEBPVP8 "),
            Some(MediaFormat::Webp)
        );
        assert_eq!(
            MediaFormat::sniff(b"\0\0\0\x20ftypisom\0\0\x02\0"),
            Some(MediaFormat::Mp4)
        );
        // A HEIF image and a QuickTime movie share MP4's container, not its brands.
        assert_eq!(MediaFormat::sniff(b"\0\0\0\x18ftypheic\0\0\0\0"), None);
        assert_eq!(MediaFormat::sniff(b"\0\0\0\x14ftypqt  \0\0\0\0"), None);
        assert_eq!(MediaFormat::sniff(b"GIF89a\x01\0\x01\0\0\0\0\0\0\0"), None);
        assert_eq!(MediaFormat::sniff(b"<svg xmlns="), None);
        assert_eq!(MediaFormat::sniff(b""), None);
        assert_eq!(MediaFormat::Png.max_bytes(), 8 * 1024 * 1024);
        assert_eq!(MediaFormat::largest(), 256 * 1024 * 1024);
    }
}
