//! The other sections in the browser: flashcards, the organic week, publishing, webhooks
//! (themes and their digests in `themes.rs`).

use serde_json::json;
use uuid::Uuid;

use super::{Browser, app_with};

#[tokio::test]
async fn flashcards_generate_accept_one_with_an_edit_and_download_it_for_anki() {
    let app = app_with(vec![]).await;
    let browser = Browser::start(&app, "flashcards").await;
    browser.sign_in().await;
    browser.open("#/flashcards").await;
    // With the offline provider, the page says the answers are sample text.
    browser
        .wait_text("#offline-banner", "No AI model is connected")
        .await;
    let text = "Photosynthesis turns light into chemical energy in plants. ".repeat(20);
    browser.fill("#source-text", &text).await;
    browser.click("#generate-cards").await;
    browser.wait(".suggestion").await;
    browser.every_input_is_labelled().await;
    // Unreviewed suggestions wait on the server: a reload with nothing kept in the tab
    // (another device) lists the generation and reopens them.
    browser
        .wait_text("#generations .to-review", "20 suggestions to review")
        .await;
    browser.script("sessionStorage.clear()").await;
    browser.client.refresh().await.unwrap();
    browser.wait_count(".suggestion", 20).await;
    // Come back to the page without the generation in the address: the newest one with
    // suggestions to review opens.
    browser.open("#/calendar").await;
    browser.wait("#calendar-list").await;
    browser.open("#/flashcards").await;
    browser.wait_count(".suggestion", 20).await;
    assert_eq!(browser.count("#generations .generation").await, 1);
    browser
        .fill(".suggestion input[name=front]", "Edited question?")
        .await;
    browser.click(".suggestion .accept").await;
    browser.wait_count("#cards tr[data-id]", 1).await;
    browser.wait_text("#cards", "Edited question?").await;
    browser
        .wait_text("#generations .to-review", "19 suggestions to review")
        .await;
    browser.click("#download-csv").await;
    let csv = browser.downloaded("almanac-cards.csv").await;
    let cards: Vec<&str> = csv.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(cards.len(), 1, "{csv}");
    assert!(cards[0].contains(",Basic,Edited question?,"), "{csv}");
    browser.click("#download-apkg").await;
    let package = browser.downloaded_bytes("almanac.apkg").await;
    assert!(package.starts_with(b"PK"), "a zip");

    // Another text that overlaps: what is a card already is left out, and said so.
    browser
        .click(".suggestion:not(:has(.accept[disabled])) .accept")
        .await;
    browser.wait_count("#cards tr[data-id]", 2).await;
    let more = format!("{text}Chlorophyll makes leaves green.");
    browser.fill("#source-text", &more).await;
    browser.click("#generate-cards").await;
    browser
        .wait_text(
            "#generations .skipped",
            "1 left out: you have that card already",
        )
        .await;
    // The first text again: its suggestions still to review come back, no AI asked.
    browser.fill("#source-text", &text).await;
    browser.click("#generate-cards").await;
    browser.wait_text("#generations .reused", "reused").await;
    browser
        .wait_text("#flashcards-status", "You generated this text before")
        .await;
    browser
        .script("document.getElementById('generations').scrollIntoView()")
        .await;
    browser.screenshot_of("reused").await;
    browser.fits_a_phone().await;
    // Deleting a card asks; Keep keeps it, Delete deletes it.
    browser.click("#cards .delete-card").await;
    browser.keep_after("Delete this card?").await;
    browser.wait_count("#cards tr[data-id]", 2).await;
    browser.click("#cards .delete-card").await;
    browser.click("#confirm-yes").await;
    browser.wait_count("#cards tr[data-id]", 1).await;
    browser.screenshot().await;
}

