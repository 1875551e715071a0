//! What the app shows is what is sent: on Publishing an entry with uploads shows its first
//! upload's thumbnail and how many it names, the media filter finds it, the dry run passes
//! it and it is published with that picture, its post id linking to the post; an entry
//! naming two pictures is an Instagram carousel, both shown in order in the composer's
//! preview with the first comment under them, and passed by the dry run with no note; and an
//! organic account typed by a connected channel's handle is that channel, one row. At
//! 1280 px and 375 px.

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use super::{Browser, flows::publishing_app};
use crate::{
    helpers::fake_platforms::IG_USER,
    publishing::{Entry, Setup},
};

/// Three Instagram entries: one with a picture, one with two, one with none (in that
/// order).
async fn entries_with_and_without_pictures(s: &Setup) -> [Uuid; 3] {
    let first: Uuid = s.app.uploaded_png(s.user, 0).await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let second: Uuid = s.app.uploaded_png(s.user, 64).await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let entry = |title, caption, at, media: Vec<Uuid>| async move {
        let id = s
            .entry(Entry {
                title,
                media: None,
                at,
                ..Entry::on("instagram", caption)
            })
            .await;
        sqlx::query("update calendar_entries set media_ids = $1 where id = $2")
            .bind(media)
            .bind(id)
            .execute(&s.app.db)
            .await
            .unwrap();
        id
    };
    let one = entry(
        "One picture",
        "Our cat",
        "2030-01-07T09:00:00Z",
        vec![first],
    )
    .await;
    sqlx::query("update calendar_entries set first_comment = 'Link in bio' where id = $1")
        .bind(one)
        .execute(&s.app.db)
        .await
        .unwrap();
    let two = entry(
        "Two pictures",
        "Our cats",
        "2030-01-08T09:00:00Z",
        vec![first, second],
    )
    .await;
    let none = entry("Text only", "Words", "2030-01-09T09:00:00Z", vec![]).await;
    [one, two, none]
}

/// The dry run passes both entries with pictures, the one with two as a carousel: nothing
/// is left out, so neither has a note.
async fn the_dry_run_passes_a_carousel_whole(browser: &Browser, one: Uuid, two: Uuid) {
    browser.click("#select-all").await;
    browser.wait_text("#selected-count", "2 selected").await;
    browser.click("#dry-run").await;
    browser
        .wait_count("#dry-run-report .intent[data-status=dry_run]", 2)
        .await;
    assert_eq!(browser.count("#dry-run-report .intent .reason").await, 0);
    for entry in [one, two] {
        let notes = format!("#dry-run-report .intent[data-entry='{entry}'] .note");
        assert_eq!(browser.count(&notes).await, 0, "{entry}");
    }
    browser.screenshot_of("dry-run").await;
}

