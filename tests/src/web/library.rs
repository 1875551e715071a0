//! The Media page: every upload as a card; a video recorded in the page and uploaded from
//! its picker gets its poster frame, taken in the browser, shown on its card and on its
//! calendar chip; alternative text saved from the card is what the next publish sends;
//! search and a tag narrow the cards; deleting a medium an entry still to go out uses is
//! refused, naming the entry. At 1280 px and 375 px.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Browser, flows::publishing_app};
use crate::publishing::{Entry, Setup};

/// Records a short video of a canvas in the page (MP4, as the browser's recorder writes
/// it) and chooses it in the Media page's picker, as a person choosing a file does; the
/// file's size.
const RECORD_AND_CHOOSE: &str = "
    const canvas = document.createElement('canvas');
    canvas.width = 320; canvas.height = 180;
    const ctx = canvas.getContext('2d');
    const recorder = new MediaRecorder(canvas.captureStream(25), { mimeType: 'video/mp4;codecs=avc1' });
    const chunks = [];
    recorder.ondataavailable = (e) => chunks.push(e.data);
    const stopped = new Promise((resolve) => { recorder.onstop = resolve; });
    recorder.start();
    await new Promise((resolve) => {
      let frame = 0;
      const draw = () => {
        ctx.fillStyle = frame % 2 ? '#c13584' : '#2a9d8f';
        ctx.fillRect(0, 0, 320, 180);
        ctx.fillStyle = '#fff';
        ctx.font = '32px sans-serif';
        ctx.fillText('Walk ' + frame, 100, 100);
        frame += 1;
        if (frame < 24) requestAnimationFrame(draw); else resolve();
      };
      draw();
    });
    recorder.stop();
    await stopped;
    const file = new File(chunks, 'walk.mp4', { type: 'video/mp4' });
    const data = new DataTransfer();
    data.items.add(file);
    const input = document.getElementById('media-upload');
    input.files = data.files;
    input.dispatchEvent(new Event('change'));
    return file.size;";

/// The workspace's media as the API lists them, newest first.
async fn listed(s: &Setup) -> Vec<Value> {
    let (status, list) = s.app.get_json(s.user, "/v1/media").await;
    assert_eq!(status, 200, "{list}");
    list["data"]["items"].as_array().unwrap().clone()
}

/// An Instagram entry titled `title` at `at` naming `media`; its id.
async fn entry_naming(s: &Setup, title: &'static str, at: &'static str, media: &str) -> Uuid {
    let id = s
        .entry(Entry {
            title,
            media: None,
            at,
            ..Entry::on("instagram", title)
        })
        .await;
    sqlx::query("update calendar_entries set media_ids = array[$1::uuid] where id = $2")
        .bind(media)
        .bind(id)
        .execute(&s.app.db)
        .await
        .unwrap();
    id
}

/// The card `cat`'s alternative text saved (what the API, and so the next publish, has);
/// the cards searched by words, and by a tag from a card.
async fn saved_and_searched(s: &Setup, browser: &Browser, cat: &str) {
    let card = |id: &str| format!("#media-library .media-card[data-media='{id}']");
    let alt = format!("{} textarea.media-alt", card(cat));
    browser.fill(&alt, "A cat asleep on the sofa").await;
    browser
        .click(&format!("{} button.media-save", card(cat)))
        .await;
    browser
        .wait_text("#toast", "Saved: the next posts send the new text.")
        .await;
    let saved = s
        .app
        .get_json(s.user, &format!("/v1/media?ids={cat}"))
        .await
        .1;
    assert_eq!(
        saved["data"]["items"][0]["altText"], "A cat asleep on the sofa",
        "{saved}"
    );

    // Search by words, and by a tag from a card.
    browser.fill("#media-search", "asleep").await;
    browser.click(".media-filter button[type=submit]").await;
    browser.wait_count("#media-library .media-card", 1).await;
    browser.wait(&card(cat)).await;
    browser.open("#/media").await;
    browser.wait_count("#media-library .media-card", 2).await;
    browser
        .click(&format!("{} .tags a[href$='tag=cats']", card(cat)))
        .await;
    browser.wait("#media-tag-filter").await;
    browser.wait_count("#media-library .media-card", 1).await;
}

