//! Two people on one calendar, each in a browser: each sees the other looking (initials in
//! the calendar's header), an edit by one appears in the other's copy without a reload, an
//! entry open in one is never overwritten by the other's save (the editor says so, and
//! saving shows both versions: "Keep mine" or "Take theirs", nothing typed lost), a closed
//! tab leaves, and the workspace's activity names who did what. At 1280 px and 375 px.

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use super::{
    Browser,
    flows::publishing_app,
    roles::{signed_in_to, team_of},
};
use crate::helpers::fake_platforms::IG_USER;
use crate::publishing::{Entry, Setup};

/// The entry's saved title and caption.
async fn saved(s: &Setup, entry: Uuid) -> (String, String) {
    sqlx::query_as("select title, caption from calendar_entries where id = $1")
        .bind(entry)
        .fetch_one(&s.app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn two_people_on_one_calendar_see_each_other_and_never_overwrite_each_other() {
    let s = publishing_app().await;
    let entry = s.entry(Entry::on("instagram", "Our new look")).await;
    let channel = s
        .connect("instagram", IG_USER, "ig-token", None, 86_400)
        .await;
    let (eve, acme) = acme_with_eve(&s, channel).await;
    let (ana, eves) = Browser::pair(&s.app, ["together-ana", "together-eve"]).await;
    signed_in_to(&ana, &s, s.user, acme).await;
    signed_in_to(&eves, &s, eve, acme).await;
    let page = format!("#/calendar/{}", s.calendar);
    ana.open(&page).await;
    eves.open(&page).await;

    // Each sees the other looking.
    let eve_here = ana.wait(&format!("#presence li[data-user='{eve}']")).await;
    assert_eq!(
        eve_here.attr("title").await.unwrap().as_deref(),
        Some("Eve Martin is looking at this calendar")
    );
    assert_eq!(ana.text("#presence li [aria-hidden]").await, "EM");
    eves.wait(&format!("#presence li[data-user='{}']", s.user))
        .await;
    ana.screenshot_of("presence").await;

    // Ana opens the entry and types; Eve changes its title in her copy and saves.
    ana.click(".entry").await;
    ana.wait("#entry-editor[open]").await;
    ana.wait_text("#entry-byline", "Made by you").await;
    let caption = "#entry-editor textarea[name=caption]";
    ana.fill(caption, "Ana's caption, typed here").await;
    eves.click(".entry").await;
    eves.wait("#entry-editor[open]").await;
    eves.fill("#entry-editor input[name=title]", "Our new look, by Eve")
        .await;
    eves.click("#entry-save").await;
    eves.until(
        "Eve's save",
        "return document.querySelector('#entry-editor[open]') === null",
        |closed| closed == true,
    )
    .await;

    // Ana's copy shows Eve's change behind the dialog, and the dialog says so.
    ana.wait_text("#entry-changed", "Eve Martin changed this entry just now")
        .await;
    ana.wait_text(".entry", "by Eve").await;
    assert_eq!(
        ana.script(&format!("return document.querySelector('{caption}').value"))
            .await,
        json!("Ana's caption, typed here"),
        "what Ana typed is kept"
    );

    // Saving shows both versions; nothing is saved until Ana chooses.
    ana.click("#entry-save").await;
    ana.wait("#entry-conflict:not([hidden])").await;
    ana.wait_text(
        "#entry-conflict h3",
        "Eve Martin changed this entry while you were editing it",
    )
    .await;
    assert_eq!(
        ana.text("#entry-conflict tr[data-field=title] td.theirs")
            .await,
        "Our new look, by Eve"
    );
    assert_eq!(
        ana.text("#entry-conflict tr[data-field=caption] td.mine")
            .await,
        "Ana's caption, typed here"
    );
    assert_eq!(saved(&s, entry).await.0, "Our new look, by Eve");
    ana.screenshot_of("conflict").await;
    ana.fits_a_phone().await;

    // Keep mine: hers replaces Eve's, on purpose.
    ana.click("#entry-keep-mine").await;
    ana.until(
        "Ana's save",
        "return document.querySelector('#entry-editor[open]') === null",
        |closed| closed == true,
    )
    .await;
    assert_eq!(
        saved(&s, entry).await,
        (
            "Launch day".to_owned(),
            "Ana's caption, typed here".to_owned()
        )
    );
    eves.wait_text(".entry", "Launch day").await;

    theirs_taken(&s, &ana, entry, eve).await;

    // Eve closes her tab: Ana sees her leave.
    drop(eves);
    ana.until(
        "Eve to leave",
        "return document.querySelectorAll('#presence li').length",
        |n| n == 0,
    )
    .await;

    // The workspace's activity says who did what.
    ana.open("#/settings/activity").await;
    ana.wait_text("#activity-list", "Eve Martin edited an entry")
        .await;
    ana.wait_text("#activity-list", "Ana Lopez (you) edited an entry")
        .await;
    ana.screenshot_of("activity").await;
    ana.fits_a_phone().await;
}

/// Ana Lopez (the setup's user) and Eve Martin, an editor, in the team Acme social with
/// the calendar and its `channel`: Eve's id and the workspace's.
pub(super) async fn acme_with_eve(s: &Setup, channel: Uuid) -> (Uuid, Uuid) {
    let (eve, vic) = (Uuid::now_v7(), Uuid::now_v7());
    sqlx::query(
        "insert into users (id, email, name) values ($1, 'ana@example.com', 'Ana Lopez'),
                                                    ($2, 'eve@example.com', 'Eve Martin')",
    )
    .bind(s.user)
    .bind(eve)
    .execute(&s.app.db)
    .await
    .unwrap();
    (eve, team_of(s, eve, vic, channel).await)
}

/// Ana edits again while Eve changes the caption (by the API): Ana's save shows both, and
/// "Take theirs" puts Eve's version in the fields, saving nothing of Ana's.
async fn theirs_taken(s: &Setup, ana: &Browser, entry: Uuid, eve: Uuid) {
    ana.click(".entry").await;
    ana.wait("#entry-editor[open]").await;
    ana.fill("#entry-editor input[name=title]", "Ana's second title")
        .await;
    let path = format!("/v1/calendars/{}/entries/{entry}", s.calendar);
    let (status, answer) = s
        .app
        .send_json(
            Method::PATCH,
            eve,
            &path,
            &json!({ "caption": "Eve's caption" }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    ana.wait_text("#entry-changed", "Eve Martin changed this entry just now")
        .await;
    ana.click("#entry-save").await;
    ana.wait("#entry-conflict:not([hidden])").await;
    ana.click("#entry-take-theirs").await;
    ana.wait_text("#entry-changed", "Their version is shown")
        .await;
    assert_eq!(
        ana.script("return [document.querySelector('#entry-editor input[name=title]').value, document.querySelector('#entry-editor textarea[name=caption]').value]")
            .await,
        json!(["Launch day", "Eve's caption"])
    );
    assert_eq!(
        saved(s, entry).await,
        ("Launch day".to_owned(), "Eve's caption".to_owned())
    );
    ana.click("#entry-close").await;
    ana.until(
        "the editor to close",
        "return document.querySelector('#entry-editor[open]') === null",
        |closed| closed == true,
    )
    .await;
}