/// Cloze cards from the generation form: the kinds are chosen with checkboxes, and a cloze
/// suggestion and card say what they are.
#[tokio::test]
async fn cloze_cards_are_asked_for_in_the_form_and_shown_as_such() {
    let app = app_with(vec![]).await;
    let browser = Browser::start(&app, "cloze").await;
    browser.sign_in().await;
    browser.open("#/flashcards").await;
    let text = "Plants need light, water and carbon dioxide to grow well. ".repeat(20);
    browser.fill("#source-text", &text).await;
    browser.click("#card-types input[value=cloze]").await;
    browser.click("#card-types input[value=basic]").await;
    browser.every_input_is_labelled().await;
    browser.click("#generate-cards").await;
    browser.wait(".suggestion[data-type=cloze]").await;
    assert_eq!(browser.count(".suggestion[data-type=basic]").await, 0);
    let first = browser.text(".suggestion[data-type=cloze]").await;
    assert!(first.contains("Cloze"), "{first}");
    assert!(
        browser
            .script("return document.querySelector('.suggestion input[name=front]').value")
            .await
            .as_str()
            .unwrap()
            .contains("{{c1::")
    );
    browser.click(".suggestion .accept").await;
    browser.wait("#cards tr[data-type=cloze]").await;
    browser.fits_a_phone().await;
    browser.screenshot().await;
}

/// The seed's library, through the forms: the brand, its two accounts, the trend, the
/// asset.
async fn the_seed_s_library_through_the_forms(browser: &Browser) {
    browser
        .fill("#brands-form input[name=id]", "brand_123")
        .await;
    browser.fill("#brands-form input[name=name]", "Leafy").await;
    browser
        .set_value("#brands-form select[name=timezone]", "America/Los_Angeles")
        .await;
    browser
        .fill("#brands-form input[name=hashtags]", "#leafy")
        .await;
    browser.click("#brands-form button").await;
    browser.wait("#account-form").await;
    browser.open("#/organic/brand_123/2026-01-26").await;
    for (platform, account) in [("instagram", "ig_123"), ("linkedin", "li_456")] {
        browser
            .set_value("#account-form select[name=platform]", platform)
            .await;
        browser
            .fill("#account-form input[name=accountId]", account)
            .await;
        browser.click("#account-form button").await;
        browser
            .wait(&format!(
                "input[name=use-account][value='{platform}|{account}']"
            ))
            .await;
    }
    browser
        .fill("#trends-form input[name=id]", "trend-101")
        .await;
    browser
        .fill("#trends-form input[name=title]", "Sustainable swaps")
        .await;
    browser
        .fill("#trends-form input[name=keywords]", "sustainability")
        .await;
    browser.click("#trends-form button").await;
    browser.wait("#trends li[data-id=trend-101]").await;
    browser
        .fill("#assets-form input[name=id]", "asset_991")
        .await;
    browser
        .set_value("#assets-form select[name=kind]", "video")
        .await;
    browser
        .fill("#assets-form input[name=title]", "Swap montage")
        .await;
    browser
        .fill("#assets-form input[name=tags]", "sustainability")
        .await;
    browser.click("#assets-form button").await;
    browser.wait("#assets li[data-id=asset_991]").await;
    browser.every_input_is_labelled().await;
}

/// The week into a new calendar, then again into the same one: nothing added twice.
async fn the_week_into_a_calendar_twice(browser: &Browser) {
    browser.click("#week-to-calendar").await;
    browser.wait("#week-calendar-status[data-added]").await;
    let added = browser
        .script("return Number(document.querySelector('#week-calendar-status').dataset.added)")
        .await;
    assert_eq!(added, serde_json::json!(14), "one entry per placement");
    browser
        .script("document.querySelector('#week-reach').scrollIntoView()")
        .await;
    browser.screenshot_of("week-to-calendar").await;
    browser.click("#week-to-calendar").await;
    browser
        .wait("#week-calendar-status[data-added='0'][data-updated='14']")
        .await;
    browser.click("#week-calendar-status a").await;
    browser.wait_count(".chip", 14).await;
    browser.screenshot_of("week-in-calendar").await;
    browser.open("#/organic/brand_123/2026-01-26").await;
    browser.wait_count("#week .card[data-placement]", 14).await;
}

