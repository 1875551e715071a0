//! The composer: an entry's dialog previews the post as its platform lays it out (its text
//! cut where the feed folds it, hashtags marked, its media), takes a picture dropped on it
//! (uploaded, shown in the preview and, once saved, on the entry's chip), and says at the
//! media field why a file is refused (wrong bytes, too large). At 1280 px and 375 px.

use base64::Engine;
use serde_json::json;

use super::{Browser, flows::publishing_app};
use crate::publishing::Entry;

/// Drops a file named `name` of type `mime` holding `bytes` (base64) — or, with `size`,
/// that many zero bytes — on the media field, as a browser delivers a drop.
fn drop_script(name: &str, mime: &str, bytes: Option<&[u8]>, size: usize) -> String {
    let content = match bytes {
        Some(bytes) => format!(
            "Uint8Array.from(atob('{}'), (c) => c.charCodeAt(0))",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ),
        None => format!("new Uint8Array({size})"),
    };
    format!(
        "const data = new DataTransfer();
         data.items.add(new File([{content}], {name}, {{ type: {mime} }}));
         const zone = document.getElementById('media-drop');
         zone.dispatchEvent(new DragEvent('dragenter', {{ dataTransfer: data, bubbles: true, cancelable: true }}));
         zone.dispatchEvent(new DragEvent('drop', {{ dataTransfer: data, bubbles: true, cancelable: true }}));",
        name = serde_json::to_string(name).unwrap(),
        mime = serde_json::to_string(mime).unwrap(),
    )
}

/// The preview folds the text where Instagram's feed does (125 characters), marks the
/// hashtags, and follows the typing; the media is an address elsewhere until uploaded.
async fn the_preview_folds_where_the_feed_does(browser: &Browser, caption: &str) {
    let preview = browser.wait("#entry-preview #preview-text").await;
    let shown = preview.text().await.unwrap();
    assert!(shown.ends_with("… more"), "{shown}");
    let before_fold = shown.trim_end_matches("… more").trim_end();
    assert_eq!(before_fold.chars().count(), 125, "{shown}");
    assert!(caption.starts_with(before_fold));
    assert_eq!(browser.count("#entry-preview .fold").await, 1);
    browser
        .set_value("#entry-editor textarea[name=caption]", "Short and sweet")
        .await;
    browser.wait_text("#preview-text", "Short and sweet").await;
    assert_eq!(browser.count("#entry-preview .fold").await, 0);
    assert_eq!(
        browser.text("#entry-preview .tag").await,
        "#launch",
        "hashtags are marked"
    );
    // The entry's media is at an address elsewhere until it has uploaded media of its own.
    browser
        .wait_text("#entry-preview", "Media from the address below")
        .await;
}

/// Wrong bytes under a picture's name are refused by the server, a file too large before
/// a byte is sent; each said at the field, and neither added.
async fn refused_files_are_said_at_the_field(browser: &Browser) {
    browser
        .script(&drop_script(
            "notes.png",
            "image/png",
            Some(b"just some text, no picture"),
            0,
        ))
        .await;
    let refused = browser
        .wait_text("#media-field .field-error", "notes.png")
        .await;
    assert_eq!(
        refused,
        "notes.png: Almanac takes JPEG, PNG and WebP pictures (at most 10,000 px a side) and MP4 videos: this file is none of them."
    );
    // Too large: said before a byte is sent.
    browser
        .script(&drop_script("huge.png", "image/png", None, 9 * 1024 * 1024))
        .await;
    let refused = browser
        .wait_text("#media-field .field-error", "huge.png")
        .await;
    assert_eq!(
        refused,
        "huge.png: This file is too large: a picture may be at most 8 MiB, a video 256 MiB."
    );
    assert_eq!(
        browser.count("#media-chosen li").await,
        1,
        "refused files are not added"
    );
    browser.screenshot_of("refused").await;
}

#[tokio::test]
async fn a_dropped_picture_shows_in_the_preview_and_on_the_chip_and_a_refused_file_says_why() {
    let s = publishing_app().await;
    let caption = "Our spring collection is here: linen shirts, light jackets and the colours of the \
                   season, made to last and easy to wear every day of the week";
    let entry = s.entry(Entry::on("instagram", caption)).await;
    let browser = Browser::start(&s.app, "composer").await;
    browser.sign_in_with_token(&s.app.token(s.user)).await;
    browser.viewport(1280, 900).await;
    browser.open(&format!("#/calendar/{}", s.calendar)).await;
    browser.click(".entry").await;
    browser.wait("#entry-editor[open]").await;

    the_preview_folds_where_the_feed_does(&browser, caption).await;

    // A PNG dropped on the media field is uploaded and shown in the preview.
    let png = crate::media::png(64, 48, 0);
    browser
        .script(&drop_script("leaf.png", "image/png", Some(&png), 0))
        .await;
    browser.wait_count("#media-chosen li", 1).await;
    browser
        .wait_text("#media-status", "leaf.png is uploaded.")
        .await;
    let loaded = browser
        .until(
            "the preview's picture to load",
            "const img = document.querySelector('#entry-preview .preview-media img');
             return img ? img.complete && img.naturalWidth : 0",
            |width| width.as_u64().is_some_and(|w| w > 0),
        )
        .await;
    assert_eq!(loaded, 64, "the preview shows the picture's JPEG copy");
    browser.screenshot_of("dropped").await;

    refused_files_are_said_at_the_field(&browser).await;

    // Saved: the entry names the picture, and its chip shows it.
    browser.click("#entry-save").await;
    browser
        .until(
            "the editor to close once saved",
            "return document.getElementById('entry-editor').open",
            |open| open == &json!(false),
        )
        .await;
    let named: Vec<uuid::Uuid> =
        sqlx::query_scalar("select unnest(media_ids) from calendar_entries where id = $1")
            .bind(entry)
            .fetch_all(&s.app.db)
            .await
            .unwrap();
    assert_eq!(named.len(), 1);
    let (media_files,): (i64,) = sqlx::query_as("select count(*) from media")
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(media_files, 1, "only the accepted file is kept");
    browser
        .until(
            "the chip's thumbnail to load",
            "const img = document.querySelector('.chip .chip-thumb'); return !!img && img.complete && img.naturalWidth > 0",
            |loaded| loaded == &json!(true),
        )
        .await;
    browser.screenshot_of("chip").await;

    // Opened again: the picture is there; the library offers it.
    browser.click(".entry").await;
    browser.wait("#entry-editor[open]").await;
    browser.wait_count("#media-chosen li", 1).await;
    browser.click("#media-pick").await;
    browser.wait_count("#media-library .media-item", 1).await;
    // On a phone the preview comes below the fields, and nothing is cut off.
    browser.viewport(375, 800).await;
    browser
        .script("document.getElementById('entry-preview').scrollIntoView()")
        .await;
    browser.screenshot_of("phone").await;
    browser.fits_a_phone().await;
}
