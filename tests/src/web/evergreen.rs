//! The Evergreen page: a collection made from a calendar's entries on a chosen channel is
//! listed with its entries and gap; once the worker queues a repeat, its next repeat is
//! shown; paused it says so, and deleted it is gone. At 1280 px and 375 px.

use serde_json::json;

use super::{Browser, flows::publishing_app};
use crate::publishing::Entry;

#[tokio::test]
async fn a_collection_is_made_paused_shows_its_next_repeat_and_is_deleted() {
    let s = publishing_app().await;
    let channel = s.connect_tiktok().await;
    crate::publishing::evergreen::daily_slot(&s, channel).await;
    let first = s.entry(Entry::on("tiktok", "Steeping times")).await;
    let second = s.entry(Entry::on("tiktok", "Water temperature")).await;

    let browser = Browser::start(&s.app, "evergreen").await;
    browser.sign_in_with_token(&s.app.token(s.user)).await;
    browser.viewport(1280, 900).await;
    browser.open("#/evergreen").await;
    browser
        .wait_text("#evergreen-list", "No evergreen collection yet")
        .await;
    browser.fill("#evergreen-name", "Tea basics").await;
    browser
        .click(&format!(
            "#evergreen-new input[name=channel][value='{channel}']"
        ))
        .await;
    browser
        .set_value("#evergreen-calendar", &s.calendar.to_string())
        .await;
    for entry in [first, second] {
        browser
            .click(&format!("#evergreen-entries input[value='{entry}']"))
            .await;
    }
    browser.set_value("#evergreen-gap", "7").await;
    browser.click("#evergreen-create").await;
    browser.wait_count("#evergreen-list li.evergreen", 1).await;
    let card = "#evergreen-list li.evergreen";
    assert!(
        browser
            .text(card)
            .await
            .contains("2 entries, each at least 7 days apart on a channel."),
        "{}",
        browser.text(card).await
    );
    let (_, listed) = s.app.get_json(s.user, "/v1/evergreen").await;
    let made = &listed["data"]["items"][0];
    assert_eq!(made["name"], "Tea basics");
    assert_eq!(made["entryIds"], json!([first, second]));
    assert_eq!(made["channelIds"], json!([channel]));
    assert_eq!(made["minGapDays"], 7);

    // The worker queues its first repeat: the page shows when.
    let clock = almanac_shared::clock::ManualClock::new(chrono::Utc::now());
    let queued = almanac_worker::evergreen::tick(&s.app.worker_context(0), &clock)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    browser.open("#/calendar").await;
    browser.open("#/evergreen").await;
    browser
        .wait_text(&format!("{card} .evergreen-next"), "Next repeat: ")
        .await;

    // Paused, it says so.
    browser.click(&format!("{card} .evergreen-toggle")).await;
    browser
        .wait("#evergreen-list li.evergreen[data-paused=true]")
        .await;
    let (_, listed) = s.app.get_json(s.user, "/v1/evergreen").await;
    assert_eq!(listed["data"]["items"][0]["paused"], true);
    browser.every_input_is_labelled().await;
    browser.screenshot_of("paused").await;
    browser.fits_a_phone().await;

    // Deleted: gone, and its queued repeat with it.
    browser.click(&format!("{card} .evergreen-delete")).await;
    browser.click("#confirm-yes").await;
    browser
        .wait_text("#evergreen-list", "No evergreen collection yet")
        .await;
    let (_, listed) = s.app.get_json(s.user, "/v1/evergreen").await;
    assert_eq!(listed["data"]["items"], json!([]));
    let (_, queue) = s
        .app
        .get_json(s.user, &format!("/v1/queue?channelId={channel}"))
        .await;
    assert_eq!(queue["data"]["items"], json!([]), "{queue}");
}