/// The next week: two posts of one account at the same minute (one adjusted), one without
/// an account (said on its day in words: its trend and day, no code, no id).
async fn a_clash_and_a_missing_account(browser: &Browser) {
    browser.open("#/organic/brand_123/2026-02-02").await;
    browser.wait("#seed-form").await;
    add_seed(browser, "2026-02-03", "10:00", "instagram", "ig_123").await;
    add_seed(browser, "2026-02-03", "10:00", "instagram", "ig_123").await;
    add_seed(browser, "2026-02-04", "10:00", "linkedin", "").await;
    browser.wait_count("#seeds li", 3).await;
    browser.wait_text("#draft-status", "saved").await;
    browser
        .click("input[name=use-account][value='linkedin|li_456']")
        .await;
    browser.click("#generate-week").await;
    browser.wait("#organic-status[data-state=succeeded]").await;
    browser.wait_count("#week .card[data-placement]", 2).await;
    browser.wait_count("#week .card .badge.warn", 1).await;
    assert!(
        browser
            .text("#week [data-placement='seed-2026-02-03-trend-101-2']")
            .await
            .contains("adjusted")
    );
    // On its day, said in words: its trend and day, no code, no id.
    let error = "#week .day-row[data-day='2026-02-04'] .card.error[data-error=MISSING_ACCOUNT]";
    browser.wait_count(error, 1).await;
    let said = browser.text(error).await;
    assert!(said.contains("Sustainable swaps"), "{said}");
    assert!(said.contains("4 Feb 2026"), "{said}");
    assert!(said.contains("No LinkedIn account for this post"), "{said}");
    assert!(
        !said.contains("MISSING_ACCOUNT") && !said.contains("seed-"),
        "{said}"
    );
}

#[tokio::test]
async fn the_seed_s_organic_week_fills_14_cards_and_a_clash_shows_adjusted_and_missing_account() {
    let app = app_with(vec![]).await;
    let browser = Browser::start(&app, "organic").await;
    browser.sign_in().await;
    browser.open("#/organic").await;
    the_seed_s_library_through_the_forms(&browser).await;

    // Generate waits for a seed, and says so (seed 003 plans from seeds).
    browser
        .wait_text("#seeds-needed", "Add at least one seed")
        .await;
    assert_eq!(
        browser
            .script("return document.querySelector('#generate-week').disabled")
            .await,
        serde_json::json!(true)
    );
    // The seed's example request: one seed, the beta-launch preset and the newsletter.
    add_seed(&browser, "2026-01-26", "09:00", "instagram", "ig_123").await;
    browser
        .set_value("#seed-form select[name=desiredFormat]", "reel")
        .await;
    browser
        .set_value("select[name=schedulePreset]", "beta-launch")
        .await;
    browser.click("input[name=includeNewsletter]").await;
    browser.fill("input[name=language]", "en-US").await;
    browser
        .fill(
            "textarea[name=guidancePrompt]",
            "Highlight the sustainability angle this week.",
        )
        .await;
    browser.click("#generate-week").await;
    browser.wait("#organic-status[data-state=succeeded]").await;
    browser.wait_count("#week .card[data-placement]", 14).await;
    assert_eq!(browser.count("#week .card.error").await, 0);
    let seeded =
        "#week .day-row[data-day='2026-01-26'] .card[data-placement='seed-2026-01-26-trend-101']";
    assert!(browser.text(seeded).await.contains("Sustainable swaps"));
    // Each placement in words: a bold title, its caption, its hashtags by tier, its
    // assets by title (never an id).
    let card = browser.text(seeded).await;
    assert!(
        card.contains("Broad hashtags") && card.contains("Brand hashtags"),
        "{card}"
    );
    assert!(
        card.contains("#leafy") && card.contains("Swap montage"),
        "{card}"
    );
    assert!(!card.contains("asset_991"), "{card}");
    browser.screenshot_of("week").await;

    // A placement opened and edited; regenerating the week keeps the edit.
    browser.click(&format!("{seeded} .edit-placement")).await;
    browser.wait("#placement-editor[open]").await;
    browser
        .fill(
            "#placement-editor textarea[name=caption]",
            "Our own words for Monday.",
        )
        .await;
    browser.click("#placement-save").await;
    browser.wait_text(seeded, "Our own words for Monday.").await;
    browser.wait(&format!("{seeded}.edited")).await;
    // The seeds and options are the server's: a reload with nothing kept in the tab finds
    // them, and the week generates again from them.
    browser.script("sessionStorage.clear()").await;
    browser.client.refresh().await.unwrap();
    browser.wait_count("#seeds li", 1).await;
    browser
        .wait_text("#draft-status", "restored as you left them")
        .await;
    assert_eq!(
        browser
            .script("return [document.querySelector('select[name=schedulePreset]').value, document.querySelector('input[name=includeNewsletter]').checked]")
            .await,
        serde_json::json!(["beta-launch", true])
    );
    browser.click("#generate-week").await;
    browser.wait("#organic-status[data-state=succeeded]").await;
    browser.wait_count("#week .card[data-placement]", 14).await;
    browser.wait_text(seeded, "Our own words for Monday.").await;

    the_week_into_a_calendar_twice(&browser).await;

    a_clash_and_a_missing_account(&browser).await;
    browser.fits_a_phone().await;
    browser
        .script("document.querySelector('#week').scrollIntoView()")
        .await;
    browser.screenshot().await;
}

