//! Media uploads (`BENCH_ONLY=media`): a 200 MiB MP4 streamed to `POST /v1/media` (file
//! store), three times, against the raw baseline of writing the same bytes to a file in the
//! same directory (buffered, no fsync, as the store writes), in the same run; and the process's peak resident memory before and after,
//! which stays flat because the body is never held whole. Then eight 40-megapixel PNGs
//! uploaded at once, each decoded for its JPEG copy: the API's peak resident memory with
//! `MEDIA_DECODE_CONCURRENCY` at its default (2) and, in the same run, at 8 (every decode
//! at once), and the most decodes that ran at once.

use std::time::{Duration, Instant};

use almanac_shared::config::Settings;
use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

const MIB: usize = 1024 * 1024;
const SIZE_MIB: usize = 200;
const CHUNK: usize = 256 * 1024;
const RUNS: usize = 3;

/// The process's peak resident set (`VmHWM`), in MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// An MP4 of `SIZE_MIB` MiB as a camera writes one: `ftyp`, a media data box of zeros
/// (with a 64-bit size), then a one-minute `moov` the upload reads its length from, in
/// chunks, made as they are sent.
fn chunks() -> impl Iterator<Item = Bytes> {
    use almanac_tests::mp4;
    let movie = mp4::movie(60_000, 1920, 1080);
    let data = (SIZE_MIB * MIB - mp4::FILE_TYPE.len() - movie.len()) as u64;
    let mut head = vec![0u8; CHUNK];
    head[..32].copy_from_slice(mp4::FILE_TYPE);
    head[32..36].copy_from_slice(&1u32.to_be_bytes());
    head[36..40].copy_from_slice(b"mdat");
    head[40..48].copy_from_slice(&data.to_be_bytes());
    let rest = Bytes::from(vec![0u8; CHUNK]);
    let mut last = vec![0u8; CHUNK - movie.len()];
    last.extend_from_slice(&movie);
    std::iter::once(Bytes::from(head))
        .chain(std::iter::repeat_n(rest, SIZE_MIB * MIB / CHUNK - 2))
        .chain(std::iter::once(Bytes::from(last)))
}

/// The multipart body of one file part named `bench.mp4`, streamed.
fn multipart(boundary: &str) -> reqwest::Body {
    let open = Bytes::from(format!(
        "--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"bench.mp4\"\r\ncontent-type: video/mp4\r\n\r\n"
    ));
    let close = Bytes::from(format!("\r\n--{boundary}--\r\n"));
    let parts = std::iter::once(open)
        .chain(chunks())
        .chain(std::iter::once(close))
        .map(Ok::<_, std::io::Error>);
    reqwest::Body::wrap_stream(futures::stream::iter(parts))
}

/// Resets the process's peak resident set (`VmHWM`) to what it holds now.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A 40-megapixel PNG (8,000 × 5,000) in one colour: about 120 KiB, 114 MiB once decoded.
fn forty_megapixels() -> Vec<u8> {
    let (width, height) = (8_000u32, 5_000u32);
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut header = encoder.write_header().expect("a PNG header");
    let mut writer = header.stream_writer().expect("a PNG stream");
    let row = [30u8, 140, 90].repeat(width as usize);
    for _ in 0..height {
        std::io::Write::write_all(&mut writer, &row).expect("a PNG row");
    }
    writer.finish().expect("the PNG's data");
    header.finish().expect("the PNG's end");
    out
}

