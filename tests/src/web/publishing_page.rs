//! The Publishing page of a long calendar: its entries a page at a time (220 of them stay
//! under two screens), the receipts in a tab of their own, "Publish now" saying first how
//! many of those chosen would be refused, the choice cleared once an action is done with
//! it, and Retry offered only where another try may go through.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::{Browser, flows::publishing_app};
use crate::helpers::fake_platforms::TikTokOutcome;
use crate::publishing::{Entry, Setup};

/// 220 entries: one on X (no adapter: refused), one on TikTok, 218 more on TikTok an hour
/// apart.
async fn a_long_calendar(s: &Setup) {
    let start: DateTime<Utc> = "2030-01-07T08:00:00Z".parse().unwrap();
    for n in 0..220 {
        let at = (start + Duration::hours(n)).to_rfc3339();
        let (channel, caption) = match n {
            0 => ("x", "Hiring".to_owned()),
            1 => ("tiktok", "Banned soon".to_owned()),
            _ => ("tiktok", format!("Tea note {n}")),
        };
        s.entry(Entry {
            at: &at,
            ..Entry::on(channel, &caption)
        })
        .await;
    }
}

#[tokio::test]
async fn a_long_calendar_is_paged_asks_before_what_would_be_refused_and_keeps_receipts_apart() {
    let s = publishing_app().await;
    s.connect_tiktok().await;
    // TikTok refuses the post for good: another try would be refused the same way.
    s.fake
        .with(|f| f.tiktok_outcome = TikTokOutcome::Failed("spam_risk_user_banned_from_posting"));
    a_long_calendar(&s).await;
    let browser = Browser::start(&s.app, "publishing-page").await;
    browser.sign_in_with_token(&s.app.token(s.user)).await;
    browser.viewport(1280, 800).await;
    browser.open(&format!("#/publishing/{}", s.calendar)).await;
    browser.wait_text("#page-at", "Entries 1–15 of 220").await;
    assert_eq!(browser.count("#entries tbody tr:not([hidden])").await, 15);
    browser.screenshot_of("entries").await;
    // One zone for every time shown: without one on the account, the calendar's.
    let expires = browser
        .script("return [...document.querySelectorAll('#accounts .muted')].map((e) => e.textContent).find((t) => t.startsWith('token expires'))")
        .await;
    assert!(
        expires
            .as_str()
            .unwrap_or_default()
            .ends_with("(Europe/Madrid)"),
        "{expires}"
    );
    let page = browser
        .script(
            "const high = (css) => Math.round(document.querySelector(css)?.getBoundingClientRect().height ?? 0);
             return [document.documentElement.scrollHeight, innerHeight,
               { channels: high('#channels'), entries: high('#entries'), tools: high('#entry-tools'), bar: high('.action-bar') }]",
        )
        .await;
    assert!(
        page[0].as_u64().unwrap() <= 2 * page[1].as_u64().unwrap(),
        "the page is over two screens: {page}"
    );
    browser.click("#page-next").await;
    browser.wait_text("#page-at", "Entries 16–30 of 220").await;
    browser.click("#select-all").await;
    browser.wait_text("#selected-count", "220 selected").await;
    browser.click("#select-none").await;
    browser.click("#page-prev").await;
    browser.wait_text("#page-at", "Entries 1–15 of 220").await;

    // Publish now asks first, saying how many of the two would be refused (X's).
    browser.click("#entries input[aria-label*='Hiring']").await;
    browser
        .click("#entries input[aria-label*='Banned soon']")
        .await;
    browser.wait_text("#selected-count", "2 selected").await;
    browser.click("#publish-now").await;
    browser
        .wait_text("#confirm-refused", "1 of them would be refused")
        .await;
    browser.screenshot_of("confirm").await;
    browser.click("#confirm-no").await;
    assert_eq!(s.fake.publishing_calls(), 0);
    browser.wait_text("#selected-count", "2 selected").await;
    browser.click("#publish-now").await;
    browser.wait("#confirm-refused").await;
    browser.click("#confirm-yes").await;
    // Done: the choice is cleared.
    browser.wait_text("#selected-count", "0 selected").await;

    // The receipts, in their own tab: TikTok's refusal offers no Retry, and says why.
    browser.click("#tab-receipts").await;
    let failed = ".intent-row[data-channel=tiktok][data-status=failed]";
    browser.wait_count(failed, 1).await;
    assert_eq!(browser.count(&format!("{failed} .retry")).await, 0);
    assert!(
        browser
            .text(&format!("{failed} .change-first"))
            .await
            .contains("refused the same way")
    );
    // X's, which no adapter publishes to, neither.
    let unsupported = ".intent-row[data-channel=x][data-status=failed]";
    assert_eq!(browser.count(unsupported).await, 1);
    assert_eq!(browser.count(&format!("{unsupported} .retry")).await, 0);
    let shown = browser
        .script("return [document.getElementById('panel-entries').hidden, document.getElementById('panel-receipts').hidden]")
        .await;
    assert_eq!(shown, json!([true, false]));
    browser.screenshot_of("receipts").await;
    browser.fits_a_phone().await;
}