/// Adds a seed of `trend-101` on the board's seed form.
async fn add_seed(browser: &Browser, day: &str, time: &str, platform: &str, account: &str) {
    browser
        .set_value("#seed-form select[name=trend]", "trend-101")
        .await;
    browser.set_value("#seed-form select[name=day]", day).await;
    browser.set_value("#seed-form input[name=time]", time).await;
    browser
        .set_value("#seed-form select[name=platform]", platform)
        .await;
    browser
        .set_value("#seed-form select[name=account]", account)
        .await;
    let before = browser.count("#seeds li").await;
    browser.click("#add-seed").await;
    browser.wait_count("#seeds li", before + 1).await;
}

/// An app with publishing on against the fake platforms, and a calendar.
pub(super) async fn publishing_app() -> crate::publishing::Setup {
    publishing_app_with(true).await
}

/// A publishing app with development sign-in, publishing on or off.
pub(super) async fn publishing_app_with(enabled: bool) -> crate::publishing::Setup {
    crate::publishing::setup_plus(enabled, [("DEV_LOGIN", "true".into())]).await
}

/// Instagram connected with a token; disconnecting asks first, and Keep leaves it.
async fn instagram_connected_with_a_token(browser: &Browser) {
    use crate::helpers::fake_platforms::IG_USER;
    browser
        .set_value("#connect-form select[name=platform]", "instagram")
        .await;
    browser
        .fill("#connect-form input[name=accountId]", IG_USER)
        .await;
    browser
        .fill("#connect-form input[name=accessToken]", "ig-token")
        .await;
    browser.click("#connect").await;
    browser.wait("#channels li[data-channel=instagram]").await;
    // Disconnecting asks first; Keep leaves it connected.
    browser
        .click("#channels li[data-channel=instagram] button[aria-label^='Disconnect']")
        .await;
    browser.keep_after("Disconnect Instagram").await;
    browser
        .wait("#channels li[data-channel=instagram][data-status=connected]")
        .await;
}