#[tokio::test]
async fn the_media_page_edits_searches_keeps_used_media_and_shows_a_video_s_poster_frame() {
    let s = publishing_app().await;
    let cat = s.app.uploaded_png(s.user, 0).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, tagged) = s
        .app
        .send_json(
            Method::PATCH,
            s.user,
            &format!("/v1/media/{cat}"),
            &json!({ "tags": ["cats", "home"] }),
        )
        .await;
    assert_eq!(status, 200, "{tagged}");
    entry_naming(&s, "Sofa day", "2030-01-07T09:00:00Z", &cat).await;

    let browser = Browser::start(&s.app, "media-page").await;
    browser.sign_in_with_token(&s.app.token(s.user)).await;
    browser.viewport(1280, 900).await;
    browser.open("#/media").await;
    let card = |id: &str| format!("#media-library .media-card[data-media='{id}']");
    browser.wait(&card(&cat)).await;
    assert_eq!(
        browser
            .text(&format!("{} .media-uses summary", card(&cat)))
            .await,
        "Used by 1 entry"
    );

    // A video recorded here and chosen in the picker: uploaded, its poster frame taken
    // from the file in the browser and kept.
    let size = browser.script(RECORD_AND_CHOOSE).await;
    assert!(size.as_u64().is_some_and(|n| n > 0), "{size}");
    browser.wait_count("#media-library .media-card", 2).await;
    browser
        .wait("#media-library .media-card .thumb.poster img")
        .await;
    let items = listed(&s).await;
    assert_eq!(items.len(), 2);
    let video = &items[0];
    assert_eq!(
        (
            &video["kind"],
            &video["fileName"],
            &video["width"],
            &video["height"]
        ),
        (
            &json!("video"),
            &json!("walk.mp4"),
            &json!(320),
            &json!(180)
        ),
        "{video}"
    );
    let poster = video["posterUrl"].as_str().expect("a poster frame kept");
    let frame = reqwest::get(poster).await.unwrap();
    assert_eq!(frame.headers()["content-type"], "image/jpeg");
    let video_id = video["id"].as_str().unwrap().to_owned();

    saved_and_searched(&s, &browser, &cat).await;

    // Deleting what an entry still to go out uses: kept, the entry named.
    browser
        .click(&format!("{} .media-delete", card(&cat)))
        .await;
    browser.click("#confirm-yes").await;
    let refusal = browser
        .wait_text(&format!("{} .media-refusal", card(&cat)), "“Sofa day”")
        .await;
    assert!(
        refusal.contains("1 entry still to go out uses it"),
        "{refusal}"
    );
    assert_eq!(listed(&s).await.len(), 2);
    browser.every_input_is_labelled().await;
    browser.screenshot_of("refused").await;
    browser.fits_a_phone().await;

    // An unused medium goes.
    browser.open("#/media").await;
    browser.wait_count("#media-library .media-card", 2).await;
    let other = s.app.uploaded_png(s.user, 7).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    browser.open("#/calendar").await;
    browser.open("#/media").await;
    browser.wait(&card(&other)).await;
    browser
        .click(&format!("{} .media-delete", card(&other)))
        .await;
    browser.click("#confirm-yes").await;
    browser.wait_count("#media-library .media-card", 2).await;
    assert_eq!(listed(&s).await.len(), 2);

    // The video's chip on the calendar shows its poster frame.
    entry_naming(&s, "Evening walk", "2030-01-08T18:00:00Z", &video_id).await;
    browser.open(&format!("#/calendar/{}", s.calendar)).await;
    browser
        .wait(".entry[aria-label*='Evening walk'] .chip-thumb.poster img")
        .await;
    browser.screenshot_of("chip").await;
}
