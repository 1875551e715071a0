//! The Analytics page (issue 58): a person who published a post, read a week later, sees
//! the channel's engagement rate, the post's numbers, reads them again on demand, and the
//! channel's best times drawn as a week's heat map learned from its history. At 1280 px
//! and 375 px.

use chrono::Duration;

use super::{Browser, flows::publishing_app};

#[tokio::test]
async fn the_analytics_page_shows_the_numbers_reads_again_and_draws_the_best_times() {
    let s = publishing_app().await;
    let channel = s.connect_tiktok().await;
    crate::publishing::analytics::a_history(&s, channel).await;
    let (intent, at) = crate::publishing::analytics::published_now(&s, "tiktok", channel).await;
    assert_eq!(
        crate::publishing::analytics::pass(&s, at + Duration::days(7)).await,
        1
    );
    crate::publishing::analytics::read(&s).await;

    let browser = Browser::start(&s.app, "analytics").await;
    browser.sign_in_with_token(&s.app.token(s.user)).await;
    browser.viewport(1280, 900).await;
    browser.open("#/analytics").await;
    browser
        .wait(&format!(
            "#analytics-channels .stat-card[data-channel=\"{channel}\"]"
        ))
        .await;
    // The week's reading: (40 likes + 6 comments + 4 shares) / 500 views.
    let card = browser
        .text(&format!(
            "#analytics-channels .stat-card[data-channel=\"{channel}\"]"
        ))
        .await;
    assert!(card.contains("10%"), "{card}");
    assert!(card.contains("Posts: 1 · with numbers: 1"), "{card}");
    let row = format!("#analytics-post-table tr[data-intent=\"{intent}\"]");
    browser.wait(&row).await;
    let numbers = browser.text(&row).await;
    assert!(numbers.contains("500"), "{numbers}");
    assert!(numbers.contains("After 1 week"), "{numbers}");
    // The best times, learned from the ten posts of its history and this one.
    browser.wait_count("#heat-map rect.heat", 168).await;
    browser
        .wait_text("#best-source", "Learned from your 11 posts")
        .await;
    assert_eq!(
        browser
            .count("#heat-map rect.heat.best[data-weekday=mon][data-hour=\"8\"]")
            .await,
        1
    );
    browser.screenshot_of("analytics").await;

    // Read now: one more reading, shown once it is in.
    browser.click(&format!("{row} button")).await;
    crate::publishing::analytics::read(&s).await;
    browser.wait_text(&row, "Read on demand").await;
    assert_eq!(
        crate::publishing::analytics::kept(&s, intent).await.len(),
        2
    );
    browser.wait_text(&row, "1,000").await;

    browser.viewport(375, 800).await;
    browser.screenshot_of("analytics-phone").await;
    browser.fits_a_phone().await;

    // The post's numbers on its chip and in its dialog, in the calendar.
    browser.viewport(1280, 900).await;
    browser.open(&format!("#/calendar/{}", s.calendar)).await;
    let chip = browser.wait_text(".chip .chip-stat", "♥ 80").await;
    assert!(chip.contains("10%"), "{chip}");
    browser.click(".chip").await;
    let numbers = browser.wait_text("#entry-numbers", "1,000").await;
    assert!(numbers.contains("Read on demand"), "{numbers}");
    browser.screenshot_of("entry-numbers").await;
    browser.click("#entry-close").await;

    // The channel's best times beside its posting slots.
    browser.open(&format!("#/publishing/{}", s.calendar)).await;
    browser
        .click(&format!(".slots-open[data-channel-id=\"{channel}\"]"))
        .await;
    browser.click("#channel-best summary").await;
    browser
        .wait_count("#slots-dialog #heat-map rect.heat", 168)
        .await;
    browser.screenshot_of("slots-best-times").await;
}
