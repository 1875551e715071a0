//! Bluesky in the web app (issue 56): "Connect with Bluesky" asks for a handle and an app
//! password in a dialog (a refusal said at the password, which is cleared), the accounts list
//! names the account, and a Bluesky entry is published from the calendar's page.

use super::{Browser, flows::publishing_app};
use crate::publishing::Entry;
use almanac_publishing::platforms::bluesky::fake::{FRIEND_DID, HANDLE};

#[tokio::test]
async fn bluesky_connects_with_a_handle_and_an_app_password_and_its_entry_is_published() {
    let s = publishing_app().await;
    s.entry(Entry {
        format: "post",
        media: None,
        ..Entry::on("bluesky", "Hello @alice.example.com")
    })
    .await;
    let browser = Browser::start(&s.app, "bluesky").await;
    browser.sign_in_with_token(&s.app.token(s.user)).await;
    browser.open("#/publishing").await;
    browser.click("#connect-bluesky").await;
    browser.wait("dialog.sign-in[open]").await;
    browser.every_input_is_labelled().await;
    let hint = browser.text("dialog.sign-in").await;
    assert!(hint.contains("App passwords"), "{hint}");
    assert!(hint.contains("never kept"), "{hint}");
    browser
        .fill("dialog.sign-in input[name=identifier]", HANDLE)
        .await;
    browser
        .fill("dialog.sign-in input[name=password]", "my-real-password")
        .await;
    browser.click("#sign-in-connect").await;
    let refused = browser
        .wait_text("dialog.sign-in .field-error", "did not accept")
        .await;
    assert!(refused.contains("xxxx-xxxx-xxxx-xxxx"), "{refused}");
    let cleared = browser
        .script("return document.querySelector('dialog.sign-in input[name=password]').value")
        .await;
    assert_eq!(cleared, "");
    browser.screenshot_of("refused").await;
    browser.fits_a_phone().await;

    browser
        .fill(
            "dialog.sign-in input[name=password]",
            crate::helpers::fake_platforms::APP_PASSWORD,
        )
        .await;
    browser.click("#sign-in-connect").await;
    browser
        .wait_text(
            "#accounts li[data-channel=bluesky]",
            "Almanac Studio (@almanac.bsky.social)",
        )
        .await;
    assert_eq!(browser.count("dialog.sign-in").await, 0);
    browser.screenshot_of("connected").await;

    // Published from the calendar's page, once, with the mention linked.
    browser.open(&format!("#/publishing/{}", s.calendar)).await;
    browser.click("#select-all").await;
    browser.click("#dry-run").await;
    browser
        .wait_count("#dry-run-report .intent[data-status=dry_run]", 1)
        .await;
    browser.click("#publish-now").await;
    browser.wait_text("dialog.confirm h2", "Publish").await;
    browser.click("#confirm-yes").await;
    browser
        .wait_count(".intent-row[data-status=published]", 1)
        .await;
    let records = s.fake.with(|f| f.bsky.records.clone());
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].value["facets"][0]["features"][0]["did"],
        FRIEND_DID
    );
    browser.screenshot().await;
}
