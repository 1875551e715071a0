//! Nothing a person types is lost: a refused or unsent edit keeps its dialog and its text,
//! Back on a changed dialog asks first, a post's text is counted against its platform's
//! limits before the server is asked, the organic week offers only the formats there are and
//! says what a refused save or generation was about, the flashcard counter knows both of
//! its limits, and an Almanac that does not answer is not taken for "signed out". At 1280 px
//! and 375 px.

use serde_json::{Value, json};
use uuid::Uuid;

use super::{Browser, flows::publishing_app};
use crate::helpers::{TestOptions, spawn_app_with};
use crate::publishing::Entry;

/// The value of the form control `css`.
async fn value(browser: &Browser, css: &str) -> String {
    let script = format!(
        "return document.querySelector({}).value",
        serde_json::to_string(css).unwrap()
    );
    browser.script(&script).await.as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_entry_edit_stays_in_its_dialog_until_the_server_takes_it() {
    let mut s = publishing_app().await;
    let entry = s.entry(Entry::on("instagram", "Our new look")).await;
    let browser = Browser::start(&s.app, "entry-edits").await;
    browser.sign_in_with_token(&s.app.token(s.user)).await;
    let page = format!("#/calendar/{}", s.calendar);
    browser.open(&page).await;
    browser.click(".entry").await;
    browser.wait("#entry-editor[open]").await;
    browser.every_input_is_labelled().await;

    // The counter reads the post as it will be sent: the caption, the call to action and
    // the hashtags, a blank line apart ("Follow for more", "#launch #almanac").
    let counter = "#entry-counter [data-field=text]";
    browser
        .wait_text(counter, "Instagram: 47 of 2,200 characters")
        .await;
    // Over the limit with the three together, though the caption alone is within it: said
    // before anything is sent.
    let caption = "x".repeat(2_180);
    browser
        .set_value("#entry-editor textarea[name=caption]", &caption)
        .await;
    let said = browser.wait_text(counter, "too many").await;
    assert_eq!(
        said,
        "Instagram: 2,215 of 2,200 characters, 15 too many (caption, call to action and hashtags together)"
    );
    assert_eq!(browser.count("#entry-counter .over").await, 1);
    browser.screenshot_of("over").await;

    // A caption the server refuses: the dialog stays, the text stays, the refusal is at the
    // caption; nothing is saved.
    let refused = "y".repeat(2_201);
    browser
        .set_value("#entry-editor textarea[name=caption]", &refused)
        .await;
    browser.click("#entry-save").await;
    browser
        .wait_text(
            "label:has(textarea[name=caption]) .field-error",
            "The caption is too long for this channel.",
        )
        .await;
    browser.wait("#entry-editor[open]").await;
    assert_eq!(
        value(&browser, "#entry-editor textarea[name=caption]").await,
        refused
    );
    browser.screenshot_of("refused").await;
    let stored: String = sqlx::query_scalar("select caption from calendar_entries where id = $1")
        .bind(entry)
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(stored, "Our new look");

    // The browser's Back on the changed dialog asks first; Keep keeps the dialog, the text
    // and the page.
    browser.client.back().await.unwrap();
    browser.keep_after("Discard your changes?").await;
    browser.wait("#entry-editor[open]").await;
    assert_eq!(
        value(&browser, "#entry-editor textarea[name=caption]").await,
        refused
    );
    assert!(
        browser
            .client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .ends_with(&page),
        "Back left the calendar"
    );

    // Almanac stops: the save cannot reach it, and the dialog keeps what was typed.
    browser
        .set_value(
            "#entry-editor textarea[name=caption]",
            "Kept while Almanac was away",
        )
        .await;
    s.app.stop_api().await;
    browser.click("#entry-save").await;
    browser
        .wait_text("#entry-problem", "Almanac could not be reached")
        .await;
    browser.wait("#entry-editor[open]").await;
    assert_eq!(
        value(&browser, "#entry-editor textarea[name=caption]").await,
        "Kept while Almanac was away"
    );
    browser.screenshots_at("#entry-editor").await;
}

#[tokio::test]
async fn the_organic_week_offers_its_formats_and_says_what_a_refusal_was_about() {
    let app = spawn_app_with(TestOptions::default()).await;
    let user = Uuid::new_v4();
    crate::organic::library(&app, user).await;
    let browser = Browser::start(&app, "organic-refusals").await;
    browser.sign_in_with_token(&app.token(user)).await;
    browser.open("#/organic/brand_123/2026-02-02").await;
    browser.wait("#seed-form").await;

    // Format is a choice of seed 003's formats, in words (no free text a rule refuses).
    let offered = browser
        .script(
            "return [...document.querySelectorAll('#seed-form select[name=desiredFormat] option')]
                .map((o) => [o.value, o.textContent])",
        )
        .await;
    assert_eq!(
        offered,
        json!([
            ["", "Any format"],
            ["reel", "Reel"],
            ["carousel", "Carousel"],
            ["story", "Story"],
            ["post", "Post"],
            ["newsletter", "Newsletter"]
        ])
    );
    browser
        .set_value("#seed-form select[name=desiredFormat]", "reel")
        .await;
    browser.click("#add-seed").await;
    browser
        .wait_text("#draft-status", "Seeds and options saved.")
        .await;
    let (_, draft) = app
        .get_json(user, "/api/organic/brands/brand_123/weeks/2026-02-02/draft")
        .await;
    assert_eq!(draft["placements"][0]["desiredFormat"], "reel", "{draft}");

    // An option the server refuses: the status says so, naming the option, never "saved".
    browser
        .set_value("input[name=language]", &"en-US-".repeat(8))
        .await;
    let said = browser.wait_text("#draft-status", "Not saved").await;
    assert_eq!(
        said,
        "Not saved: Give the language as a tag such as en-US or fr-FR."
    );
    assert_eq!(browser.count("#draft-status.bad").await, 1);
    browser
        .wait_text(
            "label:has(input[name=language]) .field-error",
            "Give the language as a tag",
        )
        .await;

    // Generate with it: the status stops saying "Generating…" and says what failed.
    browser.click("#generate-week").await;
    let said = browser
        .wait_text("#organic-status", "The week was not generated")
        .await;
    assert!(said.contains("Give the language as a tag"), "{said}");
    assert_eq!(
        browser
            .script("return document.querySelector('#organic-status').dataset.state")
            .await,
        json!("failed")
    );
    assert_eq!(
        browser
            .script("return [document.querySelector('#generate-week').disabled, document.querySelector('#organic-progress').hidden]")
            .await,
        json!([false, true])
    );
    browser.screenshots_at("#organic-status").await;
}

#[tokio::test]
async fn the_flashcard_counter_knows_both_limits() {
    let app = spawn_app_with(TestOptions::default()).await;
    let user = Uuid::new_v4();
    let browser = Browser::start(&app, "flashcards-limits").await;
    browser.sign_in_with_token(&app.token(user)).await;
    browser.open("#/flashcards").await;
    browser
        .set_value(
            "#source-text",
            &"Leaves turn light into sugar. ".repeat(400),
        )
        .await;
    let said = browser.wait_text("#source-count", "at most").await;
    assert_eq!(
        said,
        "12,000 characters: at most 10,000 can be used (2,000 too many)."
    );
    let generate = browser
        .script("return document.querySelector('#generate-cards').disabled")
        .await;
    assert_eq!(
        generate,
        json!(true),
        "Generate waits for a text it can send"
    );
    let (_, generations) = app.get_json(user, "/api/ai/generations").await;
    assert_eq!(generations["items"].as_array().map(Vec::len), Some(0));
    browser.screenshots_at("#source-count").await;
}

#[tokio::test]
async fn an_almanac_that_does_not_answer_is_not_taken_for_signed_out() {
    let app = spawn_app_with(TestOptions {
        env: vec![("DEV_LOGIN", "true".into())],
        db_proxy: true,
        ..Default::default()
    })
    .await;
    let browser = Browser::start(&app, "unreachable").await;
    browser.sign_in().await;
    // The database goes: the session check answers 503, and the page says Almanac cannot be
    // reached, with Retry, instead of asking to sign in.
    let proxy = app.db_proxy.as_ref().unwrap();
    proxy.partition();
    browser.client.refresh().await.unwrap();
    browser
        .wait_text("#unreachable", "Almanac cannot be reached")
        .await;
    assert_eq!(browser.count("#token").await, 0, "the sign-in page");
    let nav: Value = browser
        .script("return document.getElementById('nav').hidden")
        .await;
    assert_eq!(nav, json!(true));
    browser.screenshots_at("#unreachable").await;
    // Back: once Almanac reaches its database again, Retry finds the session as it was.
    proxy.heal();
    crate::helpers::eventually(
        std::time::Duration::from_secs(30),
        "the API to reach Postgres again",
        || async {
            let ready = app.client.get(app.url("/readyz")).send().await.ok()?;
            ready.status().is_success().then_some(())
        },
    )
    .await;
    browser.viewport(1280, 900).await;
    browser.click("#retry").await;
    browser.wait("#nav:not([hidden])").await;
    browser.wait("#calendar-form").await;
}

/// The schedule editor saves every valid change at once; an address typed that is not one
/// is not saved, and leaving the page then (a link, or the browser's Back) asks first.
#[tokio::test]
async fn leaving_a_schedule_with_an_address_not_saved_asks_first() {
    let app = spawn_app_with(TestOptions::default()).await;
    let user = Uuid::new_v4();
    let theme = app
        .create_theme(user, &json!({ "name": "Tea", "sources": [] }))
        .await;
    let browser = Browser::start(&app, "schedule-leave").await;
    browser.sign_in_with_token(&app.token(user)).await;
    let page = format!("#/themes/{theme}");
    browser.open(&page).await;
    browser.click("#add-email").await;
    browser
        .fill("#schedule-emails input[type=email]", "not-an-email")
        .await;
    browser.script("document.activeElement.blur()").await;
    browser
        .wait_text("#schedule-emails .field-error", "Not a valid email")
        .await;

    // A link elsewhere asks; Keep stays, with the address as typed.
    browser.click("#nav a[href='#/calendar']").await;
    browser.keep_after("Leave this page?").await;
    browser
        .until(
            "the address to go back to the schedule's page",
            "return location.hash",
            |hash| hash == &json!(page),
        )
        .await;
    assert_eq!(
        value(&browser, "#schedule-emails input[type=email]").await,
        "not-an-email"
    );
    browser.screenshot_of("kept").await;
    // The browser's Back asks too; Leave leaves.
    browser.client.back().await.unwrap();
    browser
        .wait_text("dialog.confirm h2", "Leave this page?")
        .await;
    browser.click("#confirm-yes").await;
    browser.wait_count("#schedule", 0).await;
    browser.fits_a_phone().await;
    browser.screenshot().await;
}
