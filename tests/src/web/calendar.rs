//! The calendar in the browser (seed 000, IV1): the grid fills while the page stays usable,
//! an edit survives reloads, flag toggles and an accepted regeneration, and a cancelled run
//! shows what it kept.

use std::{sync::Arc, time::Duration};

use serde_json::json;

use super::Browser;
use crate::helpers::{Behaviour, FakeAi, TestApp, TestOptions, eventually, spawn_app_with};

/// An app whose AI answers the first calendar batch at once and the second only when the
/// gate opens (then the rest), one batch at a time: the stream is provably running until the
/// test says so.
async fn gated_app(second: Behaviour) -> (TestApp, FakeAi) {
    let fake = FakeAi::start(vec![Behaviour::Ok, second], Behaviour::Ok).await;
    let app = spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        env: vec![
            ("DEV_LOGIN", "true".into()),
            ("CALENDAR_AI_CONCURRENCY", "1".into()),
            ("CALENDAR_BATCH_SLOTS", "30".into()),
            ("AI_TIMEOUT_MS", "60000".into()),
            ("CALENDAR_TIMEOUT_SECS", "60".into()),
        ],
        ..Default::default()
    })
    .await;
    (app, fake)
}

/// Fills the new-calendar form: tiktok, instagram and linkedin, daily, March 2027.
async fn request_march(browser: &Browser) {
    browser.open("#/calendar/new").await;
    browser.wait("#calendar-form").await;
    browser
        .set_value("#calendar-form input[name=start]", "2027-03-01")
        .await;
    browser
        .set_value("#calendar-form input[name=end]", "2027-03-30")
        .await;
    browser
        .fill("#calendar-form input[name=topic]", "green tea")
        .await;
    browser
        .fill("#calendar-form input[name=timesOfDay]", "18:00")
        .await;
    browser
        .set_value("#calendar-form select[name=timezone]", "Europe/Paris")
        .await;
    // Exactly these three channels (a new calendar starts with every one Almanac publishes to).
    browser
        .script(
            "for (const box of document.querySelectorAll('#calendar-form input[name=channel]')) {
               const wanted = ['tiktok', 'instagram', 'linkedin'].includes(box.value);
               if (box.checked !== wanted) box.click();
             }",
        )
        .await;
    // The form says how big the plan is and roughly how long it takes.
    browser
        .wait_text("#plan-size", "About 90 entries: about 15 seconds to write.")
        .await;
    browser.click("#generate").await;
}

