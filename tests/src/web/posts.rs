//! One post for every network in the app: "New post" on a calendar, three networks picked,
//! one text written once, Bluesky given its own caption (marked as its own), each tab's
//! preview saying what that network receives; saved as one post whose entries the calendar
//! shows as one chip; reopened on a phone, Bluesky's own caption dropped ("Use the shared
//! text") and the saved post's refusal by Bluesky's limit shown in its tab. At 1280 px and
//! 375 px.

use serde_json::json;
use uuid::Uuid;

use super::Browser;
use crate::publishing::posts::four_networks_with;

/// A caption past Bluesky's 300 characters.
fn long_caption() -> String {
    "Our spring collection is here, made slowly and by hand. "
        .repeat(7)
        .trim_end()
        .to_owned()
}

/// Each entry of the calendar's one post: channel, caption and the fields it owns.
async fn saved(
    app: &crate::helpers::TestApp,
    calendar: Uuid,
) -> Vec<(String, String, Vec<String>)> {
    sqlx::query_as(
        "select channel, caption, post_own from calendar_entries
         where calendar_id = $1 and post_id is not null and deleted_at is null order by channel",
    )
    .bind(calendar)
    .fetch_all(&app.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_post_for_three_networks_is_composed_once_with_one_networks_own_caption() {
    let (s, [linkedin, bluesky, threads, _]) =
        four_networks_with([("DEV_LOGIN", "true".into())]).await;
    let browser = Browser::start(&s.app, "posts").await;
    browser.sign_in_with_token(&s.app.token(s.user)).await;
    browser.viewport(1280, 900).await;
    browser.open(&format!("#/calendar/{}", s.calendar)).await;
    browser.click("#new-post").await;
    browser.wait("#post-composer[open]").await;
    for channel in [linkedin, bluesky, threads] {
        browser
            .click(&format!("#post-networks input[value='{channel}']"))
            .await;
    }
    browser.wait_count("#post-tabs [role=tab]", 4).await;
    let caption = long_caption();
    browser.fill("#post-caption", &caption).await;
    browser.fill("#post-hashtags", "spring handmade").await;

    // Bluesky's tab: the shared caption is past its limit; it gets its own.
    let panel = format!("#post-panel-{bluesky}");
    browser.click(&format!("#post-tab-{bluesky}")).await;
    browser
        .wait_text(&format!("{panel} .counter .bad"), "Bluesky")
        .await;
    browser
        .click(&format!("{panel} [data-write-own=caption]"))
        .await;
    browser
        .set_value(
            &format!("{panel} textarea[name='caption-{bluesky}']"),
            "Spring is here.",
        )
        .await;
    browser
        .wait(&format!("{panel} [data-override=caption]"))
        .await;
    browser
        .wait_text(&format!("#post-preview-{bluesky}-text"), "Spring is here.")
        .await;
    assert_eq!(
        browser.count(&format!("{panel} .counter .bad")).await,
        0,
        "within Bluesky's limit"
    );
    browser
        .wait_text(&format!("#post-tab-{bluesky}"), "1 own")
        .await;
    browser.screenshot_of("bluesky-tab").await;
    // LinkedIn's says the shared text.
    browser.click(&format!("#post-tab-{linkedin}")).await;
    browser
        .wait_text(
            &format!("#post-preview-{linkedin}-text"),
            "Our spring collection",
        )
        .await;
    browser.screenshot_of("linkedin-tab").await;
    browser.every_input_is_labelled().await;

    browser.click("#post-save").await;
    browser
        .until(
            "the composer to close once saved",
            "return document.getElementById('post-composer').open",
            |open| open == &json!(false),
        )
        .await;
    let mut expected = vec![
        (
            "bluesky".to_owned(),
            "Spring is here.".to_owned(),
            vec!["caption".to_owned()],
        ),
        ("linkedin".to_owned(), caption.clone(), vec![]),
        ("threads".to_owned(), caption.clone(), vec![]),
    ];
    expected.sort();
    assert_eq!(saved(&s.app, s.calendar).await, expected);
    // The calendar shows the post's three entries as one chip.
    browser.wait_count(".post-chip", 1).await;
    assert_eq!(browser.count(".post-chip .post-mark").await, 3);
    assert_eq!(browser.count(".chip:not(.post-chip)").await, 0);
    browser.screenshot_of("calendar").await;

    // On a phone: opened again, Bluesky back on the shared text, which it refuses.
    browser.viewport(375, 800).await;
    browser.click(".post-chip").await;
    browser.wait("#post-composer[open]").await;
    browser.click(&format!("#post-tab-{bluesky}")).await;
    browser
        .wait(&format!("{panel} [data-override=caption]"))
        .await;
    browser.screenshot_of("phone-bluesky").await;
    browser.fits_a_phone().await;
    browser.viewport(375, 800).await;
    browser
        .click(&format!("{panel} [data-use-shared=caption]"))
        .await;
    browser
        .wait(&format!("{panel} [data-follows=caption]"))
        .await;
    browser.click("#post-save").await;
    browser
        .wait_text(&format!("{panel} [data-refused]"), "Bluesky")
        .await;
    browser.wait(&format!("#post-tab-{bluesky}.over")).await;
    browser.wait_text("#post-problem", "Bluesky").await;
    browser.screenshot_of("phone-refused").await;
    let bluesky_entry = saved(&s.app, s.calendar)
        .await
        .into_iter()
        .find(|(c, ..)| c == "bluesky")
        .unwrap();
    assert_eq!(
        (bluesky_entry.1, bluesky_entry.2),
        (caption.clone(), vec![])
    );
}
