//! The posting queue in the web app (issues 57 and 84): a person sets a channel's posting
//! slots on its week grid, then adds five entries to the queue from the calendar's grid and
//! sees the time each took: the channel's next five slots, in the slots' zone. The queue
//! shows them as post cards: one moved later swaps times with the next, one is taken out,
//! and the queue paused sends nothing at its time until it is resumed. At 1280 px and
//! 375 px.

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use chrono_tz::Europe::Madrid;
use serde_json::json;

use super::{Browser, flows::publishing_app};
use crate::publishing::{Entry, Setup};
use uuid::Uuid;

/// The slots, set on the week grid: Monday to Friday at 09:00 and Saturday at 18:30, in
/// Madrid; kept as the API reads them.
async fn slots_set_on_the_week_grid(s: &Setup, browser: &Browser, channel: Uuid) {
    browser.open(&format!("#/publishing/{}", s.calendar)).await;
    browser
        .click(&format!(".slots-open[data-channel-id=\"{channel}\"]"))
        .await;
    browser.wait("#slots-dialog #slot-week").await;
    browser
        .set_value("#slots-dialog input[name=timezone]", "Europe/Madrid")
        .await;
    browser.set_value("#slot-time", "09:00").await;
    browser.click("#slot-weekdays").await;
    browser.set_value("#slot-time", "18:30").await;
    browser
        .click(".slot-day[data-day=sat] .slot-day-name")
        .await;
    browser.wait_count("#slot-week .slot", 6).await;
    browser.click("#slots-save").await;
    // The toast says the save was taken (the queue below was drawn before it).
    browser.wait_text("#toast", "6 slots saved").await;
    browser
        .wait_text("#channel-queue", "Nothing is queued")
        .await;
    let (status, kept) = s
        .app
        .get_json(s.user, &format!("/v1/channels/{channel}/slots"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(kept["data"]["timezone"], "Europe/Madrid");
    let mut expected_slots: Vec<serde_json::Value> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| json!({ "weekday": d, "time": "09:00" }))
        .collect();
    expected_slots.push(json!({ "weekday": "sat", "time": "18:30" }));
    assert_eq!(kept["data"]["slots"], json!(expected_slots));
    browser.screenshot_of("slots").await;
    browser.viewport(375, 800).await;
    browser.screenshot_of("slots-phone").await;
    browser.fits_a_phone().await;
    browser.viewport(1280, 900).await;
    browser.click("#slots-close").await;
}

/// The next five slots after `asked`: weekdays at 09:00 and Saturdays at 18:30 in Madrid,
/// the first at least `QUEUE_MIN_GAP_MINUTES` (30 by default) from now, as the queue keeps
/// that gap before its first post too.
fn next_five_slots(asked: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let first_from = asked + chrono::Duration::minutes(30);
    let is_slot = |at: &DateTime<Utc>| {
        let local = at.with_timezone(&Madrid);
        let (h, m) = (local.hour(), local.minute());
        match local.weekday() {
            Weekday::Sat => (h, m) == (18, 30),
            Weekday::Sun => false,
            _ => (h, m) == (9, 0),
        }
    };
    let mut expected = Vec::new();
    let mut at = asked - chrono::Duration::minutes(1);
    while expected.len() < 5 {
        at = (at + chrono::Duration::minutes(1))
            .with_second(0)
            .unwrap()
            .with_nanosecond(0)
            .unwrap();
        if at >= first_from && is_slot(&at) {
            expected.push(at);
        }
    }
    expected
}

#[tokio::test]
async fn slots_set_on_the_week_grid_take_five_entries_queued_from_the_grid() {
    let s = publishing_app().await;
    let channel = s.connect_tiktok().await;
    let mut entries = Vec::new();
    for n in 1..=5 {
        let caption = format!("Tea note {n}");
        // Planned for February, a month after the calendar's first day.
        let entry = Entry {
            at: "2030-02-04T09:00:00Z",
            ..Entry::on("tiktok", &caption)
        };
        entries.push(s.entry(entry).await);
    }
    let browser = Browser::start(&s.app, "queue").await;
    browser.sign_in_with_token(&s.app.token(s.user)).await;
    browser.viewport(1280, 900).await;

    slots_set_on_the_week_grid(&s, &browser, channel).await;

    // A second TikTok account: the dialog asks which to post as.
    let other = s
        .connect("tiktok", "open-id-2", "tt-token-2", None, 86_400)
        .await;

    // Five entries added to the queue from the calendar's grid.
    a_new_calendar_ticks_the_connected_and_one_opens_on_its_first_month(&s, &browser).await;
    browser.click("#queue-open").await;
    browser.wait_count("#queue-entries li", 5).await;
    let accounts = browser
        .script("return [...document.querySelectorAll('#post-as-tiktok option')].map((o) => o.value).sort()")
        .await;
    let mut both = vec![channel.to_string(), other.to_string()];
    both.sort();
    assert_eq!(accounts, serde_json::json!(both));
    browser
        .set_value("#post-as-tiktok", &channel.to_string())
        .await;
    for entry in &entries {
        browser
            .click(&format!("#queue-entries li[data-entry=\"{entry}\"] input"))
            .await;
    }
    assert_eq!(
        browser.text("#queue-add").await,
        "Add 5 entries to the queue"
    );
    let asked = Utc::now();
    // From now: the entries are planned for 2030, and would otherwise wait for their day.
    browser.set_value("#queue-not-before", "now").await;
    browser.click("#queue-add").await;
    browser.wait_count("#queue-placed li", 5).await;
    let placed = browser
        .script(
            "return [...document.querySelectorAll('#queue-placed li')].map((li) => [li.dataset.entry, li.dataset.publishAt])",
        )
        .await;
    let placed: Vec<(String, DateTime<Utc>)> = placed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_owned(),
                p[1].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    // In the order ticked (the calendar's), each on a slot, the next five from now.
    let ids: Vec<String> = placed.iter().map(|(e, _)| e.clone()).collect();
    assert_eq!(
        ids,
        entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()
    );
    let expected = next_five_slots(asked);
    let times: Vec<DateTime<Utc>> = placed.iter().map(|(_, t)| *t).collect();
    assert_eq!(times, expected);
    // Each says its time in words, in the calendar's zone.
    let first = browser.text("#queue-placed li:first-child").await;
    assert!(
        first.starts_with("Launch day goes out ") && first.ends_with("(Europe/Madrid) on TikTok"),
        "{first}"
    );
    browser.screenshot_of("added").await;
    // The grid turned to the first one's month, each where its slot is.
    browser.click("#queue-close").await;
    browser
        .wait(&format!(
            "[data-date=\"{}\"] .chip",
            expected[0].with_timezone(&Madrid).format("%Y-%m-%d")
        ))
        .await;
    browser.screenshots_at("#grid").await;
    chips_read_whole_and_the_section_opens_on_the_last_calendar(&s, &browser).await;
    // The queue the API lists is the same, in order; the entries moved there.
    let (_, listed) = s
        .app
        .get_json(s.user, &format!("/v1/queue?channelId={channel}"))
        .await;
    let listed: Vec<DateTime<Utc>> = listed["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["publishAt"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(listed, expected);
    let (_, detail) = s
        .app
        .get_json(s.user, &format!("/v1/calendars/{}", s.calendar))
        .await;
    let moved: Vec<DateTime<Utc>> = detail["data"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["scheduledAt"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(moved, expected);

    the_queue_s_cards_swap_take_out_pause_and_resume(&s, &browser, channel, &entries).await;
}

/// A new calendar offers the channels connected, ticked; a calendar opens on the month of
/// its first entry (February: a month after its first day).
async fn a_new_calendar_ticks_the_connected_and_one_opens_on_its_first_month(
    s: &Setup,
    browser: &Browser,
) {
    // A new calendar offers the channels connected, ticked.
    browser.open("#/calendar").await;
    browser.wait("#channels-connected").await;
    let ticked = browser
        .script("return [...document.querySelectorAll('#calendar-form input[name=channel]:checked')].map((b) => b.value)")
        .await;
    assert_eq!(ticked, serde_json::json!(["tiktok"]));

    browser.open(&format!("#/calendar/{}", s.calendar)).await;
    browser.wait("#grid .chip").await;
    let first = browser
        .script("return document.querySelector('#grid .cell[data-date] .chip') && document.querySelector('#grid .cell[data-date]:has(.chip)').dataset.date")
        .await;
    assert_eq!(first, "2030-02-04", "{first}");
}

/// Each chip's title reads whole (on two lines where it must), not cut short; the
/// Calendar section opens on the calendar opened last.
async fn chips_read_whole_and_the_section_opens_on_the_last_calendar(s: &Setup, browser: &Browser) {
    let cut = browser
        .script("return [...document.querySelectorAll('#grid .chip .title')].filter((e) => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1).map((e) => e.textContent)")
        .await;
    assert_eq!(cut, serde_json::json!([]));
    browser.open("#/media").await;
    browser.open("#/calendar").await;
    browser.wait("#grid .chip").await;
    assert_eq!(
        browser.script("return location.hash").await,
        format!("#/calendar/{}", s.calendar)
    );
}

/// The queue's entry ids, in order, as the API lists them.
async fn queue_order(s: &Setup, channel: Uuid) -> Vec<String> {
    let (_, listed) = s
        .app
        .get_json(s.user, &format!("/v1/queue?channelId={channel}"))
        .await;
    listed["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["entryId"].as_str().unwrap().to_owned())
        .collect()
}

/// The channel's queue as post cards: a post moved later swaps with the next, one taken
/// out leaves, a paused queue says so and sends nothing at its time, resumed it does.
async fn the_queue_s_cards_swap_take_out_pause_and_resume(
    s: &Setup,
    browser: &Browser,
    channel: Uuid,
    entries: &[Uuid],
) {
    browser.open(&format!("#/publishing/{}", s.calendar)).await;
    browser
        .click(&format!(".slots-open[data-channel-id=\"{channel}\"]"))
        .await;
    browser.wait_count("#queue-items .queue-card", 5).await;
    // Its quota, in the catalogue's words: TikTok's counts the drafts waiting in the inbox.
    browser
        .wait_text(
            "#queue-quota",
            "Quota: 0 of 5 drafts waiting in the account's TikTok inbox",
        )
        .await;
    let row = format!("#accounts .quota-note[data-channel-id=\"{channel}\"]");
    browser.wait_text(&row, "0 of 5 drafts").await;
    let card = |entry: Uuid| format!("#queue-items .queue-card[data-entry=\"{entry}\"]");
    assert!(
        browser
            .text(&format!("{} .queue-text", card(entries[0])))
            .await
            .contains("Tea note 1")
    );
    let ids: Vec<String> = entries.iter().map(Uuid::to_string).collect();
    browser
        .click(&format!("{} .queue-down", card(entries[0])))
        .await;
    browser.wait_text("#toast", "Posts swapped").await;
    browser
        .wait(&format!(
            "#queue-items .queue-card:first-child[data-entry=\"{}\"]",
            entries[1]
        ))
        .await;
    let swapped: Vec<String> = [1, 0, 2, 3, 4].iter().map(|n| ids[*n].clone()).collect();
    assert_eq!(queue_order(s, channel).await, swapped);

    browser
        .click(&format!("{} .queue-remove", card(entries[4])))
        .await;
    browser.wait_count("#queue-items .queue-card", 4).await;
    assert_eq!(queue_order(s, channel).await, swapped[..4]);

    let calls = s.fake.publishing_calls();
    browser.click("#queue-pause").await;
    browser.wait("#queue-paused").await;
    browser.wait("#queue-resume").await;
    browser.screenshot_of("queue-paused").await;
    browser.viewport(375, 800).await;
    browser.fits_a_phone().await;
    browser.viewport(1280, 900).await;
    let (first, intent) = s.first_queued(channel).await;
    assert_eq!(s.tick(&first).await.dispatched, 0);
    assert_eq!(s.fake.publishing_calls(), calls, "a paused queue sent");
    browser.click("#queue-resume").await;
    browser.wait("#queue-pause").await;
    assert_eq!(browser.count("#queue-paused").await, 0);
    assert_eq!(s.tick(&first).await.dispatched, 1);
    s.settled(&intent, "published").await;

    // One zone per person: with one chosen on the account, the queue's times are in it
    // (not the slots' nor the calendar's).
    let (status, me) = s
        .app
        .send_json(
            reqwest::Method::PATCH,
            s.user,
            "/v1/me",
            &serde_json::json!({ "displayTimezone": "America/New_York" }),
        )
        .await;
    assert_eq!(status, 200, "{me}");
    browser.open(&format!("#/publishing/{}", s.calendar)).await;
    browser.client.refresh().await.unwrap();
    browser
        .click(&format!(".slots-open[data-channel-id=\"{channel}\"]"))
        .await;
    browser.wait_count("#queue-items .queue-card", 3).await;
    let zones = browser
        .script("return [...document.querySelectorAll('#queue-items .queue-when strong')].map((e) => e.textContent.replace(/^.*\\(/, '('))")
        .await;
    assert_eq!(zones, serde_json::json!(vec!["(America/New_York)"; 3]));
}
