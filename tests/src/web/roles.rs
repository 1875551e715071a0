//! What a person's role in a team workspace does not let them do is turned off in the app,
//! with the reason, and never met as a refusal: an editor's view of the team's channels
//! (connecting, disconnecting and slots are an admin's), a viewer's of its calendar and
//! publishing (nothing to change; an entry still opens, reads and closes). At 1280 px and
//! 375 px.

use uuid::Uuid;

use super::{Browser, flows::publishing_app};
use crate::helpers::fake_platforms::IG_USER;
use crate::publishing::{Entry, Setup};

/// The reason a control needing `role` is turned off.
fn needs(role: &str) -> String {
    format!("Only an {role} or above can do this here.")
}

#[tokio::test]
async fn what_a_role_may_not_do_is_turned_off_with_the_reason() {
    let s = publishing_app().await;
    s.entry(Entry::on("instagram", "Our new look")).await;
    let channel = s
        .connect("instagram", IG_USER, "ig-token", None, 86_400)
        .await;
    let (eve, vic) = (Uuid::now_v7(), Uuid::now_v7());
    let acme = team_of(&s, eve, vic, channel).await;

    let browser = Browser::start(&s.app, "roles-editor").await;
    signed_in_to(&browser, &s, eve, acme).await;
    an_editor_sees_the_channels_but_may_not_manage_them(&browser).await;
    // The calendar's entries are the editor's to change.
    browser.open(&format!("#/calendar/{}", s.calendar)).await;
    browser.click(".entry").await;
    browser.wait("#entry-editor[open]").await;
    assert_eq!(browser.count("#entry-editor :disabled[title]").await, 0);
    assert_eq!(browser.count("#role-note").await, 0, "nothing held here");
    drop(browser);

    let browser = Browser::start(&s.app, "roles-viewer").await;
    signed_in_to(&browser, &s, vic, acme).await;
    browser
        .wait_text("#viewer-note", "You can read everything in Acme social")
        .await;
    a_viewer_reads_an_entry_and_changes_nothing(&browser, &s).await;
    browser.open(&format!("#/publishing/{}", s.calendar)).await;
    let dry_run = browser.wait("#dry-run").await;
    assert_eq!(
        dry_run.attr("title").await.unwrap().as_deref(),
        Some(needs("editor").as_str())
    );
    assert!(!dry_run.is_enabled().await.unwrap());
    let page = browser.page_text().await;
    assert!(
        !page.contains("ROLE_REQUIRED") && !page.contains("does not allow"),
        "{page}"
    );
}

/// A team workspace "Acme social" owned by the setup's user, with `editor` and `viewer`:
/// the setup's calendar and its connected `channel` moved into it.
pub(super) async fn team_of(s: &Setup, editor: Uuid, viewer: Uuid, channel: Uuid) -> Uuid {
    let acme = Uuid::now_v7();
    sqlx::query(
        "with w as (insert into workspaces (id, name, created_by) values ($1, 'Acme social', $2)),
              m as (insert into workspace_members (workspace_id, user_id, role)
                    values ($1, $2, 'owner'), ($1, $3, 'editor'), ($1, $4, 'viewer')),
              c as (update calendars set workspace_id = $1 where id = $5),
              e as (update calendar_entries set workspace_id = $1 where calendar_id = $5)
         update platform_accounts set workspace_id = $1 where id = $6",
    )
    .bind(acme)
    .bind(s.user)
    .bind(editor)
    .bind(viewer)
    .bind(s.calendar)
    .bind(channel)
    .execute(&s.app.db)
    .await
    .unwrap();
    acme
}

/// Signs `person` in and chooses `workspace` in the header's switcher.
pub(super) async fn signed_in_to(browser: &Browser, s: &Setup, person: Uuid, workspace: Uuid) {
    browser.sign_in_with_token(&s.app.token(person)).await;
    browser.wait("#workspace-switcher").await;
    browser
        .set_value("#workspace-switcher", &workspace.to_string())
        .await;
}

/// Publishing as an editor: the team's account is listed; connecting and disconnecting are
/// turned off with the reason, retrying its failed posts is not; the slots read but do not
/// save; one note says why.
async fn an_editor_sees_the_channels_but_may_not_manage_them(browser: &Browser) {
    browser.open("#/publishing").await;
    let account = "#accounts li[data-channel=instagram]";
    browser.wait(account).await;
    browser
        .wait_text(
            "#role-note",
            "Your role here is editor: what needs an admin is shown but turned off.",
        )
        .await;
    let disconnect = browser
        .wait(&format!("{account} button[aria-label^='Disconnect']"))
        .await;
    assert!(!disconnect.is_enabled().await.unwrap());
    assert_eq!(
        disconnect.attr("title").await.unwrap().as_deref(),
        Some(needs("admin").as_str())
    );
    assert!(
        browser
            .wait("#connect-form button#connect")
            .await
            .attr("disabled")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        browser
            .count(&format!("{account} .retry-failed:disabled"))
            .await,
        0
    );
    browser.screenshot_of("channels").await;
    browser.fits_a_phone().await;

    browser.click(&format!("{account} .slots-open")).await;
    browser.wait("#slots-dialog[open]").await;
    let save = browser.wait("#slots-save").await;
    assert!(!save.is_enabled().await.unwrap());
    assert!(
        browser
            .wait("#slots-close")
            .await
            .is_enabled()
            .await
            .unwrap()
    );
    browser.click("#slots-close").await;
    browser
        .until(
            "the slots to close",
            "return document.querySelector('#slots-dialog') === null",
            |gone| gone == true,
        )
        .await;
}

/// A viewer opens an entry: every field reads but none changes, Save and Move are turned
/// off with the reason, Close closes; the calendar's own actions are off too.
async fn a_viewer_reads_an_entry_and_changes_nothing(browser: &Browser, s: &Setup) {
    browser.open(&format!("#/calendar/{}", s.calendar)).await;
    browser.click(".entry").await;
    browser.wait("#entry-editor[open]").await;
    assert_eq!(browser.text("#entry-editor-title").await, "Entry");
    assert_eq!(browser.count("#new-calendar:not([hidden])").await, 0);
    let caption = "#entry-editor textarea[name=caption]";
    assert_eq!(browser.count(&format!("{caption}:disabled")).await, 1);
    for held in ["#entry-save", "#entry-move", "#entry-queue"] {
        let control = browser.wait(held).await;
        assert!(!control.is_enabled().await.unwrap(), "{held}");
        assert_eq!(
            control.attr("title").await.unwrap().as_deref(),
            Some(needs("editor").as_str()),
            "{held}"
        );
    }
    assert_eq!(
        browser.count("#role-note").await,
        0,
        "the banner says it for a viewer"
    );
    browser.screenshot_of("entry").await;
    browser.fits_a_phone().await;
    browser.click("#entry-close").await;
    browser
        .until(
            "the entry to close",
            "return document.querySelector('#entry-editor[open]') === null",
            |closed| closed == true,
        )
        .await;
    assert!(
        !browser
            .wait("#regenerate")
            .await
            .is_enabled()
            .await
            .unwrap()
    );
}