/// The dry run: each entry with its status and, when it would fail, why, in words; the
/// report leads with its summary and folds the raw requests away.
async fn the_dry_run_says_each_entry_s_reason(s: &crate::publishing::Setup, browser: &Browser) {
    browser.click("#dry-run").await;
    browser.wait_count("#dry-run-report .intent", 3).await;
    assert_eq!(
        browser
            .count("#dry-run-report .intent[data-status=dry_run]")
            .await,
        1
    );
    let reasons = browser
        .script(
            "return [...document.querySelectorAll('#dry-run-report .intent')]
               .filter(i => i.dataset.status !== 'dry_run')
               .map(i => [i.dataset.channel, i.querySelector('.reason')?.textContent ?? ''])",
        )
        .await;
    let reasons = reasons.as_array().unwrap();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r[0] == "x" && r[1].as_str().unwrap() == "Almanac cannot publish to X yet."),
        "{reasons:?}"
    );
    // Every refusal says why, in words: no code.
    let code = regex::Regex::new(r"\b[A-Z]{2,}_[A-Z_]+\b").unwrap();
    assert!(
        reasons.iter().all(|r| {
            let reason = r[1].as_str().unwrap();
            reason.len() > 10 && !code.is_match(reason)
        }),
        "{reasons:?}"
    );
    assert!(s.fake.posts().is_empty());
    // The report leads with its summary; the raw requests are folded away.
    let summary = browser.text("#report-summary").await;
    assert!(summary.contains("1 ready to publish"), "{summary}");
    assert!(
        summary.contains("1 stopped: Almanac cannot publish to X yet."),
        "{summary}"
    );
    assert_eq!(
        browser
            .count("#dry-run-report details.requests[open]")
            .await,
        0
    );
    assert!(browser.count("#dry-run-report details.requests").await >= 1);
}

/// Each entry says where it stands, and the list filters on it.
async fn the_list_filters_on_where_entries_stand(browser: &Browser) {
    browser
        .wait_count("#entries .entry-status[data-status=published]", 1)
        .await;
    browser.set_value("#filter-status", "published").await;
    browser
        .wait_count("#entries tbody tr:not([hidden])", 1)
        .await;
    assert!(
        browser
            .text("#entries tbody tr:not([hidden])")
            .await
            .contains("Our new look")
    );
    browser.set_value("#filter-status", "unsent").await;
    browser
        .wait_count("#entries tbody tr:not([hidden])", 2)
        .await;
    browser.set_value("#filter-status", "").await;
    browser
        .wait_count("#entries tbody tr:not([hidden])", 3)
        .await;
}

