//! Every refusal a person can meet in the app is a sentence next to what it is about, in
//! the app's words: never the API's regular expressions, paths, field pointers or codes.

use serde_json::json;

use super::{Browser, flows::publishing_app};

/// What must never reach a person: a code, an API path, the envelope's words, a pattern.
async fn speaks_plainly(browser: &Browser) {
    let text = browser.page_text().await;
    let code = regex::Regex::new(r"\b[A-Z]{2,}_[A-Z_]+\b").unwrap();
    for shown in [
        "/v1/",
        "/api/",
        "details",
        "[^",
        "\\s",
        "minItems",
        "verification failed",
    ] {
        assert!(!text.contains(shown), "the page shows `{shown}`:\n{text}");
    }
    assert!(!code.is_match(&text), "the page shows a code:\n{text}");
}

#[tokio::test]
async fn each_refusal_is_a_sentence_at_its_field() {
    let s = publishing_app().await;
    s.entry(crate::publishing::Entry::on("instagram", "Our new look"))
        .await;
    let browser = Browser::start(&s.app, "refusals").await;
    browser.sign_in_with_token(&s.app.token(s.user)).await;

    // Flashcards: the 1,000-character rule is said at the field as one types, and
    // Generate waits for it.
    browser.open("#/flashcards").await;
    browser
        .fill("#source-text", "Photosynthesis makes sugar.")
        .await;
    browser
        .wait_text("#source-count", "at least 1,000 are needed (973 more)")
        .await;
    assert_eq!(
        browser
            .script("return document.querySelector('#generate-cards').disabled")
            .await,
        json!(true)
    );
    speaks_plainly(&browser).await;
    let text = "Photosynthesis turns light into chemical energy in plants. ".repeat(17);
    browser.fill("#source-text", &text).await;
    browser
        .wait_text("#source-count", "enough to make cards")
        .await;
    assert_eq!(
        browser
            .script("return document.querySelector('#generate-cards').disabled")
            .await,
        json!(false)
    );

    // A calendar without channels: said at the channels, Generate waits.
    browser.open("#/calendar/new").await;
    browser
        .wait("#calendar-form input[name=channel]:checked")
        .await;
    for checked in browser
        .script("return [...document.querySelectorAll('input[name=channel]:checked')].map((b) => b.value)")
        .await
        .as_array()
        .unwrap()
    {
        browser
            .click(&format!("input[name=channel][value={}]", checked.as_str().unwrap()))
            .await;
    }
    browser
        .wait_text("#channels-field .field-error", "Pick at least one channel.")
        .await;
    assert_eq!(
        browser
            .script("return document.querySelector('#generate').disabled")
            .await,
        json!(true)
    );
    // The time zone is picked, not typed: the browser's own comes first.
    assert_eq!(
        browser
            .script("const z = document.querySelector('select[name=timezone]'); return [z.value, Intl.DateTimeFormat().resolvedOptions().timeZone]")
            .await
            .as_array()
            .map(|v| v[0] == v[1]),
        Some(true)
    );
    // A last day before the first: said at the last day.
    browser.click("input[name=channel][value=tiktok]").await;
    browser.set_value("input[name=start]", "2027-01-10").await;
    browser.set_value("input[name=end]", "2027-01-04").await;
    browser
        .wait_text(
            "label:has(input[name=end]) .field-error",
            "The last day must be on or after the first day",
        )
        .await;
    speaks_plainly(&browser).await;
    browser.fits_a_phone().await;

    // A refusal only the server can make (a brand id already taken) comes back at its field.
    browser.open("#/organic").await;
    for _ in 0..2 {
        browser.fill("#brands-form input[name=id]", "leafy").await;
        browser.fill("#brands-form input[name=name]", "Leafy").await;
        browser.click("#brands-form button").await;
        browser.wait("#brands li[data-id=leafy]").await;
    }
    browser
        .wait_text("#brands-form", "That id is already used")
        .await;
    speaks_plainly(&browser).await;

    // A dry run with a channel that is not connected: that entry is listed as not
    // plannable, with the reason in words and a Connect action, beside the rest.
    browser.open(&format!("#/publishing/{}", s.calendar)).await;
    browser.click("#select-all").await;
    browser.click("#dry-run").await;
    let said = browser
        .wait_text("#report .intent.refused", "Instagram is not connected")
        .await;
    assert!(said.contains("Connect with Instagram"), "{said}");
    let toast = browser
        .script("return document.querySelector('#toast').textContent")
        .await;
    assert!(
        !toast.as_str().unwrap().contains("not connected"),
        "said twice (at the report and in a toast): {toast}"
    );
    speaks_plainly(&browser).await;
    browser.screenshot().await;
}
