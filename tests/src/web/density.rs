//! The month grid at real density: a busy day shows three posts and "+N more", which opens
//! the whole day; the channel filter recounts what is left. At 1280 px and 375 px.

use super::{Browser, flows::publishing_app};
use crate::publishing::{Entry, Setup};

/// Six posts on 8 January and one on the 9th.
async fn a_busy_day_and_a_quiet_one(s: &Setup) {
    let busy = [
        (
            "instagram",
            "Morning coffee and the plan",
            "2030-01-08T07:30:00Z",
        ),
        ("tiktok", "Behind the scenes", "2030-01-08T08:00:00Z"),
        ("linkedin", "We are hiring", "2030-01-08T09:00:00Z"),
        ("instagram", "Lunch special", "2030-01-08T11:00:00Z"),
        ("tiktok", "Tutorial part two", "2030-01-08T14:00:00Z"),
        (
            "linkedin",
            "What we learned this year",
            "2030-01-08T16:00:00Z",
        ),
    ];
    for (channel, caption, at) in busy {
        s.entry(Entry {
            title: caption,
            at,
            ..Entry::on(channel, caption)
        })
        .await;
    }
    // A quiet day beside it keeps its one chip and no "more".
    s.entry(Entry {
        at: "2030-01-09T09:00:00Z",
        ..Entry::on("instagram", "Quiet day")
    })
    .await;
}

/// How many of the elements `css` selects are shown.
async fn shown(browser: &Browser, css: String) -> u64 {
    browser
        .script(&format!(
            "return [...document.querySelectorAll({})].filter((c) => c.offsetParent !== null).length",
            serde_json::to_string(&css).unwrap()
        ))
        .await
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn a_day_with_six_posts_shows_three_and_opens_the_rest() {
    let s = publishing_app().await;
    a_busy_day_and_a_quiet_one(&s).await;
    let browser = Browser::start(&s.app, "busy-day").await;
    browser.sign_in_with_token(&s.app.token(s.user)).await;
    browser.viewport(1280, 800).await;
    browser.open(&format!("#/calendar/{}", s.calendar)).await;
    let day = ".month .cell[data-date=\"2030-01-08\"]";
    browser.wait_count(&format!("{day} .chip"), 6).await;
    let shown = |css: String| shown(&browser, css);
    assert_eq!(shown(format!("{day} .chip")).await, 3);
    assert_eq!(browser.text(&format!("{day} .more")).await, "+3 more");
    let quiet = ".month .cell[data-date=\"2030-01-09\"]";
    assert_eq!(shown(format!("{quiet} .chip")).await, 1);
    assert_eq!(browser.count(&format!("{quiet} .more")).await, 0);
    // The three shown are the day's first, in time order, and nothing spills out of the day.
    let first = browser
        .script(&format!(
            "return [...document.querySelectorAll('{day} .chip')].filter((c) => c.offsetParent)
                .map((c) => c.querySelector('.title').textContent)"
        ))
        .await;
    assert_eq!(
        first,
        serde_json::json!([
            "Morning coffee and the plan",
            "Behind the scenes",
            "We are hiring"
        ])
    );
    let cut = browser
        .script(&format!(
            "const c = document.querySelector('{day}'); return c.scrollHeight > c.clientHeight"
        ))
        .await;
    assert_eq!(cut, false, "the day's content fits its cell");
    browser.screenshot_of("month").await;

    // "+3 more" opens the day: all six, each opening its entry.
    browser.click(&format!("{day} .more")).await;
    browser.wait("#day-dialog[open]").await;
    assert_eq!(browser.count("#day-dialog .chip").await, 6);
    browser.screenshot_of("day").await;
    browser.click("#day-dialog .chip:nth-child(5)").await;
    browser.wait("#entry-editor[open]").await;
    assert_eq!(
        browser.count("#day-dialog").await,
        0,
        "the day's list closed"
    );
    browser.press_escape().await;

    // Hiding LinkedIn leaves four posts that day: three and "+1 more".
    browser.click("#show-linkedin").await;
    browser.wait_text(&format!("{day} .more"), "+1 more").await;
    assert_eq!(shown(format!("{day} .chip")).await, 3);
    browser.click("#show-linkedin").await;
    browser.wait_text(&format!("{day} .more"), "+3 more").await;

    // On a phone the agenda lists every post; the month, chosen, still says "+3 more".
    browser.viewport(375, 800).await;
    browser.wait(".agenda-day").await;
    assert_eq!(
        browser
            .count(".agenda-day[data-date=\"2030-01-08\"] .chip")
            .await,
        6
    );
    browser.screenshot_of("phone-agenda").await;
    browser.fits_a_phone().await;
    browser.viewport(375, 800).await;
    browser.click("#view-month").await;
    browser.wait_text(&format!("{day} .more"), "+3").await;
    assert_eq!(shown(format!("{day} .chip")).await, 3);
    browser
        .script(&format!("document.querySelector('{day}').scrollIntoView()"))
        .await;
    browser.screenshot_of("phone-month").await;
    browser.fits_a_phone().await;
}