#[tokio::test]
async fn a_publish_dry_run_shows_each_entry_s_reasons_and_a_scheduled_post_turns_published() {
    use crate::publishing::Entry;
    let s = publishing_app().await;
    s.entry(Entry::on("instagram", "Our new look")).await;
    s.entry(Entry::on("x", "Hiring")).await;
    s.entry(Entry {
        media: None,
        ..Entry::on("instagram", "No picture")
    })
    .await;
    let browser = Browser::start(&s.app, "publishing").await;
    // Sign in by pasting a token.
    browser.sign_in_with_token(&s.app.token(s.user)).await;
    browser.open(&format!("#/publishing/{}", s.calendar)).await;

    instagram_connected_with_a_token(&browser).await;
    browser.every_input_is_labelled().await;

    // Nothing is selected at first; "Select all" chooses every entry shown.
    browser.wait("#entries").await;
    assert_eq!(browser.count("#entries input:checked").await, 0);
    browser.wait_text("#selected-count", "0 selected").await;
    browser.click("#select-all").await;
    browser.wait_text("#selected-count", "3 selected").await;

    the_dry_run_says_each_entry_s_reason(&s, &browser).await;

    // Schedule the one that can go; at its time it is published, and the page shows it.
    browser.click("#entries input[aria-label*='Hiring']").await;
    browser
        .click("#entries input[aria-label*='No picture']")
        .await;
    browser.click("#schedule-publish").await;
    browser
        .wait_count(".intent-row[data-status=scheduled]", 1)
        .await;
    // Its time is the calendar's, and says so, as the entries' list does (the receipts
    // are a tab of their own).
    browser.click("#tab-receipts").await;
    assert_eq!(
        browser
            .text(".intent-row[data-status=scheduled] td:nth-child(4)")
            .await,
        "at 7 Jan 2030, 10:00 (Europe/Madrid)"
    );
    browser.click("#tab-entries").await;
    assert_eq!(
        browser.text("#entries-zone").await,
        "Times in Europe/Madrid"
    );
    assert_eq!(
        browser
            .count("#dry-run-report .intent[data-status=scheduled]")
            .await,
        1
    );
    assert_eq!(s.tick("2030-01-07T09:00:00Z").await.dispatched, 1);
    browser
        .wait_count(".intent-row[data-status=published]", 1)
        .await;
    // The request's report ("Sent") follows the post to published too.
    browser
        .wait_count("#dry-run-report .intent[data-status=published]", 1)
        .await;
    assert_eq!(
        browser
            .text("#dry-run-report .intent[data-status=published] .badge.status")
            .await,
        "published"
    );
    assert_eq!(browser.count(".intent-row").await, 1);
    assert_eq!(s.fake.posts().len(), 1);
    the_list_filters_on_where_entries_stand(&browser).await;
    // One media address for several entries at once: the two without one of their own.
    browser.click("#select-none").await;
    browser
        .click("#entries input[aria-label*='No picture']")
        .await;
    browser.click("#entries input[aria-label*='Hiring']").await;
    browser
        .fill("#bulk-media", "https://cdn.example.com/media/shared.jpg")
        .await;
    browser.click("#apply-media").await;
    browser
        .wait_count("#entries td.media:not(:has(.badge.warn))", 3)
        .await;
    let shared: i64 = sqlx::query_scalar(
        "select count(*) from calendar_entries where media_url = 'https://cdn.example.com/media/shared.jpg'",
    )
    .fetch_one(&s.app.db)
    .await
    .unwrap();
    assert_eq!(shared, 2);
    browser.fits_a_phone().await;
    browser.screenshot().await;
}

/// Connecting TikTok the way a person does: "Connect with TikTok", the platform's consent
/// (the fake grants it at once), back through the callback to the app, which completes the
/// connection as the signed-in user. A link someone else started is refused in words.
#[tokio::test]
async fn a_channel_connects_through_the_platform_as_the_signed_in_user() {
    use crate::helpers::fake_platforms::TIKTOK_OPEN_ID;
    let s = publishing_app().await;
    let browser = Browser::start(&s.app, "channels").await;
    let user = browser.sign_in().await;
    browser.open("#/publishing").await;
    browser.click("#connect-tiktok").await;
    browser
        .wait_text("#channel-connect [data-outcome]", "is connected")
        .await;
    assert_eq!(
        browser.script("return location.hash").await,
        "#/channels/connect",
        "the single-use code and state leave the address bar"
    );
    assert_eq!(s.fake.calls_to("/oauth/token/").len(), 1);
    let (_, channels) = s.app.get_json(user, "/v1/channels").await;
    assert_eq!(channels["data"]["items"][0]["accountId"], TIKTOK_OPEN_ID);

    // A link another user started: nothing is connected, and the page says why.
    let other = Uuid::new_v4();
    let (_, connect) = s
        .app
        .send_json(
            reqwest::Method::POST,
            other,
            "/v1/channels/tiktok/connect",
            &json!(null),
        )
        .await;
    let state = connect["data"]["state"].as_str().unwrap();
    browser
        .client
        .goto(&s.app.url(&format!(
            "/v1/channels/tiktok/callback?code=good-code&state={state}"
        )))
        .await
        .unwrap();
    let refused = browser
        .wait_text(
            "#channel-connect [data-outcome=OAUTH_STATE_NOT_YOURS]",
            "started from another account",
        )
        .await;
    assert!(!refused.contains("OAUTH"), "{refused}");
    assert_eq!(
        s.fake.calls_to("/oauth/token/").len(),
        1,
        "nothing exchanged"
    );
    browser.fits_a_phone().await;
    browser.screenshot().await;
}

