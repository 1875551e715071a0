//! On a phone (375 px): the header takes at most 120 px (the sections scroll sideways in one
//! row), the list of calendars comes before the calendar, and Publishing's action bar takes
//! at most 120 px.

use serde_json::Value;

use super::{Browser, flows::publishing_app};
use crate::publishing::Entry;

/// The height, in CSS pixels, of the first element `css` matches.
async fn height(browser: &Browser, css: &str) -> f64 {
    let script = format!(
        "return document.querySelector({}).getBoundingClientRect().height",
        serde_json::to_string(css).unwrap()
    );
    browser.script(&script).await.as_f64().unwrap()
}

#[tokio::test]
async fn a_phone_gets_a_short_header_the_list_first_and_a_short_action_bar() {
    let s = publishing_app().await;
    for caption in ["Our new look", "Spring sale", "Meet the team"] {
        s.entry(Entry::on("instagram", caption)).await;
    }
    let browser = Browser::start(&s.app, "phone").await;
    browser.sign_in_with_token(&s.app.token(s.user)).await;
    browser.viewport(375, 800).await;
    browser.open(&format!("#/calendar/{}", s.calendar)).await;
    browser.wait(".agenda-day").await;
    let header = height(&browser, "header.top").await;
    assert!(header <= 120.0, "the header is {header} px high");
    // Every section is one sideways scroll away, the current one in view.
    let nav = browser
        .script(
            "const nav = document.getElementById('nav'); const current = nav.querySelector('[aria-current=page]');
             const r = current.getBoundingClientRect(); const n = nav.getBoundingClientRect();
             const tops = [...nav.querySelectorAll('a')].map((a) => a.getBoundingClientRect().top);
             return { links: tops.length, rows: tops.some((t) => Math.abs(t - tops[0]) > 8) ? 2 : 1,
               shown: r.left >= n.left && r.right <= n.right }",
        )
        .await;
    assert_eq!(nav["rows"], 1, "{nav}");
    assert_eq!(nav["shown"], true, "{nav}");
    assert_eq!(nav["links"], 12, "{nav}");
    let order = browser
        .script(
            "return [document.getElementById('calendar-list').getBoundingClientRect().top,
                     document.getElementById('calendar-main').getBoundingClientRect().top]",
        )
        .await;
    let tops: Vec<f64> = order
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert!(tops[0] < tops[1], "the list comes first: {order}");
    browser.screenshot_of("calendar").await;
    browser.fits_a_phone().await;

    browser.viewport(375, 800).await;
    browser.open(&format!("#/publishing/{}", s.calendar)).await;
    browser.wait("#entries").await;
    browser.click("#nav a[href='#/usage']").await;
    browser.wait("#usage-today").await;
    let current = browser
        .script(
            "const nav = document.getElementById('nav'); const r = nav.querySelector('[aria-current=page]').getBoundingClientRect();
             return r.right <= nav.getBoundingClientRect().right",
        )
        .await;
    assert_eq!(current, true, "Usage, far right, is scrolled into view");
    browser.open(&format!("#/publishing/{}", s.calendar)).await;
    browser.wait("#entries").await;
    let bar = height(&browser, ".action-bar").await;
    assert!(bar <= 120.0, "the action bar is {bar} px high");
    let header = height(&browser, "header.top").await;
    assert!(header <= 120.0, "the header is {header} px high");
    browser
        .script("document.querySelector('.action-bar').scrollIntoView({ block: 'end' })")
        .await;
    browser.screenshot_of("publishing").await;
    browser.fits_a_phone().await;
}
