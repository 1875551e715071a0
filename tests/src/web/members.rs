//! Settings -> Members (issue "A team shares a workspace"): a team workspace made, the
//! switcher in the header, someone invited who joins, their role changed, and the way back
//! to the personal workspace.

use reqwest::Method;
use uuid::Uuid;

use super::Browser;
use crate::helpers::{TestOptions, outbox::Outbox, spawn_app_with};

#[tokio::test]
async fn a_team_workspace_is_made_its_members_invited_and_given_roles_from_settings() {
    let outbox = Outbox::new();
    let mut env = outbox.env();
    env.push(("DEV_LOGIN", "true".into()));
    let app = spawn_app_with(TestOptions {
        worker: false,
        env,
        ..Default::default()
    })
    .await;
    let browser = Browser::start(&app, "members").await;
    let ana = browser.sign_in().await;
    browser.open("#/settings").await;
    browser.wait("#members-personal").await;
    assert_eq!(
        browser.count("#workspace-switcher").await,
        0,
        "one workspace: no switcher"
    );
    browser
        .fill("#new-workspace input[name=name]", "Acme social")
        .await;
    browser.click("#new-workspace button[type=submit]").await;
    browser.wait("#workspace-switcher").await;
    browser
        .wait_text("#members-section", "You are owner in Acme social")
        .await;
    browser.every_input_is_labelled().await;

    // Bea is invited as a viewer, and joins with the address it was sent to.
    browser
        .fill("#invite-form input[name=email]", "bea@example.com")
        .await;
    browser
        .set_value("#invite-form select[name=role]", "viewer")
        .await;
    browser.click("#invite-form button[type=submit]").await;
    browser.wait_text("#invitations", "bea@example.com").await;
    let token = outbox.token("bea@example.com", 1, "/app/#/join/").await;
    let bea = Uuid::now_v7();
    let bearer = app.keys.mint_with_email(bea, Some("bea@example.com"), 3600);
    let (status, joined) = app
        .request_json(
            Method::POST,
            app.url(&format!("/v1/invitations/{token}/accept")),
            Some(&bearer),
            None,
        )
        .await;
    assert_eq!(status, 200, "{joined}");

    // Back in Settings: two members; Bea made an editor.
    browser.open("#/calendar").await;
    browser.open("#/settings").await;
    browser.wait_count("#member-list .member", 2).await;
    browser
        .wait_text("#invitations", "No invitation is waiting")
        .await;
    browser
        .set_value(
            &format!("#member-list .member[data-user='{bea}'] select"),
            "editor",
        )
        .await;
    browser.wait_text("#toast", "is now editor").await;
    let role: String = sqlx::query_scalar(
        "select role from workspace_members where user_id = $1 and workspace_id <> user_id",
    )
    .bind(bea)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(role, "editor");
    browser.screenshot_of("members").await;
    browser.fits_a_phone().await;

    // The switcher takes Ana back to her personal workspace.
    browser
        .set_value("#workspace-switcher", &ana.to_string())
        .await;
    browser.wait("#members-personal").await;
}