/// Webhooks in the browser: a private address is refused next to its field; an endpoint is
/// added with its secret shown once (gone after a reload), paused, given a new secret and
/// deleted after a "Keep".
#[tokio::test]
async fn a_webhook_endpoint_shows_its_secret_once_and_is_paused_rotated_and_deleted() {
    let app = app_with(vec![
        (
            "TOKEN_ENCRYPTION_KEY",
            almanac_shared::crypto::TokenKey::generate(),
        ),
        ("FETCH_ALLOW_PRIVATE_NETWORKS", "false".into()),
    ])
    .await;
    let browser = Browser::start(&app, "webhooks").await;
    let user = browser.sign_in().await;
    browser.open("#/webhooks").await;
    browser.wait_text("#webhooks", "No endpoints yet").await;
    browser.every_input_is_labelled().await;
    let url = "#webhook-form input[name=url]";
    // No event chosen: said next to the events, nothing sent.
    browser.fill(url, "https://hooks.example.com/almanac").await;
    for event in ["job.succeeded", "job.failed"] {
        browser
            .click(&format!("#webhook-form input[value='{event}']"))
            .await;
    }
    browser.click("#webhook-form button[type=submit]").await;
    browser
        .wait_text("#webhook-form .field-error", "at least one event")
        .await;
    for event in ["job.succeeded", "job.failed"] {
        browser
            .click(&format!("#webhook-form input[value='{event}']"))
            .await;
    }
    browser.fill(url, "https://10.0.0.1/in").await;
    browser.click("#webhook-form button[type=submit]").await;
    browser
        .wait_text("#webhook-form .field-error", "public https address")
        .await;
    let (_, listed) = app.get_json(user, "/v1/webhooks").await;
    assert_eq!(listed["data"]["items"], json!([]));

    browser.fill(url, "https://hooks.example.com/almanac").await;
    browser.click("#webhook-form button[type=submit]").await;
    browser.wait_count("#webhooks .webhook", 1).await;
    let secret = browser
        .script("return document.getElementById('webhook-secret-value').value")
        .await;
    let secret = secret.as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    browser
        .wait_text("#webhooks .webhook", "Job succeeded · Job failed")
        .await;
    browser.screenshot_of("secret").await;
    // Shown once: a reload lists the endpoint without it.
    browser.client.refresh().await.unwrap();
    browser.wait_count("#webhooks .webhook", 1).await;
    assert_eq!(browser.count("#webhook-secret-value").await, 0);
    assert!(!browser.page_text().await.contains(&secret));

    browser.click("#webhooks .toggle-webhook").await;
    browser.wait_text("#webhooks .webhook", "Paused").await;
    let (_, listed) = app.get_json(user, "/v1/webhooks").await;
    assert!(
        listed["data"]["items"][0]["disabledAt"].is_string(),
        "{listed}"
    );

    browser.click("#webhooks .rotate-webhook").await;
    browser.click("#confirm-yes").await;
    browser.wait("#webhook-secret-value").await;
    let rotated = browser
        .script("return document.getElementById('webhook-secret-value').value")
        .await;
    let rotated = rotated.as_str().unwrap();
    assert!(
        rotated.starts_with("whsec_") && rotated != secret,
        "{rotated}"
    );
    browser
        .wait_text("#webhooks .webhook", "previous secret also signs")
        .await;
    browser.fits_a_phone().await;

    browser.click("#webhooks .delete-webhook").await;
    browser.keep_after("Delete this endpoint?").await;
    browser.wait_count("#webhooks .webhook", 1).await;
    browser.click("#webhooks .delete-webhook").await;
    browser.click("#confirm-yes").await;
    browser.wait_text("#webhooks", "No endpoints yet").await;
    // The secret of the endpoint deleted is no longer shown.
    assert_eq!(browser.count("#webhook-secret-value").await, 0);
    let (_, listed) = app.get_json(user, "/v1/webhooks").await;
    assert_eq!(listed["data"]["items"], json!([]));
    browser.screenshot().await;
}
