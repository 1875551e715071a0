//! One account, by its name: a connected channel reads as its display name and @handle, and
//! each of the organic week's linked accounts says which connected channel it is (found by
//! its id or by its handle; Facebook's and YouTube's are the publishing channels of those
//! names), or that none is. At 1280 px and 375 px.

use reqwest::Method;
use serde_json::json;

use super::{Browser, flows::publishing_app};
use crate::helpers::fake_platforms::{IG_USER, TIKTOK_OPEN_ID};
use almanac_publishing::platforms::{
    facebook::fake::{PAGES, page_token},
    youtube::fake::CHANNEL as YT_CHANNEL,
};

/// The Facebook page the fake lists first.
const FB_PAGE: &str = PAGES[0].0;

#[tokio::test]
async fn a_linked_account_names_the_channel_it_is_found_by_handle_or_id() {
    let s = publishing_app().await;
    // The brand's accounts as typed: Instagram `ig_123` (handle `@leafy`), LinkedIn
    // `li_456`; and TikTok by its id.
    crate::organic::library(&s.app, s.user).await;
    let (status, linked) = s
        .app
        .send_json(
            Method::POST,
            s.user,
            "/api/organic/brands/brand_123/accounts",
            &json!({ "platform": "tiktok", "accountId": TIKTOK_OPEN_ID }),
        )
        .await;
    assert_eq!(status, 201, "{linked}");
    // The week's Facebook and YouTube accounts, typed as the page's id and the channel's
    // handle: they are the new publishing channels.
    for (platform, account) in [("facebook", FB_PAGE), ("youtube", "@leafyco")] {
        let (status, linked) = s
            .app
            .send_json(
                Method::POST,
                s.user,
                "/api/organic/brands/brand_123/accounts",
                &json!({ "platform": platform, "accountId": account }),
            )
            .await;
        assert_eq!(status, 201, "{linked}");
    }
    s.connect("facebook", FB_PAGE, &page_token(FB_PAGE), None, 5_184_000)
        .await;
    let youtube = s
        .connect("youtube", YT_CHANNEL, "yt-token", None, 3_600)
        .await;
    s.update_channel(youtube, "handle = '@leafyco', display_name = 'Leafy Co'")
        .await;
    // Instagram connected as its number, which the platform said is `@leafy`, "Leafy Co".
    let instagram = s
        .connect("instagram", IG_USER, "ig-token", None, 5_184_000)
        .await;
    s.update_channel(instagram, "handle = 'leafy', display_name = 'Leafy Co'")
        .await;
    s.connect_tiktok().await;

    let browser = Browser::start(&s.app, "account-names").await;
    browser.sign_in_with_token(&s.app.token(s.user)).await;
    browser.viewport(1280, 900).await;
    browser.open("#/organic/brand_123/2026-02-02").await;
    let said = |account: &str, matched: &str| {
        format!(
            "#linked-accounts li[data-account=\"{account}\"] .account-connection[data-match={matched}]"
        )
    };
    assert_eq!(
        browser
            .wait_text(&said("ig_123", "handle"), "Connected")
            .await,
        "Connected as Leafy Co (@leafy), found by its handle"
    );
    assert_eq!(
        browser
            .wait_text(&said(TIKTOK_OPEN_ID, "id"), "Connected")
            .await,
        format!("Connected: {TIKTOK_OPEN_ID}")
    );
    assert_eq!(
        browser.wait_text(&said(FB_PAGE, "id"), "Connected").await,
        format!("Connected: {FB_PAGE}")
    );
    assert_eq!(
        browser
            .wait_text(&said("@leafyco", "handle"), "Connected")
            .await,
        "Connected as Leafy Co (@leafyco), found by its handle"
    );
    assert_eq!(
        browser
            .wait_text(&said("li_456", "none"), "Not connected")
            .await,
        "Not connected: connect it in Publishing to post there"
    );
    // The week's times are the brand's, and say so.
    assert_eq!(
        browser.text("#week-zone").await,
        "Times in America/Los_Angeles"
    );
    browser.screenshot_of("organic").await;

    // Publishing lists the channel by its names (its number on hover).
    browser.open(&format!("#/publishing/{}", s.calendar)).await;
    let name = browser
        .wait_text(
            "#accounts li[data-channel=instagram] .account-name",
            "Leafy",
        )
        .await;
    assert_eq!(name, "Leafy Co (@leafy)");
    assert_eq!(
        browser
            .script("return document.querySelector('#accounts li[data-channel=instagram] .account-name').title")
            .await,
        json!(IG_USER)
    );
    browser.screenshots_at("#accounts").await;
}
