//! Images as uploaded: their dimensions (read from the headers, capped), and the JPEG copy
//! made of a PNG or WebP for the platforms that take only JPEG. CPU work: callers run it on
//! a blocking thread.

use std::{
    io::Cursor,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use tokio::sync::Semaphore;

use image::{
    DynamicImage, ImageFormat, ImageReader, Limits, Rgb, RgbImage, codecs::jpeg::JpegEncoder,
};

use super::format::MediaFormat;

/// The longest side an image may have, in pixels.
pub const MAX_SIDE: u32 = 10_000;
/// The most pixels an image may have (40 megapixels): decoding one takes 4 bytes a pixel.
pub const MAX_PIXELS: u64 = 40_000_000;
/// The JPEG copy's quality (0-100).
const JPEG_QUALITY: u8 = 90;

/// An image's size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dimensions {
    pub width: u32,
    pub height: u32,
}

/// Why an image was refused, in words for its owner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageProblem {
    #[error("the image could not be read: {0}")]
    Unreadable(String),
    #[error(
        "the image is {width}×{height} pixels; at most {MAX_SIDE} pixels a side and {} megapixels are taken",
        MAX_PIXELS / 1_000_000
    )]
    TooLarge { width: u32, height: u32 },
}

/// The images this process decodes at once: at most `MEDIA_DECODE_CONCURRENCY`, the
/// others waiting their turn, because one decode may take a few hundred MiB. Counted, so
/// the most that ever ran at once can be read back.
#[derive(Clone, Debug)]
pub struct Decodes {
    permits: Arc<Semaphore>,
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl Decodes {
    pub fn new(max: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max.max(1))),
            running: Arc::default(),
            peak: Arc::default(),
        }
    }

    /// Runs `work` on a blocking thread once a place is free. The place is held by the
    /// work itself, so a caller that goes away does not free it while the decode runs.
    pub async fn run<T, F>(&self, work: F) -> Result<T, tokio::task::JoinError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .expect("the decode permits are never closed");
        let (running, peak) = (Arc::clone(&self.running), Arc::clone(&self.peak));
        tokio::task::spawn_blocking(move || {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            let out = work();
            running.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
            out
        })
        .await
    }

    /// The most decodes that ever ran at once in this process.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

fn image_format(format: MediaFormat) -> Option<ImageFormat> {
    match format {
        MediaFormat::Jpeg => Some(ImageFormat::Jpeg),
        MediaFormat::Png => Some(ImageFormat::Png),
        MediaFormat::Webp => Some(ImageFormat::WebP),
        MediaFormat::Mp4 => None,
    }
}

/// A reader of the image whose headers said `size`: it may allocate the decoded pixels
/// (4 bytes each at most, for 8-bit RGBA) and a little for the decoder, nothing more.
fn reader(
    format: MediaFormat,
    bytes: &[u8],
    size: Dimensions,
) -> Result<ImageReader<Cursor<&[u8]>>, ImageProblem> {
    let image_format = image_format(format)
        .ok_or_else(|| ImageProblem::Unreadable(format!("{} is not an image", format.mime())))?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(size.width);
    limits.max_image_height = Some(size.height);
    limits.max_alloc = Some(u64::from(size.width) * u64::from(size.height) * 4 + DECODER_ALLOC);
    reader.limits(limits);
    Ok(reader)
}

/// What a decoder may allocate besides the pixels (its buffers and tables).
const DECODER_ALLOC: u64 = 8 << 20;

/// The dimensions in the image's headers, when within [`MAX_SIDE`] and [`MAX_PIXELS`].
pub fn dimensions(format: MediaFormat, bytes: &[u8]) -> Result<Dimensions, ImageProblem> {
    let (width, height) = ImageReader::with_format(
        Cursor::new(bytes),
        image_format(format).ok_or_else(|| ImageProblem::Unreadable("not an image".into()))?,
    )
    .into_dimensions()
    .map_err(|e| ImageProblem::Unreadable(e.to_string()))?;
    if width == 0 || height == 0 {
        return Err(ImageProblem::Unreadable("it has no pixels".into()));
    }
    if width.max(height) > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ImageProblem::TooLarge { width, height });
    }
    Ok(Dimensions { width, height })
}

/// The image decoded (within the limits its headers set, read first: [`dimensions`]) and
/// encoded as a JPEG, transparent parts on white.
pub fn jpeg_copy(format: MediaFormat, bytes: &[u8]) -> Result<Vec<u8>, ImageProblem> {
    let size = dimensions(format, bytes)?;
    let decoded = reader(format, bytes, size)?
        .decode()
        .map_err(|e| ImageProblem::Unreadable(e.to_string()))?;
    let rgb = on_white(decoded);
    let mut out = Vec::with_capacity(bytes.len());
    JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
        .encode_image(&rgb)
        .map_err(|e| ImageProblem::Unreadable(e.to_string()))?;
    Ok(out)
}

/// RGB pixels, each transparent or translucent one blended onto white.
fn on_white(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let blend =
            |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
        Rgb([blend(r), blend(g), blend(b)])
    })
}

#[cfg(test)]
mod tests {
    use image::{ImageEncoder, Rgba, RgbaImage, codecs::png::PngEncoder};

    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = RgbaImage::from_fn(width, height, |x, _| {
            if x < width / 2 {
                Rgba([200, 30, 30, 255])
            } else {
                Rgba([0, 0, 0, 0])
            }
        });
        let mut out = Vec::new();
        PngEncoder::new(&mut out)
            .write_image(
                image.as_raw(),
                width,
                height,
                image::ExtendedColorType::Rgba8,
            )
            .unwrap();
        out
    }

    #[test]
    fn a_png_gets_its_dimensions_and_a_jpeg_copy_with_transparency_on_white() {
        let bytes = png(40, 20);
        assert_eq!(
            dimensions(MediaFormat::Png, &bytes),
            Ok(Dimensions {
                width: 40,
                height: 20
            })
        );
        let jpeg = jpeg_copy(MediaFormat::Png, &bytes).unwrap();
        assert_eq!(MediaFormat::sniff(&jpeg), Some(MediaFormat::Jpeg));
        let back = image::load_from_memory_with_format(&jpeg, ImageFormat::Jpeg)
            .unwrap()
            .into_rgb8();
        assert_eq!((back.width(), back.height()), (40, 20));
        let [r, g, b] = back.get_pixel(35, 10).0;
        assert!(
            r > 240 && g > 240 && b > 240,
            "transparent became white, got {r},{g},{b}"
        );
        let [r, g, _] = back.get_pixel(5, 10).0;
        assert!(r > 170 && g < 70, "the red half stays red, got {r},{g}");
    }

    #[test]
    fn an_image_past_the_caps_or_unreadable_is_refused() {
        assert_eq!(
            dimensions(MediaFormat::Png, &png(MAX_SIDE + 1, 1)),
            Err(ImageProblem::TooLarge {
                width: MAX_SIDE + 1,
                height: 1
            })
        );
        assert!(matches!(
            dimensions(MediaFormat::Png, b"\x89PNG\r\n\x1a\nnot really"),
            Err(ImageProblem::Unreadable(_))
        ));
    }
}
