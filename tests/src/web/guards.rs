//! What destroys asks first, what was typed is not lost, and the page's frame is right:
//! confirmations (Keep leaves everything as it was), unsaved changes guarded against Esc,
//! a typed source kept, addresses checked as they are added, the nav hidden while signed
//! out, a favicon, and publish buttons that say why they are off. At 1280 px and 375 px.

use serde_json::{Value, json};

use super::{Browser, flows::publishing_app_with};
use crate::publishing::{Entry, Setup};

async fn themes(s: &crate::publishing::Setup) -> Vec<Value> {
    let (_, list) = s.app.get_json(s.user, "/api/v1/themes").await;
    list.as_array().unwrap().clone()
}

/// Signed out: no nav, no Sign out; the page has its icon. With no email provider, the
/// sign-in page says links cannot be sent and offers the token at once.
async fn signed_out_there_is_no_nav_and_the_page_has_its_icon(s: &Setup, browser: &Browser) {
    browser.open("").await;
    browser.wait("#token").await;
    browser
        .wait_text("#no-email", "cannot send sign-in links")
        .await;
    assert_eq!(browser.count("#sign-in-email").await, 0);
    assert_eq!(browser.count("#account-menu").await, 0);
    assert_eq!(
        browser
            .script("return getComputedStyle(document.getElementById('nav')).display")
            .await,
        json!("none")
    );
    let icon = s
        .app
        .client
        .get(s.app.url("/app/favicon.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    assert_eq!(
        browser
            .script("return document.querySelector('link[rel=icon]').getAttribute('href')")
            .await,
        json!("/app/favicon.svg")
    );
}

/// Publishing is off here: its buttons are off too, and say why; a dry run still works.
async fn publish_buttons_say_why_they_are_off(s: &Setup, browser: &Browser) {
    browser.open(&format!("#/publishing/{}", s.calendar)).await;
    browser.wait("#publishing-off").await;
    for button in ["#publish-now", "#schedule-publish"] {
        assert_eq!(
            browser
                .script(&format!(
                    "return document.querySelector('{button}').disabled"
                ))
                .await,
            json!(true),
            "{button}"
        );
    }
    browser
        .wait_text("#publishing-off", "Publishing is switched off")
        .await;
    assert_eq!(
        browser
            .script("return document.querySelector('#dry-run').disabled")
            .await,
        json!(false)
    );
}

#[tokio::test]
async fn destructive_actions_ask_first_and_nothing_typed_is_lost() {
    let s = publishing_app_with(false).await;
    s.entry(Entry::on("instagram", "Our new look")).await;
    let browser = Browser::start(&s.app, "guards").await;

    signed_out_there_is_no_nav_and_the_page_has_its_icon(&s, &browser).await;
    browser.sign_in_with_token(&s.app.token(s.user)).await;

    // A feed that is not an address is refused as it is added; a source typed but not
    // added is kept when the theme is created.
    browser.open("#/themes").await;
    browser.fill("#theme-form input[name=name]", "Tea").await;
    browser
        .set_value("#theme-form select[name=sourceType]", "rss")
        .await;
    browser
        .fill("#theme-form input[name=sourceValue]", "tea news")
        .await;
    browser.click("#theme-form button.secondary").await;
    browser
        .wait_text("#theme-form .field-error", "full web address")
        .await;
    browser
        .set_value("#theme-form select[name=sourceType]", "text")
        .await;
    browser
        .fill("#theme-form input[name=sourceValue]", "Chai is spiced tea.")
        .await;
    browser.click("#theme-form button:not([type=button])").await;
    browser.wait("#schedule").await;
    let created = themes(&s).await;
    assert_eq!(created.len(), 1);
    assert_eq!(
        created[0]["sources"],
        json!([{ "type": "text", "value": "Chai is spiced tea." }])
    );

    // Deleting the theme asks; Keep keeps it, the named button deletes it.
    browser.click("#theme .danger").await;
    browser
        .wait_text("dialog.confirm h2", "Delete the theme “Tea”?")
        .await;
    browser.fits_a_phone().await;
    browser.click("#confirm-no").await;
    assert_eq!(themes(&s).await.len(), 1);
    browser.click("#theme .danger").await;
    browser.click("#confirm-yes").await;
    browser
        .wait_text("#view", "Choose or create a theme.")
        .await;
    assert_eq!(themes(&s).await.len(), 0);

    // An edited dialog is not closed by Esc without asking.
    browser.open("#/organic").await;
    browser.fill("#brands-form input[name=name]", "Leafy").await;
    browser.click("#brands-form button").await;
    browser.wait("#brands li .link").await;
    browser.click("#brands li button.link").await; // Edit
    browser
        .fill("dialog:not(.confirm) input[name=name]", "Leafy Co")
        .await;
    browser.press_escape().await;
    browser.keep_after("Discard your changes?").await;
    assert_eq!(
        browser
            .script(
                "return document.querySelector('dialog[open]:not(.confirm) input[name=name]').value"
            )
            .await,
        json!("Leafy Co"),
        "Keep leaves the edit open as it was"
    );
    browser.press_escape().await;
    browser.click("#confirm-yes").await;
    browser.wait_count("dialog[open]", 0).await;
    let (_, brands) = s.app.get_json(s.user, "/api/organic/brands").await;
    assert_eq!(brands[0]["name"], "Leafy", "nothing saved: {brands}");
    // Removing the brand asks too.
    browser
        .click("#brands li button.link[aria-label^='Remove']")
        .await;
    browser.keep_after("Remove “Leafy”?").await;
    let (_, brands) = s.app.get_json(s.user, "/api/organic/brands").await;
    assert_eq!(brands.as_array().unwrap().len(), 1);

    publish_buttons_say_why_they_are_off(&s, &browser).await;
    browser.fits_a_phone().await;
    browser.screenshot().await;
}

#[tokio::test]
async fn an_account_is_one_idea_on_the_organic_page_and_in_publishing() {
    let s = publishing_app_with(true).await;
    let browser = Browser::start(&s.app, "accounts").await;
    browser.sign_in_with_token(&s.app.token(s.user)).await;
    browser.open("#/organic").await;
    browser.fill("#brands-form input[name=id]", "leafy").await;
    browser.fill("#brands-form input[name=name]", "Leafy").await;
    browser.click("#brands-form button").await;
    browser.wait("#account-form").await;
    browser
        .set_value("#account-form select[name=platform]", "instagram")
        .await;
    browser
        .fill("#account-form input[name=accountId]", "ig_123")
        .await;
    browser.click("#account-form button").await;
    // Listed once, with its use-this-week box and Unlink, and what an account id is.
    browser.wait_count("#linked-accounts li", 1).await;
    assert_eq!(browser.count("input[name=use-account]").await, 1);
    assert_eq!(
        browser
            .count("#board ul.list li button[aria-label^='Unlink']")
            .await,
        1
    );
    let board = browser.text("#board").await;
    assert!(board.contains("An account id is"), "{board}");
    // The seed form offers only the chosen platform's accounts.
    browser
        .set_value("#seed-form select[name=platform]", "linkedin")
        .await;
    assert_eq!(
        browser
            .script("return [...document.querySelectorAll('#seed-form select[name=account] option')].filter((o) => !o.hidden).map((o) => o.value)")
            .await,
        json!([""])
    );
    browser
        .set_value("#seed-form select[name=platform]", "instagram")
        .await;
    assert_eq!(
        browser
            .script("return [...document.querySelectorAll('#seed-form select[name=account] option')].filter((o) => !o.hidden).map((o) => o.value)")
            .await,
        json!(["", "ig_123"])
    );
    browser.fits_a_phone().await;

    // In publishing it is the same account: not connected, with Connect, never Disconnect.
    browser.open("#/publishing").await;
    let row = "#accounts li[data-channel=instagram]";
    browser.wait_text(row, "not connected").await;
    assert_eq!(browser.count(&format!("{row} .connect-account")).await, 1);
    let text = browser.text(row).await;
    assert!(
        !text.contains("Disconnect") && !text.contains("disconnected"),
        "{text}"
    );
    browser.fits_a_phone().await;
    browser.screenshot().await;
}