async fn saved_entries(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from calendar_entries")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// Regenerate: the edited entry is a conflict (the proposal waiting on the server, a
/// reload with nothing kept in the tab reopens it); accept all keeps the edit.
async fn a_regeneration_keeps_the_edit(app: &TestApp, browser: &Browser) {
    browser.click("#regenerate").await;
    browser
        .fill("#regenerate-form input[name=topic]", "black tea")
        .await;
    browser.click("#regenerate-submit").await;
    browser.wait("#accept-all").await;
    // The proposal waits on the server: a reload with nothing kept in the tab (another
    // device) reopens it.
    browser
        .script("sessionStorage.clear(); localStorage.clear()")
        .await;
    browser.client.refresh().await.unwrap();
    browser.wait("#accept-all").await;
    // The fake AI writes the same entries again, so the one change is the edited entry's,
    // marked as a conflict.
    assert_eq!(browser.count(".change.conflict").await, 1);
    assert_eq!(browser.count(".change").await, 1);
    browser.click("#accept-all").await;
    browser.wait_count(".change", 0).await;
    browser.wait_count(".entry", 90).await;
    browser.wait_text(".entry.edited", "My own title").await;
    let kept: i64 = sqlx::query_scalar(
        "select count(*) from calendar_entries where edited_at is not null and title = 'My own title'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(kept, 1);
}

/// The review: each change names its channel, day and time, in date order; a filter shows
/// one kind at a time and says how many it holds (`removed` of `all`).
async fn the_review_filters_by_kind(browser: &Browser, removed: usize, all: usize) {
    assert_eq!(
        browser.text("#diff-filter-removed").await,
        format!("Removed ({removed})")
    );
    assert_eq!(
        browser.text("#diff-filter-all").await,
        format!("All ({all})")
    );
    browser.click("#diff-filter-removed").await;
    assert_eq!(
        browser.count("#diff-list .change:not([hidden])").await,
        removed
    );
    assert_eq!(
        browser
            .count("#diff-list .change:not([data-kind=removed]):not([hidden])")
            .await,
        0
    );
    let first = browser.text("#diff-list .change:not([hidden])").await;
    assert!(
        first.starts_with("removed") && first.contains("21 Mar 2027"),
        "the first removal is the first day past the new end, with its channel: {first}"
    );
    browser.screenshot_of("review").await;
    browser.click("#diff-filter-all").await;
    browser
        .wait_count("#diff-list .change:not([hidden])", all)
        .await;
}

/// A regeneration over fewer days proposes removals: reviewed, folded for later and back,
/// and accepting them asks first. (A changed request is not dropped by Esc without asking,
/// either.)
async fn removals_are_reviewed_and_asked_for(app: &TestApp, browser: &Browser) {
    browser.click("#regenerate").await;
    browser
        .set_value("#regenerate-form input[name=end]", "2027-03-20")
        .await;
    browser.press_escape().await;
    browser.keep_after("Discard your changes?").await;
    assert_eq!(
        browser
            .script("return document.querySelector('#regenerate-form input[name=end]').value")
            .await,
        json!("2027-03-20")
    );
    browser.click("#regenerate-submit").await;
    browser.wait("#accept-all").await;
    let removed = browser.count(".change[data-kind=removed]").await;
    assert!(removed >= 29);
    let all = browser.count("#diff-list .change").await;
    the_review_filters_by_kind(browser, removed, all).await;
    // "Later" folds the proposal to one line, which a reload keeps; "Review it" brings it
    // back.
    browser.click("#diff-later").await;
    browser.wait("#proposal-later").await;
    assert_eq!(browser.count(".change").await, 0);
    browser.client.refresh().await.unwrap();
    browser.wait("#proposal-later").await;
    assert_eq!(browser.count(".change").await, 0);
    browser.click("#proposal-review").await;
    browser.wait("#accept-all").await;
    assert_eq!(browser.count(".change").await, all);
    browser.click("#accept-all").await;
    let asked = browser.text("dialog.confirm h2").await;
    assert!(
        asked.starts_with("Remove ") && asked.ends_with("entries from the calendar?"),
        "{asked}"
    );
    browser.click("#confirm-no").await;
    assert_eq!(saved_entries(app).await, 90, "Keep removed nothing");
    browser.click("#accept-all").await;
    browser.click("#confirm-yes").await;
    browser.wait_count(".change", 0).await;
    assert!(saved_entries(app).await < 90);
}

#[tokio::test]
async fn the_grid_fills_while_usable_and_an_edit_survives_reloads_flag_toggles_and_regeneration() {
    let gate = Arc::new(tokio::sync::watch::channel(false).0);
    let (app, _fake) = gated_app(Behaviour::Gate(gate.clone())).await;
    let browser = Browser::start(&app, "calendar").await;
    browser.sign_in().await;
    browser.every_input_is_labelled().await;
    request_march(&browser).await;

    // The first entries are on the page while the run waits at the gate...
    browser.wait(".entry").await;
    let status = browser.text("#run-status").await;
    assert!(status.contains("Generating"), "{status}");
    let first = browser.count(".entry").await;
    assert!(first > 0 && first < 90, "{first} entries before the gate");
    // ...and the page takes a click on one and an edit of it meanwhile.
    browser.click(".entry").await;
    browser.wait("#entry-editor[open]").await;
    browser
        .fill("#entry-editor input[name=title]", "My own title")
        .await;
    browser.click("#entry-save").await;
    browser.wait_text(".entry.edited", "My own title").await;
    assert_eq!(
        browser
            .script("return document.querySelector('#run-status').dataset.state")
            .await,
        json!("running"),
        "the edit was made while the stream ran"
    );
    // A calendar the AI service writes needs no word about it; only the fallback has one.
    assert_eq!(
        browser
            .script("return document.querySelector('#mode').hidden")
            .await,
        json!(true)
    );

    // The rest streams in.
    gate.send_replace(true);
    browser.wait("#run-status[data-state=succeeded]").await;
    browser.wait_count(".entry", 90).await;
    assert_eq!(saved_entries(&app).await, 90);

    // A reload restores the calendar with the edit.
    browser.client.refresh().await.unwrap();
    browser.wait_count(".entry", 90).await;
    assert_eq!(browser.count(".entry.edited").await, 1);
    browser.wait_text(".entry.edited", "My own title").await;

    // The flag off, then back on, at run time: the edit is there each time.
    for state in ["off", "on"] {
        app.turn_flag(
            &app.address,
            "CALENDAR_SERVICE_ENABLED",
            &json!({ "state": state, "note": "browser test" }),
        )
        .await;
        app.flag_applied(&app.address, "CALENDAR_SERVICE_ENABLED", state)
            .await;
        browser.client.refresh().await.unwrap();
        browser.wait_count(".entry", 90).await;
        browser.wait_text(".entry.edited", "My own title").await;
    }

    a_regeneration_keeps_the_edit(&app, &browser).await;

    removals_are_reviewed_and_asked_for(&app, &browser).await;
    browser.fits_a_phone().await;
    browser.screenshot().await;
}

#[tokio::test]
async fn a_cancelled_run_shows_cancelled_and_the_entries_it_kept() {
    let (app, fake) = gated_app(Behaviour::Hang).await;
    let browser = Browser::start(&app, "calendar-cancelled").await;
    browser.sign_in().await;
    request_march(&browser).await;
    browser.wait(".entry").await;
    fake.wait_for_calls(2).await;
    browser.click("#cancel").await;
    let status = browser.wait_text("#run-status", "Cancelled").await;
    let kept = saved_entries(&app).await;
    assert!(kept > 0 && kept < 90, "{kept} entries saved");
    assert!(
        status.contains(&format!("{kept} entries were kept")),
        "{status}"
    );
    browser.wait_count(".entry", kept as usize).await;
    // The list beside it counts what was kept (it said 0 when the run began).
    browser
        .wait_text("#calendar-list", &format!("{kept} entries"))
        .await;
    // Each entry's platform by its name and mark.
    assert!(
        browser
            .count(".entry .badge.platform[data-platform=tiktok] .mark")
            .await
            > 0
    );
    // After a reload the calendar is as it was left, with no stream to resume.
    browser.client.refresh().await.unwrap();
    browser.wait_count(".entry", kept as usize).await;
    eventually(Duration::from_secs(5), "the page to settle", || async {
        (browser.count("#cancel:not([hidden])").await == 0).then_some(())
    })
    .await;
    // Named after its topic; renamed in place, the list follows.
    assert_eq!(browser.text("#calendar-title").await, "Green tea");
    browser.click("#rename").await;
    browser
        .fill("#rename-form input[name=calendarName]", "March tea plan")
        .await;
    browser.click("#rename-form button[type=submit]").await;
    browser.wait_text("#calendar-title", "March tea plan").await;
    browser.wait_text("#calendar-list", "March tea plan").await;

    // Continue writes only what is missing, straight into the calendar.
    let missing = 90 - kept;
    browser
        .wait_text("#continue", &format!("write the {missing} missing entries"))
        .await;
    browser.screenshot_of("continue-offered").await;
    browser.click("#continue").await;
    browser.wait("#run-status[data-state=succeeded]").await;
    browser.wait_count(".chip", 90).await;
    assert_eq!(saved_entries(&app).await, 90);
    assert_eq!(browser.count("#continue:not([hidden])").await, 0);
    assert_eq!(browser.count("#accept-all").await, 0, "nothing to accept");
    browser.screenshot().await;
}

/// The entry of `key`: its local date and time, and whether it is marked edited.
async fn placed(app: &TestApp, key: &str) -> (String, String, bool) {
    sqlx::query_as(
        "select local_date::text, to_char(local_time, 'HH24:MI'), edited from calendar_entries where key = $1",
    )
    .bind(key)
    .fetch_one(&app.db)
    .await
    .unwrap()
}

/// A month of three channels is one screen at 1280x800; the channel filter hides a
/// channel; a drag moves an entry to another day (month) and another hour (week), each a
/// saved edit kept after a reload, and two posts of a channel too close are marked; "Move…"
/// does it from the keyboard; a phone gets the agenda.
/// At 1280x800 the month is one screen: five whole weeks, every day of March, no day
/// hiding entries, every entry on screen, the zone said.
async fn the_month_is_one_screen(browser: &Browser) {
    browser.viewport(1280, 800).await;
    let layout = browser
        .script(
            "const cells = [...document.querySelectorAll('.month .cell')];
             return {
               page: [document.documentElement.scrollHeight, innerHeight],
               cells: cells.length,
               days: cells.filter((c) => c.dataset.date.startsWith('2027-03')).length,
               cut: cells.filter((c) => c.scrollHeight > c.clientHeight).length,
               below: [...document.querySelectorAll('.chip')]
                 .filter((c) => c.getBoundingClientRect().bottom > innerHeight).length,
               zone: document.querySelector('#calendar-tz').textContent,
             }",
        )
        .await;
    assert!(
        layout["page"][0].as_u64() <= layout["page"][1].as_u64(),
        "the month scrolls at 1280x800: {layout}"
    );
    assert_eq!(layout["cells"], 35, "five whole weeks: {layout}");
    assert_eq!(
        layout["days"], 31,
        "every day of March, empty or not: {layout}"
    );
    assert_eq!(layout["cut"], 0, "no day hides entries: {layout}");
    assert_eq!(layout["below"], 0, "every entry is on screen: {layout}");
    assert_eq!(layout["zone"], "Times in Europe/Paris");
    browser.screenshot_of("month").await;
}

/// From the keyboard: the entry's dialog, "Move…", a day and time; saved, and the move
/// adds and removes nothing.
async fn a_move_from_the_keyboard(app: &TestApp, browser: &Browser) {
    let other = "2027-03-12/linkedin/1";
    let focused = browser.wait(&format!(".chip[data-key=\"{other}\"]")).await;
    focused.send_keys("\u{E007}").await.unwrap();
    browser.wait("#entry-editor[open]").await;
    browser.click("#entry-move").await;
    browser.wait("#move-dialog[open]").await;
    browser
        .set_value("#move-dialog input[name=moveDate]", "2027-03-13")
        .await;
    browser
        .set_value("#move-dialog input[name=moveTime]", "10:30")
        .await;
    browser.click("#move-save").await;
    eventually(
        Duration::from_secs(10),
        "the keyboard move to be saved",
        || async { (placed(app, other).await.0 == "2027-03-13").then_some(()) },
    )
    .await;
    assert_eq!(
        placed(app, other).await,
        ("2027-03-13".into(), "10:30".into(), true)
    );
    browser
        .wait(&format!(
            ".cell[data-date=\"2027-03-13\"][data-hour=\"10\"] .chip[data-key=\"{other}\"]"
        ))
        .await;
    assert_eq!(saved_entries(app).await, 90, "moves add and remove nothing");
}

#[tokio::test]
async fn a_month_is_one_screen_and_dragging_an_entry_reschedules_it() {
    let (app, _fake) = gated_app(Behaviour::Ok).await;
    let browser = Browser::start(&app, "calendar-grid").await;
    browser.sign_in().await;
    request_march(&browser).await;
    browser.wait("#run-status[data-state=succeeded]").await;
    browser.wait_count(".chip", 90).await;

    the_month_is_one_screen(&browser).await;

    // The filter shows a channel or hides it.
    browser.click("#show-tiktok").await;
    browser.wait_count(".chip:not([hidden])", 60).await;
    assert_eq!(
        browser
            .count(".chip[data-channel=tiktok]:not([hidden])")
            .await,
        0
    );
    browser.click("#show-tiktok").await;
    browser.wait_count(".chip:not([hidden])", 90).await;
    assert_eq!(browser.count(".chip.conflict").await, 0);

    // Dragged from 2 to 10 March, beside that day's TikTok post at the same time.
    let key = "2027-03-02/tiktok/1";
    let chip = format!(".chip[data-key=\"{key}\"]");
    browser
        .drag(&chip, ".month .cell[data-date=\"2027-03-10\"]")
        .await;
    browser.wait_text("#toast", "Moved to").await;
    assert_eq!(
        placed(&app, key).await,
        ("2027-03-10".into(), "18:00".into(), true),
        "saved as an edit"
    );
    assert_eq!(
        browser.count(".cell[data-date=\"2027-03-02\"] .chip").await,
        2
    );
    // Two TikTok posts at 18:00 on the 10th: both marked.
    browser
        .wait_count(".cell[data-date=\"2027-03-10\"] .chip.conflict", 2)
        .await;
    assert_eq!(browser.count(".chip.conflict").await, 2);
    browser.screenshot_of("dragged").await;
    browser.client.refresh().await.unwrap();
    browser
        .wait(&format!(".cell[data-date=\"2027-03-10\"] {chip}.edited"))
        .await;
    browser.wait_count(".chip.conflict", 2).await;

    // In the week, a drag changes the hour too: to 11 March at 09:00 (minutes kept).
    browser.click("#view-week").await;
    browser.click("#period-next").await;
    browser.wait_text("#period-label", "8 March").await;
    browser
        .drag(&chip, ".cell[data-date=\"2027-03-11\"][data-hour=\"09\"]")
        .await;
    browser.wait_text("#toast", "Moved to").await;
    eventually(Duration::from_secs(10), "the move to be saved", || async {
        (placed(&app, key).await.0 == "2027-03-11").then_some(())
    })
    .await;
    assert_eq!(
        placed(&app, key).await,
        ("2027-03-11".into(), "09:00".into(), true)
    );
    browser.wait_count(".chip.conflict", 0).await;
    browser.screenshot_of("week").await;

    a_move_from_the_keyboard(&app, &browser).await;

    // A phone reads the month as an agenda.
    browser.click("#view-month").await;
    browser.fits_a_phone().await;
    browser.click("#view-agenda").await;
    browser.wait(".agenda-day").await;
    browser.fits_a_phone().await;
    browser.screenshot().await;
}

/// A regeneration that reached the time limit: the calendar offers Continue for the slots
/// its proposal lacks, the continuation is followed as a regeneration, and its end shows
/// the one proposal, which accepted leaves no slot empty.
#[tokio::test]
async fn a_regeneration_that_timed_out_is_continued_from_the_calendar_into_its_proposal() {
    use crate::calendars::request;
    // The first run's two batches and the regeneration's first two answer; its third waits
    // on the gate, which the continuation's calls find open.
    let gate = Arc::new(tokio::sync::watch::channel(false).0);
    let fake = FakeAi::start(vec![Behaviour::Ok; 4], Behaviour::Gate(gate.clone())).await;
    let app = crate::calendars::continuation::two_second_runs(&fake).await;
    let user = uuid::Uuid::new_v4();
    let frames = app.calendar_stream(user, &request(10, "tea")).await;
    let calendar = frames.last().unwrap().data["data"]["calendarId"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut regenerate = request(20, "tea");
    regenerate["calendarId"] = json!(calendar);
    let frames = app.calendar_stream(user, &regenerate).await;
    let details = frames.last().unwrap().data["error"]["details"].clone();
    assert_eq!(details["missing"], 14, "{details}");

    let browser = Browser::start(&app, "calendar-regeneration-continued").await;
    browser.sign_in_with_token(&app.token(user)).await;
    browser.open(&format!("#/calendar/{calendar}")).await;
    // The proposal waits, and Continue offers the fourteen slots it lacks.
    browser.wait("#accept-all").await;
    browser
        .wait_text("#continue", "write the 14 missing entries")
        .await;
    browser.screenshot_of("continue-offered").await;
    gate.send_replace(true);
    browser.click("#continue").await;
    browser.wait("#run-status[data-state=succeeded]").await;
    browser
        .wait_text("#run-status", "Regeneration finished")
        .await;
    assert_eq!(browser.count("#continue:not([hidden])").await, 0);
    // One proposal: the regeneration's sixteen new slots and the continuation's fourteen.
    browser
        .wait_count("#diff-list .change[data-kind=added]", 30)
        .await;
    assert_eq!(
        saved_entries(&app).await,
        30,
        "nothing saved before the accept"
    );
    browser.click("#accept-all").await;
    eventually(Duration::from_secs(10), "the proposal accepted", || async {
        (saved_entries(&app).await == 60).then_some(())
    })
    .await;
    browser.wait_count(".chip", 60).await;
    browser.screenshot().await;
}
