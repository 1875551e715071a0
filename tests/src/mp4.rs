//! MP4 files as the media tests and the benchmark upload them: real box structure, no
//! decodable frame.

/// A box of type `kind` holding `body`.
pub fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

/// A `moov` box saying the video lasts `duration_ms` and shows `width`×`height`.
pub fn movie(duration_ms: u32, width: u32, height: u32) -> Vec<u8> {
    let mut movie_header = vec![0u8; 12];
    movie_header.extend_from_slice(&1000u32.to_be_bytes());
    movie_header.extend_from_slice(&duration_ms.to_be_bytes());
    movie_header.resize(100, 0);
    let mut track_header = vec![0u8; 40];
    for value in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
        track_header.extend_from_slice(&value.to_be_bytes());
    }
    track_header.extend_from_slice(&(width << 16).to_be_bytes());
    track_header.extend_from_slice(&(height << 16).to_be_bytes());
    let mut handler = vec![0u8; 8];
    handler.extend_from_slice(b"vide");
    handler.resize(24, 0);
    let track = [
        boxed(b"tkhd", &track_header),
        boxed(b"mdia", &boxed(b"hdlr", &handler)),
    ]
    .concat();
    let movie = [boxed(b"mvhd", &movie_header), boxed(b"trak", &track)].concat();
    boxed(b"moov", &movie)
}

/// An MP4's `ftyp` box (brand `isom`).
pub const FILE_TYPE: &[u8; 32] = b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41";

/// An MP4 as a camera writes one without "fast start": `ftyp`, 4 KiB of media data, then
/// the [`movie`] (no frame a player could decode: the server reads headers only).
pub fn video(duration_ms: u32, width: u32, height: u32) -> Vec<u8> {
    [
        FILE_TYPE.to_vec(),
        boxed(b"mdat", &[0u8; 4096]),
        movie(duration_ms, width, height),
    ]
    .concat()
}