/// Eight uploads of `png` at once to an API decoding at most `concurrency` at a time: the
/// peak resident memory it reached (MiB, from what it held before), how long they took,
/// and the most decodes that ran at once.
async fn decodes(
    settings: &Settings,
    png: &Bytes,
    concurrency: usize,
) -> anyhow::Result<(f64, f64, Duration, usize)> {
    let mut settings = settings.clone();
    settings.media.decode_concurrency = concurrency;
    let platforms = almanac_publishing::Platforms::new(&settings)?;
    let api = almanac_api::Application::build_with(settings.clone(), platforms.clone()).await?;
    let base = format!("http://127.0.0.1:{}", api.port());
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(api.run_until_stopped(stop.clone().cancelled_owned()));
    let token = almanac_shared::auth::JwtKeys::new(crate::SECRET).mint(Uuid::new_v4(), 3600);
    let http = reqwest::Client::new();
    reset_peak_rss();
    let before = peak_rss_mib();
    let started = Instant::now();
    let uploads = (0..8).map(|n| {
        let boundary = format!("bench{}", Uuid::new_v4().simple());
        let mut body = format!(
            "--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"wide-{n}.png\"\r\ncontent-type: image/png\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(png);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        http.post(format!("{base}/v1/media"))
            .bearer_auth(&token)
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
    });
    for answer in futures::future::join_all(uploads).await {
        let answer = answer?;
        anyhow::ensure!(
            answer.status() == 201,
            "upload answered {}",
            answer.status()
        );
    }
    let took = started.elapsed();
    let peak = peak_rss_mib();
    stop.cancel();
    Ok((before, peak, took, platforms.media.decodes.peak()))
}

pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("almanac-bench-media-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let mut settings = settings.clone();
    settings.redis_prefix = format!("benchmedia{}", &Uuid::new_v4().simple().to_string()[..8]);
    settings.media.store =
        almanac_shared::config::MediaStoreLocation::Directory(dir.display().to_string());
    settings.media.max_bytes_per_workspace = (SIZE_MIB * MIB * (RUNS + 1)) as u64;
    let api = almanac_api::Application::build(settings.clone()).await?;
    let base = format!("http://127.0.0.1:{}", api.port());
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(api.run_until_stopped(stop.clone().cancelled_owned()));
    let token = almanac_shared::auth::JwtKeys::new(crate::SECRET).mint(Uuid::new_v4(), 3600);
    let http = reqwest::Client::new();

    let before = peak_rss_mib();
    let (mut uploads, mut raws) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        // The raw baseline: the same bytes written to a file beside the store's.
        let started = Instant::now();
        let mut file = tokio::fs::File::create(dir.join("raw.bin")).await?;
        for chunk in chunks() {
            file.write_all(&chunk).await?;
        }
        // As the store writes (into the page cache, no fsync).
        file.flush().await?;
        drop(file);
        raws.push(started.elapsed());
        tokio::fs::remove_file(dir.join("raw.bin")).await?;

        let boundary = format!("bench{}", Uuid::new_v4().simple());
        let started = Instant::now();
        let answer = http
            .post(format!("{base}/v1/media"))
            .bearer_auth(&token)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(multipart(&boundary))
            .send()
            .await?;
        anyhow::ensure!(
            answer.status() == 201,
            "upload answered {}",
            answer.status()
        );
        uploads.push(started.elapsed());
    }
    let after = peak_rss_mib();
    stop.cancel();
    let _ = std::fs::remove_dir_all(&dir);

    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (upload, raw) = (median(&mut uploads), median(&mut raws));
    let rate = |d: Duration| SIZE_MIB as f64 / d.as_secs_f64();
    println!(
        "media POST /v1/media, a {SIZE_MIB} MiB MP4 streamed to a file store ({RUNS} runs, medians)"
    );
    println!(
        "  upload {:.0} ms ({:.0} MiB/s); raw file write {:.0} ms ({:.0} MiB/s); upload/raw {:.2}",
        upload.as_secs_f64() * 1000.0,
        rate(upload),
        raw.as_secs_f64() * 1000.0,
        rate(raw),
        upload.as_secs_f64() / raw.as_secs_f64(),
    );
    println!(
        "  peak resident memory {before:.0} MiB before, {after:.0} MiB after {RUNS} uploads of {SIZE_MIB} MiB (+{:.0} MiB; never the file whole)",
        after - before
    );

    let dir =
        std::env::temp_dir().join(format!("almanac-bench-decode-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    settings.media.store =
        almanac_shared::config::MediaStoreLocation::Directory(dir.display().to_string());
    let png = Bytes::from(forty_megapixels());
    println!(
        "media eight 40-megapixel PNGs ({} KiB each) uploaded at once, each decoded for its JPEG copy",
        png.len() / 1024
    );
    for concurrency in [2, 8, 2] {
        let (held, peak, took, most) = decodes(&settings, &png, concurrency).await?;
        println!(
            "  MEDIA_DECODE_CONCURRENCY={concurrency}: peak resident memory {peak:.0} MiB (+{:.0} MiB over the {held:.0} MiB held before), {:.0} ms, at most {most} decodes at once",
            peak - held,
            took.as_secs_f64() * 1000.0,
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!();
    Ok(())
}