/// Scheduled, then published at its time with its picture (pulled as a JPEG) and its first
/// comment under it; its post id links to the post.
async fn published_at_its_time_with_a_link_to_the_post(s: &Setup, browser: &Browser, one: Uuid) {
    browser.click("#select-none").await;
    browser
        .click("#entries input[aria-label*='One picture']")
        .await;
    browser.click("#schedule-publish").await;
    browser
        .wait_count(".intent-row[data-status=scheduled]", 1)
        .await;
    assert_eq!(s.tick("2030-01-07T09:00:00Z").await.dispatched, 1);
    browser
        .wait_count(".intent-row[data-status=published]", 1)
        .await;
    let pulled = s.fake.with(|f| f.pulled.clone());
    assert_eq!(pulled.len(), 1, "{pulled:?}");
    assert_eq!(pulled[0].content_type.as_deref(), Some("image/jpeg"));
    let link = browser
        .script(
            "const a = document.querySelector('.intent-row[data-status=published] a.post-link');
             return a ? [a.textContent, a.getAttribute('href')] : null",
        )
        .await;
    let (_, listed) = s
        .app
        .get_json(
            s.user,
            &format!("/v1/publish-intents?calendarId={}", s.calendar),
        )
        .await;
    let published: Vec<&serde_json::Value> = listed["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "published")
        .collect();
    assert_eq!(published.len(), 1, "{listed}");
    assert_eq!(published[0]["entryId"], one.to_string());
    let post_url = published[0]["postUrl"]
        .as_str()
        .expect("a post URL")
        .to_owned();
    assert!(
        post_url.starts_with("https://www.instagram.com/p/"),
        "{post_url}"
    );
    assert_eq!(link[1], post_url.as_str(), "{link}");
    assert!(link[0].as_str().unwrap().starts_with("post "), "{link}");
    // Its first comment went under it, once, and the row says so.
    browser
        .wait_text(
            ".intent-row[data-status=published] .first-comment[data-comment=sent]",
            "First comment posted under it.",
        )
        .await;
    let comments = s.fake.with(|f| f.comments.clone());
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert_eq!(comments[0].text, "Link in bio");
    browser.click("#tab-receipts").await;
    browser.screenshot_of("published").await;
}

#[tokio::test]
async fn uploads_are_shown_filtered_judged_and_sent_and_two_pictures_make_a_carousel() {
    let s = publishing_app().await;
    let instagram = s
        .connect("instagram", IG_USER, "ig-token", None, 5_184_000)
        .await;
    s.update_channel(instagram, "handle = 'leafy', display_name = 'Leafy Co'")
        .await;
    let [one, two, none] = entries_with_and_without_pictures(&s).await;
    // The organic week's account, typed as the connected channel's handle.
    crate::organic::library(&s.app, s.user).await;
    let (status, linked) = s
        .app
        .send_json(
            Method::POST,
            s.user,
            "/api/organic/brands/brand_123/accounts",
            &json!({ "platform": "instagram", "accountId": "@Leafy" }),
        )
        .await;
    assert_eq!(status, 201, "{linked}");

    let browser = Browser::start(&s.app, "media-sent").await;
    browser.sign_in_with_token(&s.app.token(s.user)).await;
    browser.viewport(1280, 900).await;
    browser.open(&format!("#/publishing/{}", s.calendar)).await;

    // One Instagram row: the typed account is the connected channel.
    browser
        .wait("#channels li[data-channel=instagram][data-status=connected]")
        .await;
    assert_eq!(
        browser.count("#channels li[data-channel=instagram]").await,
        1
    );
    assert!(
        browser
            .text("#channels li[data-channel=instagram]")
            .await
            .contains("Leafy Co")
    );

    // Each entry's media: the first upload's thumbnail and how many it names.
    let row = |id: Uuid| format!("#entries tr[data-entry='{id}']");
    browser
        .wait(&format!("{} .media img.thumb.photo", row(one)))
        .await;
    browser
        .wait(&format!("{} .media img.thumb.photo", row(two)))
        .await;
    assert_eq!(
        browser.text(&format!("{} .media-count", row(one))).await,
        "1 media"
    );
    assert_eq!(
        browser.text(&format!("{} .media-count", row(two))).await,
        "2 media"
    );
    assert_eq!(
        browser.text(&format!("{} .media", row(none))).await,
        "no media"
    );
    // "Only entries with media" finds the two with uploads.
    browser.click("#filter-ready").await;
    browser
        .wait_count("#entries tbody tr:not([hidden])", 2)
        .await;
    assert_eq!(
        browser.count(&format!("{}:not([hidden])", row(none))).await,
        0
    );

    the_dry_run_passes_a_carousel_whole(&browser, one, two).await;

    published_at_its_time_with_a_link_to_the_post(&s, &browser, one).await;

    the_composer_previews_the_carousel_its_comment_and_the_quota(&s, &browser).await;

    // On a phone: the same rows, the same words, nothing wider than the screen.
    browser.viewport(375, 812).await;
    browser.open(&format!("#/publishing/{}", s.calendar)).await;
    browser
        .wait(&format!("{} .media img.thumb.photo", row(two)))
        .await;
    assert_eq!(
        browser.count("#channels li[data-channel=instagram]").await,
        1
    );
    browser.fits_a_phone().await;
}

/// The composer previews the carousel, both pictures in order, the first comment under it
/// as it is typed, and the account's quota.
async fn the_composer_previews_the_carousel_its_comment_and_the_quota(
    s: &Setup,
    browser: &Browser,
) {
    browser.open(&format!("#/calendar/{}", s.calendar)).await;
    browser.click(".entry[aria-label*='Two pictures']").await;
    browser.wait("#entry-editor[open]").await;
    browser
        .wait_count("#entry-preview .preview-media.carousel .slide .thumb", 2)
        .await;
    let numbers = browser
        .script("return [...document.querySelectorAll('#entry-preview .slide-number')].map((n) => n.textContent)")
        .await;
    assert_eq!(numbers, json!(["1/2", "2/2"]));
    assert_eq!(browser.count("#first-media-only").await, 0);
    // The account's quota, where it bites, in the catalogue's words.
    browser
        .wait_text(
            "#entry-preview .quota-note",
            "of 100 posts this account may make in 24 hours",
        )
        .await;
    browser
        .fill(
            "#entry-editor textarea[name=firstComment]",
            "Link in the comments: almanac.example",
        )
        .await;
    browser
        .wait_text(
            "#entry-preview .preview-comment p",
            "Link in the comments: almanac.example",
        )
        .await;
    browser.screenshot_of("composer").await;
    // Left as it was, the entry closes without asking.
    browser
        .fill("#entry-editor textarea[name=firstComment]", "")
        .await;
    browser.press_escape().await;
}
